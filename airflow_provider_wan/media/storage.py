"""Idempotent ``mediaStorage`` uploads: at most one stored copy per content and scope, without local state.

The upload's ``taskUUID`` is derived from the content's SHA-256 and a caller scope (e.g. ``dag_id/run_id``).
A retried Airflow task (or a retried HTTP POST whose answer was lost) sends the same UUID again; Runware
refuses a reused UUID with ``conflictTaskUUID`` and does not replay its answer, so the media UUID is
recovered from ``getTaskDetails`` of that task (its stored ``response.data[0].mediaUUID``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.errors import RunwareConflictError, RunwareError
from airflow_provider_wan.idempotency import media_task_uuid

if TYPE_CHECKING:
    from airflow_provider_wan.hooks.runware import RunwareHook

log = logging.getLogger(__name__)

# If an earlier upload under a derived UUID failed, its UUID is burnt; the next derivation is tried.
MAX_DERIVATIONS = 3


# The media package's public name for the derivation (it lives in idempotency.py with the other UUIDs).
deterministic_task_uuid = media_task_uuid


@dataclass(frozen=True)
class StoredMedia:
    media_uuid: str
    media_url: str | None
    task_uuid: str
    recovered: bool  # True: an earlier attempt had stored it (conflict answered, getTaskDetails used)


def _media_from_item(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    media_uuid = item.get("mediaUUID") or item.get("imageUUID")
    media_url = item.get("mediaURL") or item.get("imageURL")
    return (
        media_uuid if isinstance(media_uuid, str) and media_uuid else None,
        media_url if isinstance(media_url, str) and media_url else None,
    )


def media_from_task_details(details: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(mediaUUID, mediaURL)`` stored in a ``getTaskDetails`` item, accepting every plausible shape."""
    found = _media_from_item(details)
    if found[0]:
        return found
    response: Any = details.get("response")
    items: list[Any] = []
    if isinstance(response, Mapping):
        data = response.get("data")
        items = [data] if isinstance(data, Mapping) else list(data) if isinstance(data, list) else [response]
    elif isinstance(response, list):
        items = response
    for item in items:
        if isinstance(item, Mapping):
            found = _media_from_item(item)
            if found[0]:
                return found
    return None, None


def upload_with_task_uuid(hook: RunwareHook, media: bytes | str, *, task_uuid: str) -> StoredMedia:
    """``mediaStorage`` upload under a caller-chosen task UUID; a conflict is resolved via getTaskDetails.

    Raises :class:`RunwareConflictError` when the UUID was used by a task whose details hold no media
    (e.g. that earlier upload failed); :func:`upload_idempotent` then moves to the next derived UUID.
    """
    try:
        upload = hook.upload_media(media, task_uuid=task_uuid)
    except RunwareConflictError:
        details = hook.get_task_details(task_uuid)
        media_uuid, media_url = media_from_task_details(details)
        if media_uuid is None:
            raise RunwareConflictError(
                f"mediaStorage task {task_uuid} was used before but its details hold no mediaUUID",
                code="conflictTaskUUID",
                task_uuid=task_uuid,
                retryable=False,
            ) from None
        log.info("mediaStorage task %s had already stored media %s: reusing it", task_uuid, media_uuid)
        return StoredMedia(media_uuid, media_url, task_uuid, recovered=True)
    media_uuid, media_url = upload.media_uuid, upload.media_url
    return StoredMedia(media_uuid, media_url, task_uuid, recovered=False)


def upload_idempotent(hook: RunwareHook, media: bytes, *, content_sha256: str, scope: str) -> StoredMedia:
    """Store ``media`` once per (content, scope), across task retries and lost answers."""
    last: RunwareError | None = None
    for attempt in range(MAX_DERIVATIONS):
        task_uuid = media_task_uuid(content_sha256, scope, attempt)
        try:
            return upload_with_task_uuid(hook, media, task_uuid=task_uuid)
        except RunwareConflictError as exc:
            log.warning(
                "mediaStorage task %s is burnt (%s); trying the next derived UUID", task_uuid, exc.message
            )
            last = exc
    assert last is not None
    raise last
