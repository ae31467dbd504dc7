"""Synthesise playable output videos (moving stripes + a tone) and cache them on disk.

Codecs available in PyAV 18's bundled FFmpeg: MP4/MOV carry H.264 (libx264, ultrafast) + AAC,
WEBM carries VP8 (libvpx, realtime) + Opus. numpy is not a dependency, so frames are assembled from
precomputed byte rows.

The look (stripe density, speed and lean, colours, tone pitch) comes from a hash of the prompts and
the result's seed (:func:`content_key`), so different prompts or seeds give different files and the
same request with the same seed gives the same bytes, at the cost of the same cheap encode.

One file per (size, fps, duration, container, audio, content key). Encodes run in worker threads under
a per-key lock (one encode per key even with concurrent downloads) and a global limit of parallel
encodes; the cache keeps at most ``max_files`` files, evicting the least recently used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import struct
import tempfile
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.stream import VideoStream

from .model import FPS

CACHE_VERSION = 3
AUDIO_RATE = 48_000
_STRIPE_PERIOD = 256  # bytes; rows repeat with this period so 256 precomputed rows suffice
MAX_CACHED_FILES = 256
EVICTION_GRACE_SECONDS = 600.0  # never evict a file used this recently (it may be being served)
# Only names this module writes (any CACHE_VERSION): a user's own files in --video-cache-dir are safe.
_CACHE_GLOB = "v[0-9]*-[0-9]*x[0-9]*-[0-9]*fps-[0-9]*s-*"

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
    variant: str = ""  # content_key() of the result; "" = the look of an empty prompt without seed

    @property
    def filename(self) -> str:
        sound = "a" if self.audio else "na"
        size = f"{self.width}x{self.height}"
        look = self.variant or "base"
        return f"v{CACHE_VERSION}-{size}-{self.fps}fps-{self.duration}s-{sound}-{look}.{self.container}"


def content_key(positive_prompt: str | None, negative_prompt: str | None, seed: int | None) -> str:
    """64-bit hex digest of what decides a result's content: both prompts and the result's seed."""
    material = json.dumps([positive_prompt or "", negative_prompt or "", seed], ensure_ascii=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Look:
    """Drawing parameters derived from a content key; each costs nothing extra per frame."""

    ramp_step: int  # odd: luma ramp (i * step) % 256 keeps a period of 256 bytes
    speed: int  # stripe shift per frame, in bytes (negative = the other way)
    lean: int  # rows per one-byte shift of the stripes
    chroma: tuple[int, int]  # U and V centre values
    swing: int  # amplitude of the colour oscillation
    period: int  # frames per radian of the colour oscillation
    tone_cycles: int  # periods of the tone per audio frame: the pitch

    @classmethod
    def of(cls, variant: str) -> Look:
        d = hashlib.sha256(variant.encode()).digest()
        return cls(
            ramp_step=1 + 2 * (d[0] % 16),
            speed=(1 + d[1] % 8) * (1 if d[2] & 1 else -1),
            lean=2 + d[3] % 15,
            chroma=(48 + d[4] % 160, 48 + d[5] % 160),
            swing=10 + d[6] % 38,
            period=8 + d[7] % 32,
            tone_cycles=5 + d[8] % 16,  # about 234..937 Hz at 1024 samples / 48 kHz
        )


def scaled_spec(
    width: int, height: int, duration: int, container: str, audio: bool, scale: float, variant: str = ""
) -> RenderSpec:
    """Apply ``media_scale``: size and fps shrink by the same factor (even sizes, at least 16 px, 1 fps)."""

    def even(value: float) -> int:
        return max(16, round(value / 2) * 2)

    if scale >= 1.0:
        return RenderSpec(width, height, FPS, duration, container, audio, variant)
    return RenderSpec(
        even(width * scale),
        even(height * scale),
        max(1, round(FPS * scale)),
        duration,
        container,
        audio,
        variant,
    )


def _rows(line_size: int, look: Look) -> list[bytes]:
    """The 256 possible luma rows: a diagonal ramp shifted by one byte each."""
    ramp = bytes((i * look.ramp_step) % 256 for i in range(_STRIPE_PERIOD))
    long = ramp * (line_size // _STRIPE_PERIOD + 2)
    return [long[shift : shift + line_size] for shift in range(_STRIPE_PERIOD)]


def _video_frame(
    spec: RenderSpec, look: Look, index: int, rows: list[bytes] | None
) -> tuple[av.VideoFrame, list[bytes]]:
    frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
    luma = frame.planes[0]
    if rows is None:
        rows = _rows(luma.line_size, look)
    # Stripes move a few px per frame and lean by one step every few rows: visible, cheap motion.
    step = index * look.speed
    luma.update(b"".join(rows[(step + r // look.lean) % _STRIPE_PERIOD] for r in range(luma.height)))
    for k, plane in enumerate(frame.planes[1:]):
        value = int(look.chroma[k] + look.swing * math.sin(index / look.period + k * 2))
        plane.update(bytes([value]) * plane.buffer_size)
    frame.pts = index
    frame.time_base = Fraction(1, spec.fps)
    return frame, rows


def _tone_chunk(sample_format: str, samples: int, cycles: int) -> bytes:
    # A whole number of periods per chunk, so every chunk is identical.
    values = [0.2 * math.sin(2 * math.pi * cycles * n / samples) for n in range(samples)]
    if sample_format in ("flt", "fltp"):
        return struct.pack(f"<{samples}f", *values)
    return struct.pack(f"<{samples}h", *(int(v * 32767) for v in values))


def render(spec: RenderSpec, target: Path) -> None:
    """Encode ``spec`` to ``target`` (blocking). Writes a temp file first, then renames atomically."""
    muxer, vcodec, acodec, sample_format, frame_samples = _CONTAINERS[spec.container]
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    # bitexact: no random segment UID nor muxing date in WEBM, so equal inputs give equal bytes.
    options = {"fflags": "+bitexact"}
    if muxer in ("mp4", "mov"):
        options["movflags"] = "faststart"
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
            look = Look.of(spec.variant)
            chunk = _tone_chunk(sample_format, frame_samples, look.tone_cycles) if spec.audio else b""
            bytes_per_sample = 4 if sample_format in ("flt", "fltp") else 2
            total_frames = spec.duration * spec.fps
            total_samples = spec.duration * AUDIO_RATE
            audio_pts = 0
            rows: list[bytes] | None = None
            for index in range(total_frames):
                frame, rows = _video_frame(spec, look, index, rows)
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

    def __init__(self, directory: Path, max_parallel: int = 2, max_files: int = MAX_CACHED_FILES) -> None:
        self.directory = directory
        self.max_files = max_files
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
        if _touch(target):
            return target
        slots = self._bind_loop()
        lock = self._locks.setdefault(spec, asyncio.Lock())
        async with lock:
            if _touch(target):  # encoded while we waited
                return target
            async with slots:
                await asyncio.to_thread(render, spec, target)
                self.encodes += 1
            self._locks.pop(spec, None)  # the file exists now: the lock is no longer needed
        await asyncio.to_thread(self.evict)
        return target

    def evict(self) -> int:
        """Delete the least recently used encodes beyond ``max_files`` (never one used within the grace
        period, which may be being served). Returns how many were deleted."""
        files: list[tuple[float, Path]] = []
        for path in self.directory.glob(_CACHE_GLOB):
            with contextlib.suppress(OSError):
                files.append((path.stat().st_mtime, path))
        excess = len(files) - self.max_files
        if excess <= 0:
            return 0
        cutoff = time.time() - EVICTION_GRACE_SECONDS
        deleted = 0
        for mtime, path in sorted(files)[:excess]:
            if mtime < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted


def _touch(path: Path) -> bool:
    """True when ``path`` exists; its mtime then marks it recently used (LRU eviction)."""
    try:
        os.utime(path)
    except OSError:
        return False
    return True
