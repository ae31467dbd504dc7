"""Recognise media by magic bytes and read image dimensions from headers (pure, no decoding).

The emulator only needs to know *what* a medium is (to reject e.g. an MP3 given as an image) and
an image's aspect ratio (frameImages requests take the output aspect from the first frame image).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "video", "audio"]

#: How many leading bytes callers should hand to ``sniff``/``image_size`` (JPEG SOF can sit behind
#: large EXIF segments, so be generous).
HEAD_BYTES = 512 * 1024


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    format: str  # png | jpeg | webp | mp4 | mov | webm | mp3 | wav | flac
    mime: str
    ext: str


_PNG = MediaInfo("image", "png", "image/png", "png")
_JPEG = MediaInfo("image", "jpeg", "image/jpeg", "jpg")
_WEBP = MediaInfo("image", "webp", "image/webp", "webp")
_MP4 = MediaInfo("video", "mp4", "video/mp4", "mp4")
_MOV = MediaInfo("video", "mov", "video/quicktime", "mov")
_WEBM = MediaInfo("video", "webm", "video/webm", "webm")
_MP3 = MediaInfo("audio", "mp3", "audio/mpeg", "mp3")
_WAV = MediaInfo("audio", "wav", "audio/wav", "wav")
_FLAC = MediaInfo("audio", "flac", "audio/flac", "flac")

ALLOWED_FORMATS: dict[MediaKind, tuple[str, ...]] = {
    "image": ("png", "jpeg", "webp"),
    "video": ("mp4", "mov", "webm"),
    "audio": ("mp3", "wav", "flac"),
}

_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> MediaInfo | None:
    """Identify a medium from its first bytes; None when it is none of the supported formats."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if len(head) >= 12 and head[:4] == b"RIFF":
        if head[8:12] == b"WEBP":
            return _WEBP
        if head[8:12] == b"WAVE":
            return _WAV
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _MOV if head[8:12] == b"qt  " else _MP4
    if len(head) >= 8 and head[4:8] in _QT_ATOMS:
        return _MOV
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _WEBM  # EBML: WebM or Matroska, both carry video for our purposes
    if head.startswith(b"fLaC"):
        return _FLAC
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return _MP3
    return None


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/JPEG/WEBP from its header bytes, or None if not determinable."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return _positive(width, height)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
    except (struct.error, IndexError):
        return None
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    for _ in range(10_000):  # bounded walk over segments
        while pos < len(data) and data[pos] != 0xFF:
            pos += 1
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            return None
        marker = data[pos]
        pos += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # standalone markers have no length
        if marker == 0xD9:
            return None
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return _positive(width, height)
        pos += length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Lossy: 10-byte frame header after the chunk header, then 14-bit width/height.
        width, height = struct.unpack("<HH", data[26:30])
        return _positive(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _positive(width, height)
    return None
