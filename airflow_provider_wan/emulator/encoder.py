"""Synthesise playable output videos (moving stripes + a tone) and cache them on disk.

Codecs available in PyAV 18's bundled FFmpeg: MP4/MOV carry H.264 (libx264, ultrafast) + AAC,
WEBM carries VP8 (libvpx, realtime) + Opus. numpy is not a dependency, so frames are assembled from
precomputed byte rows.

One file per (size, fps, duration, container, audio): the content does not depend on the prompt,
so every identical request shares it. Encodes run in worker threads under a per-key lock (one
encode per key even with concurrent downloads) and a global limit of parallel encodes.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
import tempfile
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.stream import VideoStream

from .model import FPS

CACHE_VERSION = 1
AUDIO_RATE = 48_000
TONE_HZ = 440.0
_STRIPE_PERIOD = 256  # bytes; rows repeat with this period so 256 precomputed rows suffice

#: container -> (PyAV format, video codec, audio codec, audio sample format, samples per frame)
_CONTAINERS: dict[str, tuple[str, str, str, str, int]] = {
    "mp4": ("mp4", "libx264", "aac", "fltp", 1024),
    "mov": ("mov", "libx264", "aac", "fltp", 1024),
    "webm": ("webm", "libvpx", "libopus", "flt", 960),
}


@dataclass(frozen=True)
class RenderSpec:
    width: int
    height: int
    fps: int
    duration: int
    container: str  # mp4 | webm | mov
    audio: bool

    @property
    def filename(self) -> str:
        sound = "a" if self.audio else "na"
        size = f"{self.width}x{self.height}"
        return f"v{CACHE_VERSION}-{size}-{self.fps}fps-{self.duration}s-{sound}.{self.container}"


def scaled_spec(
    width: int, height: int, duration: int, container: str, audio: bool, scale: float
) -> RenderSpec:
    """Apply ``media_scale``: size and fps shrink by the same factor (even sizes, at least 16 px, 1 fps)."""

    def even(value: float) -> int:
        return max(16, round(value / 2) * 2)

    if scale >= 1.0:
        return RenderSpec(width, height, FPS, duration, container, audio)
    return RenderSpec(
        even(width * scale), even(height * scale), max(1, round(FPS * scale)), duration, container, audio
    )


def _rows(line_size: int) -> list[bytes]:
    """The 256 possible luma rows: a diagonal ramp shifted by one byte each."""
    ramp = bytes((i * 3) % 256 for i in range(_STRIPE_PERIOD))
    long = ramp * (line_size // _STRIPE_PERIOD + 2)
    return [long[shift : shift + line_size] for shift in range(_STRIPE_PERIOD)]


def _video_frame(spec: RenderSpec, index: int, rows: list[bytes] | None) -> tuple[av.VideoFrame, list[bytes]]:
    frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
    luma = frame.planes[0]
    if rows is None:
        rows = _rows(luma.line_size)
    # Stripes move 4 px per frame and lean by one step every 8 rows: visible, cheap motion.
    step = index * 4
    luma.update(b"".join(rows[(step + r // 8) % _STRIPE_PERIOD] for r in range(luma.height)))
    for k, plane in enumerate(frame.planes[1:]):
        value = int(128 + 60 * math.sin(index / 15 + k * 2))
        plane.update(bytes([value]) * plane.buffer_size)
    frame.pts = index
    frame.time_base = Fraction(1, spec.fps)
    return frame, rows


def _tone_chunk(sample_format: str, samples: int) -> bytes:
    # Pick a frequency with a whole number of periods per chunk so every chunk is identical.
    cycles = max(1, round(TONE_HZ * samples / AUDIO_RATE))
    values = [0.2 * math.sin(2 * math.pi * cycles * n / samples) for n in range(samples)]
    if sample_format in ("flt", "fltp"):
        return struct.pack(f"<{samples}f", *values)
    return struct.pack(f"<{samples}h", *(int(v * 32767) for v in values))


def render(spec: RenderSpec, target: Path) -> None:
    """Encode ``spec`` to ``target`` (blocking). Writes a temp file first, then renames atomically."""
    muxer, vcodec, acodec, sample_format, frame_samples = _CONTAINERS[spec.container]
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    options = {"movflags": "faststart"} if muxer in ("mp4", "mov") else {}
    try:
        with av.open(str(partial), "w", format=muxer, options=options) as container:
            video = container.add_stream(vcodec, rate=spec.fps)
            assert isinstance(video, VideoStream)
            video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
            video.codec_context.thread_count = 2
            if vcodec == "libx264":
                video.options = {"preset": "ultrafast", "crf": "30"}
            else:
                video.options = {"deadline": "realtime", "cpu-used": "8", "b": "800k"}
            audio: Any = None
            if spec.audio:
                audio = container.add_stream(acodec, rate=AUDIO_RATE)
                audio.layout = "mono"
                audio.format = sample_format
            chunk = _tone_chunk(sample_format, frame_samples) if spec.audio else b""
            bytes_per_sample = 4 if sample_format in ("flt", "fltp") else 2
            total_frames = spec.duration * spec.fps
            total_samples = spec.duration * AUDIO_RATE
            audio_pts = 0
            rows: list[bytes] | None = None
            for index in range(total_frames):
                frame, rows = _video_frame(spec, index, rows)
                container.mux(video.encode(frame))
                # Interleave: audio up to the end of this video frame.
                audio_until = min(total_samples, (index + 1) * AUDIO_RATE // spec.fps)
                while audio is not None and audio_pts < audio_until:
                    count = min(frame_samples, total_samples - audio_pts)
                    samples = av.AudioFrame(format=sample_format, layout="mono", samples=count)
                    data = chunk[: count * bytes_per_sample]
                    plane = samples.planes[0]
                    plane.update(data + b"\0" * (plane.buffer_size - len(data)))
                    samples.sample_rate = AUDIO_RATE
                    samples.pts = audio_pts
                    samples.time_base = Fraction(1, AUDIO_RATE)
                    container.mux(audio.encode(samples))
                    audio_pts += count
            container.mux(video.encode(None))
            if audio is not None:
                container.mux(audio.encode(None))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def default_cache_dir() -> Path:
    """Shared across emulator instances and runs: encodes are deterministic, so reuse is safe."""
    owner = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"runware-emulator-video-cache-{owner}"


class VideoCache:
    """Encoded outputs on disk, produced lazily and at most once per key per process."""

    def __init__(self, directory: Path, max_parallel: int = 2) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._locks: dict[RenderSpec, asyncio.Lock] = {}
        self._max_parallel = max_parallel
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.encodes = 0  # how many encodes this process ran (observable in the ledger)

    def _bind_loop(self) -> asyncio.Semaphore:
        # asyncio primitives belong to one loop; in-process tests may drive the app from several.
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            self._loop = loop
            self._locks = {}
            self._slots = asyncio.Semaphore(self._max_parallel)
        return self._slots

    async def get(self, spec: RenderSpec) -> Path:
        target = self.directory / spec.filename
        if target.exists():
            return target
        slots = self._bind_loop()
        lock = self._locks.setdefault(spec, asyncio.Lock())
        async with lock:
            if target.exists():  # encoded while we waited
                return target
            async with slots:
                await asyncio.to_thread(render, spec, target)
                self.encodes += 1
        return target
