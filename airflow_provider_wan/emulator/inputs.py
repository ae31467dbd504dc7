"""The media inputs of a videoInference task: resolved and checked at submission, and the ones its videos
show (frame images, reference images, the reference video, the audio) kept for the encode.

Kept inputs are content-addressed copies in the instance's media dir: the encode may run much later
(at the first download), after a mediaStorage delete or the expiry of a fetched URL, and a file named by
its hash makes the same input give the same video (the hash is part of the encode's cache key).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ErrorDict, make_error
from .jobs import KeptInputs
from .media import LoadedMedia, MediaLoader, MediaProblem, probe_duration
from .sniff import MediaKind
from .validation import frame_positions, present

MAX_THUMBNAILS = 4  # reference images shown on the card; more would not fit


class InputStore:
    """Content-addressed copies of the inputs that videos show; cleared with the jobs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def keep(self, media: LoadedMedia) -> Path:
        """A path named by the content's SHA-256 (blocking: run in a worker thread). Consumes a
        temporary (fetched) file; a stored upload is linked or copied, inline bytes are written."""
        digest = hashlib.sha256()
        if media.data is not None:
            digest.update(media.data)
        else:
            assert media.path is not None
            with media.path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        target = self.directory / f"{digest.hexdigest()[:32]}.{media.info.ext}"
        if target.exists():
            media.discard()
        elif media.data is not None:
            _write_atomically(target, lambda part: part.write_bytes(media.data or b""))
        elif media.temporary:
            assert media.path is not None
            os.replace(media.path, target)
        else:
            assert media.path is not None
            source = media.path
            _write_atomically(target, lambda part: _link_or_copy(source, part))
        return target

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)


def _write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Concurrent keeps of the same content each write their own part; the last rename wins (equal bytes)."""
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        write(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # same filesystem (both under the media dir): no copy
    except OSError:
        shutil.copyfile(source, target)


@dataclass
class MediaFacts:
    """What the submit handler needs from the inputs: aspect, billed input seconds, what to show."""

    first_frame_size: tuple[int, int] | None = None
    input_video_seconds: float = 0.0
    shown: dict[str, Any] = field(default_factory=dict)  # KeptInputs fields

    def kept(self) -> KeptInputs | None:
        return KeptInputs(**self.shown) if self.shown else None


async def _load(
    loader: MediaLoader, ref: str, parameter: str, kind: MediaKind, allow_inline: bool
) -> LoadedMedia | ErrorDict:
    try:
        return await loader.load(ref, kind=kind, allow_inline=allow_inline)
    except MediaProblem as problem:
        return make_error(
            problem.code,
            problem.message,
            parameter=parameter,
            type_="string",
            allowed_values=problem.allowed_values,
        )


async def inspect_media(
    loader: MediaLoader, store: InputStore, task: dict[str, Any]
) -> MediaFacts | ErrorDict:
    """Every media input must resolve and be of the right kind; gather aspect and input seconds, and
    keep what the videos show."""
    inputs: dict[str, Any] = task.get("inputs") or {}
    facts = MediaFacts()

    async def keep(media: LoadedMedia) -> Path:
        return await asyncio.to_thread(store.keep, media)

    references: list[Path] = []
    for index, ref in enumerate(inputs.get("referenceImages") or []):
        loaded = await _load(loader, ref, f"inputs.referenceImages[{index}]", "image", True)
        if isinstance(loaded, dict):
            return loaded
        if index < MAX_THUMBNAILS:
            references.append(await keep(loaded))
        loaded.discard()
    if references:
        facts.shown["reference_images"] = tuple(references)
    frames = inputs.get("frameImages") or []
    positions = frame_positions(frames) if frames else []
    for index, (item, position) in enumerate(zip(frames, positions, strict=True)):
        loaded = await _load(loader, item["image"], f"inputs.frameImages[{index}].image", "image", True)
        if isinstance(loaded, dict):
            return loaded
        if index == 0:
            facts.first_frame_size = loaded.image_size()
        facts.shown[f"{position}_image"] = await keep(loaded)
        loaded.discard()
    for index, ref in enumerate(inputs.get("referenceVideos") or []):
        parameter = f"inputs.referenceVideos[{index}]"
        loaded = await _load(loader, ref, parameter, "video", False)
        if isinstance(loaded, dict):
            return loaded
        assert loaded.path is not None  # videos are never inline
        seconds = await asyncio.to_thread(probe_duration, loaded.path)
        if seconds is None:
            loaded.discard()
            return make_error(
                "unsupportedMediaFormat",
                "Could not read the duration of the reference video.",
                parameter=parameter,
            )
        facts.input_video_seconds += seconds
        # The last reference video is the clip a continuation continues.
        facts.shown["reference_video"] = await keep(loaded)
        loaded.discard()
    if present(inputs, "audio"):
        loaded = await _load(loader, inputs["audio"], "inputs.audio", "audio", False)
        if isinstance(loaded, dict):
            return loaded
        facts.shown["audio"] = await keep(loaded)
        loaded.discard()
    return facts
