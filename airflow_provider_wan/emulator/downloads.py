"""Serving files: single byte ranges, HEAD, and the optional MP4 padding.

Padding (knob ``pad_bytes``) appends one top-level ``free`` box after the real MP4 so a benchmark
can download a file of any size that still plays: ISO-BMFF readers skip ``free`` boxes. The box is
produced on the fly (header + zeros) and streamed in chunks, never built in memory.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

CHUNK = 1024 * 1024
_ZEROS = bytes(CHUNK)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteSource:
    """A file, optionally followed by a virtual ``free`` box (header + zero bytes)."""

    path: Path
    file_size: int
    pad_header: bytes = b""
    pad_zeros: int = 0

    @property
    def size(self) -> int:
        return self.file_size + len(self.pad_header) + self.pad_zeros

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive, in chunks of at most CHUNK."""
        position = start
        file_end = min(end, self.file_size - 1)
        if position <= file_end:
            with self.path.open("rb") as handle:
                handle.seek(position)
                while position <= file_end:
                    block = handle.read(min(CHUNK, file_end - position + 1))
                    if not block:
                        raise OSError(f"{self.path} shrank while being served")
                    position += len(block)
                    yield block
        header_end = self.file_size + len(self.pad_header)
        if position <= end and position < header_end:
            piece = self.pad_header[position - self.file_size : min(end + 1, header_end) - self.file_size]
            position += len(piece)
            yield piece
        while position <= end:
            count = min(CHUNK, end - position + 1)
            yield _ZEROS if count == CHUNK else _ZEROS[:count]
            position += count


def padded_source(path: Path, pad_to: int) -> ByteSource:
    """``path`` padded with a ``free`` box so the total is at least ``pad_to`` bytes."""
    size = path.stat().st_size
    missing = pad_to - size
    if missing <= 0:
        return ByteSource(path, size)
    total = max(missing, 8)
    if total <= 0xFFFFFFFF:
        header = struct.pack(">I4s", total, b"free")
    else:  # 64-bit "largesize" box: size field 1, then the real size
        total = max(total, 16)
        header = struct.pack(">I4sQ", 1, b"free", total)
    return ByteSource(path, size, header, total - len(header))


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(start, end) for one satisfiable range; None = serve everything; False = unsatisfiable.

    Multi-range requests are answered with the whole body (allowed by RFC 9110).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return False
    return start, min(end, size - 1)


def serve(
    request: Request,
    source: ByteSource,
    media_type: str,
    extra_headers: dict[str, str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Response:
    """200/206/416 answer for GET or HEAD, streaming from ``source``."""
    size = source.size
    headers = {"accept-ranges": "bytes", **(extra_headers or {})}
    wanted = parse_range(request.headers.get("range"), size)
    if wanted is False:
        headers["content-range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    status = 200
    start, end = 0, size - 1
    if isinstance(wanted, tuple):
        start, end = wanted
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1 if size else 0
    headers["content-length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    if on_bytes is not None:
        on_bytes(length)
    # A sync iterator: Starlette pulls each chunk in a worker thread, so file reads never block the loop.
    body = source.iter_range(start, end) if length else iter(())
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media_type)
