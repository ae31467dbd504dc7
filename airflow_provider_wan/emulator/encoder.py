"""Encode the emulated videos (a test card, see :mod:`.card`, + the input audio or a tone) and cache them.

Codecs available in PyAV 18's bundled FFmpeg: MP4/MOV carry H.264 (libx264, ultrafast) + AAC,
WEBM carries VP8 (libvpx, realtime) + Opus. numpy is not a dependency: frames are packed byte planes.

The card shows the request (prompt, model, task UUID, seed, size, duration) and its input media; its
background tint and the tone's pitch come from a hash of all of it (:meth:`Card.key`), so the same
request with the same seed and the same input media gives the same bytes, and anything else a new file.

One file per (size, fps, duration, container, audio, card key). Encodes run in worker threads under
a per-key lock (one encode per key even with concurrent downloads) and a global limit of parallel
encodes; the cache keeps at most ``max_files`` files, evicting the least recently used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import struct
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.stream import VideoStream

from .card import Card, draw_frames
from .model import FPS

CACHE_VERSION = 4
AUDIO_RATE = 48_000
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
    variant: str = ""  # card.key(); "" = the look of an empty card
    card: Card = field(default_factory=Card)

    @property
    def filename(self) -> str:
        sound = "a" if self.audio else "na"
        size = f"{self.width}x{self.height}"
        look = self.variant or "base"
        return f"v{CACHE_VERSION}-{size}-{self.fps}fps-{self.duration}s-{sound}-{look}.{self.container}"


@dataclass(frozen=True)
class Look:
    """What a card key decides besides the text: the background tint and the tone's pitch."""

    tint: tuple[int, int, int]  # dark, so that light text stays readable
    tone_cycles: int  # periods of the tone per audio frame: the pitch

    @classmethod
    def of(cls, variant: str) -> Look:
        d = hashlib.sha256(variant.encode()).digest()
        return cls(
            tint=(16 + d[0] % 56, 16 + d[1] % 56, 16 + d[2] % 56),
            tone_cycles=5 + d[3] % 16,  # about 234..937 Hz at 1024 samples / 48 kHz
        )


def scaled_spec(
    width: int,
    height: int,
    duration: int,
    container: str,
    audio: bool,
    scale: float,
    card: Card | None = None,
) -> RenderSpec:
    """Apply ``media_scale``: size and fps shrink by the same factor (even sizes, at least 16 px, 1 fps)."""

    def even(value: float) -> int:
        return max(16, round(value / 2) * 2)

    card = card or Card()
    variant = card.key() if card != Card() else ""
    if scale >= 1.0:
        return RenderSpec(width, height, FPS, duration, container, audio, variant, card)
    return RenderSpec(
        even(width * scale),
        even(height * scale),
        max(1, round(FPS * scale)),
        duration,
        container,
        audio,
        variant,
        card,
    )


def _video_frame(spec: RenderSpec, planes: tuple[bytes | bytearray, ...], index: int) -> av.VideoFrame:
    frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        if plane.line_size == plane.width:
            plane.update(data)  # type: ignore[arg-type]  # any buffer will do (PyAV's stub says bytes)
        else:  # rows are packed at the plane width; FFmpeg's lines may be padded
            pad = bytes(plane.line_size - plane.width)
            rows = (data[r * plane.width : (r + 1) * plane.width] for r in range(plane.height))
            plane.update(b"".join(bytes(row) + pad for row in rows))
    frame.pts = index
    frame.time_base = Fraction(1, spec.fps)
    return frame


def _bytes_per_sample(sample_format: str) -> int:
    return 4 if sample_format in ("flt", "fltp") else 2


def _tone(sample_format: str, samples: int, cycles: int, total: int) -> bytes:
    # A whole number of periods per chunk of ``samples``, so the track is one chunk repeated.
    values = [0.2 * math.sin(2 * math.pi * cycles * n / samples) for n in range(samples)]
    if sample_format in ("flt", "fltp"):
        chunk = struct.pack(f"<{samples}f", *values)
    else:
        chunk = struct.pack(f"<{samples}h", *(int(v * 32767) for v in values))
    return (chunk * (total // samples + 1))[: total * _bytes_per_sample(sample_format)]


def input_audio(path: Path, sample_format: str, total: int) -> bytes:
    """The input audio as ``total`` mono samples at AUDIO_RATE: trimmed, or padded with silence (also
    what an undecodable file gives: it was sniffed as audio, the video is still made)."""
    size = total * _bytes_per_sample(sample_format)
    out = bytearray()
    resampler = av.AudioResampler(format=sample_format, layout="mono", rate=AUDIO_RATE)
    unreadable = (av.FFmpegError, OSError, ValueError, IndexError)
    width = _bytes_per_sample(sample_format)
    with contextlib.suppress(*unreadable), av.open(str(path)) as container:
        for decoded in container.decode(audio=0):
            for chunk in resampler.resample(decoded):
                out += bytes(chunk.planes[0])[: chunk.samples * width]
            if len(out) >= size:
                break
        else:
            for chunk in resampler.resample(None):
                out += bytes(chunk.planes[0])[: chunk.samples * width]
    return bytes(out[:size]).ljust(size, b"\0")


def _audio_track(spec: RenderSpec, sample_format: str, frame_samples: int, look: Look) -> bytes:
    total = spec.duration * AUDIO_RATE
    if spec.card.inputs.audio is not None:
        return input_audio(spec.card.inputs.audio, sample_format, total)
    return _tone(sample_format, frame_samples, look.tone_cycles, total)


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
            if vcodec == "libx264":
                video.codec_context.thread_count = 2
                video.options = {"preset": "ultrafast", "crf": "30"}
            else:
                # Negative cpu-used = a fixed speed: a positive one lets realtime VP8 pick its speed from
                # the time frames take, so a busy machine gave other bytes. One thread: libvpx's threads
                # spin-wait for each other, which a loaded machine turns into minutes.
                video.codec_context.thread_count = 1
                video.options = {"deadline": "realtime", "cpu-used": "-8", "b": "800k"}
            audio: Any = None
            if spec.audio:
                audio = container.add_stream(acodec, rate=AUDIO_RATE)
                audio.layout = "mono"
                audio.format = sample_format
            look = Look.of(spec.variant)
            track = _audio_track(spec, sample_format, frame_samples, look) if spec.audio else b""
            bytes_per_sample = _bytes_per_sample(sample_format)
            total_frames = spec.duration * spec.fps
            total_samples = spec.duration * AUDIO_RATE
            audio_pts = 0
            pictures = draw_frames(spec.card, spec.width, spec.height, spec.fps, look.tint)
            for index in range(total_frames):
                planes = pictures.frame(index, total_frames, spec.width, spec.height)
                container.mux(video.encode(_video_frame(spec, planes, index)))
                # Interleave: audio up to the end of this video frame.
                audio_until = min(total_samples, (index + 1) * AUDIO_RATE // spec.fps)
                while audio is not None and audio_pts < audio_until:
                    count = min(frame_samples, total_samples - audio_pts)
                    samples = av.AudioFrame(format=sample_format, layout="mono", samples=count)
                    data = track[audio_pts * bytes_per_sample : (audio_pts + count) * bytes_per_sample]
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
