"""Accepted tasks that are not videoInference jobs (``mediaStorage`` uploads and deletes), and the
registry of used taskUUIDs shared by every task type.

Runware's taskUUID is unique per task whatever its type: a reused one is refused with
``conflictTaskUUID`` and the earlier answer is not replayed; ``getTaskDetails`` recovers it. So every
accepted task leaves a small record: the task as accepted (large inline media trimmed, see
:func:`trimmed_request`) and the data items it was answered with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import is_http_url, is_uuid

# Inline media (data URI or plain base64) longer than this is not kept in a stored request: the bytes
# already live in the media store (mediaStorage) or were only needed at submission (videoInference).
MAX_STORED_INLINE_CHARS = 1024
KEPT_PREFIX_CHARS = 48


def trim_inline(value: Any) -> Any:
    """``value`` unchanged unless it is a long inline payload; then its first characters and a note."""
    if not isinstance(value, str) or len(value) <= MAX_STORED_INLINE_CHARS:
        return value
    if is_uuid(value) or is_http_url(value):
        return value
    header, sep, _ = value.partition(",")
    keep = f"{header}{sep}" if value.startswith("data:") and sep else ""
    keep += value[len(keep) : len(keep) + KEPT_PREFIX_CHARS]
    return f"{keep}...[{len(value) - len(keep)} characters omitted]"


def trimmed_request(task: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``task`` fit for keeping: inline media payloads (``media``, ``inputs.referenceImages``,
    ``inputs.frameImages[].image``) over MAX_STORED_INLINE_CHARS are cut; everything else is as sent."""
    kept = dict(task)
    if "media" in kept:
        kept["media"] = trim_inline(kept["media"])
    inputs = kept.get("inputs")
    if isinstance(inputs, dict):
        inputs = dict(inputs)
        images = inputs.get("referenceImages")
        if isinstance(images, list):
            inputs["referenceImages"] = [trim_inline(ref) for ref in images]
        frames = inputs.get("frameImages")
        if isinstance(frames, list):
            inputs["frameImages"] = [
                {**frame, "image": trim_inline(frame["image"])}
                if isinstance(frame, dict) and "image" in frame
                else frame
                for frame in frames
            ]
        kept["inputs"] = inputs
    return kept


@dataclass(slots=True)
class TaskRecord:
    """One accepted non-video task: what was asked (trimmed) and what was answered."""

    task_uuid: str
    task_type: str
    created_at: float
    request: dict[str, Any]
    data: list[dict[str, Any]]


class TaskRecords:
    """Records of accepted non-video tasks, plus taskUUIDs reserved by tasks still being handled.

    A reservation closes the window in which two concurrent requests carrying the same taskUUID
    could both be accepted while the first one is still fetching its media. Keys are lower-cased.
    """

    def __init__(self) -> None:
        self.records: dict[str, TaskRecord] = {}
        self._reserved: set[str] = set()

    def add(self, record: TaskRecord) -> None:
        self.records[record.task_uuid.lower()] = record

    def get(self, task_uuid: str) -> TaskRecord | None:
        return self.records.get(task_uuid.lower())

    def is_reserved(self, task_uuid: str) -> bool:
        return task_uuid.lower() in self._reserved

    def reserve(self, task_uuid: str) -> None:
        self._reserved.add(task_uuid.lower())

    def release(self, task_uuid: str) -> None:
        self._reserved.discard(task_uuid.lower())

    def clear(self) -> None:
        self.records.clear()
        self._reserved.clear()

    def __len__(self) -> int:
        return len(self.records)
