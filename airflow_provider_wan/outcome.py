"""The shared completion policy and the XCom contract, used by the operator, the trigger and the sensor.

Three steps, each in one place:

1. :func:`event_from_state` — is a task finished? Turns a polled :class:`TaskState` into a terminal event
   (plain JSON, the same shape the trigger yields) or ``None`` while it is still running.
2. :func:`validate_event` — rejects ``None``, non-dicts and unknown statuses loudly (a malformed event must
   never pass as success).
3. :func:`result_from_event` — applies the user's policies (partial results, NSFW) and either returns the
   XCom value (:func:`build_xcom`) or raises the Runware error with its code, message and task UUID.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from airflow_provider_wan.errors import RunwareError, RunwareSafetyError, RunwareTimeoutError
from airflow_provider_wan.responses import TaskState, VideoResult

MODEL_ID = "alibaba:wan@2.7"
EventStatus = Literal["success", "error", "timeout"]
EVENT_STATUSES: frozenset[str] = frozenset({"success", "error", "timeout"})

# Unknown tasks right after a submit can be propagation delay; after this long they are gone.
NOT_FOUND_GRACE_SECONDS = 60.0


def dedupe_videos(videos: Sequence[VideoResult]) -> list[VideoResult]:
    seen: set[str] = set()
    unique: list[VideoResult] = []
    for video in videos:
        if video.video_uuid not in seen:
            seen.add(video.video_uuid)
            unique.append(video)
    return unique


def total_cost(videos: Sequence[Mapping[str, Any]]) -> float | None:
    costs = [v.get("cost") for v in videos]
    known = [float(c) for c in costs if isinstance(c, (int, float))]
    return round(sum(known), 6) if known else None


def make_event(
    status: EventStatus,
    task_uuid: str,
    *,
    videos: Sequence[Mapping[str, Any]] = (),
    error: RunwareError | None = None,
    message: str = "",
    expected_results: int = 1,
) -> dict[str, Any]:
    """The one terminal event shape (plain JSON) for trigger, sensor and synchronous waits."""
    return {
        "status": status,
        "task_uuid": task_uuid,
        "videos": [dict(v) for v in videos],
        "cost": total_cost(videos),
        "expected_results": expected_results,
        "error": error.to_dict() if error is not None else None,
        "message": message or (str(error) if error is not None else f"{len(videos)} video(s) ready"),
    }


def event_from_state(
    task_uuid: str, state: TaskState | None, *, expected_results: int, seconds_since_submit: float
) -> dict[str, Any] | None:
    """A terminal event once the task is finished, else ``None`` (still running)."""
    if state is None:
        return None
    status = state.status(expected_results)
    if status == "running":
        return None
    videos = [v.to_dict() for v in dedupe_videos(state.results)]
    if status == "success":
        return make_event("success", task_uuid, videos=videos, expected_results=expected_results)
    error = state.errors[0]
    if error.category == "not_found" and not videos and seconds_since_submit < NOT_FOUND_GRACE_SECONDS:
        return None
    return make_event("error", task_uuid, videos=videos, error=error, expected_results=expected_results)


def timeout_event(task_uuid: str, waited_seconds: float, expected_results: int = 1) -> dict[str, Any]:
    error = RunwareTimeoutError(
        f"Gave up waiting after {waited_seconds:.0f}s. Runware has no cancel API: the task keeps running "
        "and is billed; a retry of this Airflow task re-attaches to it instead of paying again.",
        code="waitTimeout",
        task_uuid=task_uuid,
    )
    return make_event("timeout", task_uuid, error=error, expected_results=expected_results)


def validate_event(event: Any) -> dict[str, Any]:
    """Reject what must never pass as success: ``None``, non-dicts, unknown statuses, missing ids."""
    if event is None:
        raise RunwareError(
            "Trigger returned no event (None); refusing to treat it as success", code="badEvent"
        )
    if not isinstance(event, Mapping):
        raise RunwareError(f"Trigger event is a {type(event).__name__}, not a dict", code="badEvent")
    status = event.get("status")
    if status not in EVENT_STATUSES:
        raise RunwareError(f"Trigger event has unknown status {status!r}", code="badEvent")
    if not isinstance(event.get("task_uuid"), str) or not event["task_uuid"]:
        raise RunwareError("Trigger event has no task_uuid", code="badEvent")
    videos = event.get("videos") or []
    if not isinstance(videos, list) or not all(isinstance(v, Mapping) for v in videos):
        raise RunwareError(
            "Trigger event has malformed videos", code="badEvent", task_uuid=event["task_uuid"]
        )
    return dict(event)


def build_xcom(
    *,
    task_uuid: str,
    status: str,
    videos: Sequence[Mapping[str, Any]],
    estimated_cost: float | None,
    model: str = MODEL_ID,
    **extra: Any,
) -> dict[str, Any]:
    """The XCom contract (``return_value``). Later features extend it; never rename a key."""
    video_list = [dict(v) for v in videos]
    urls = [v.get("video_url") for v in video_list if v.get("video_url")]
    value: dict[str, Any] = {
        "task_uuid": task_uuid,
        "model": model,
        "status": status,
        "video_url": urls[0] if urls else None,
        "video_urls": urls,
        "videos": video_list,
        "cost": total_cost(video_list),
        "estimated_cost": estimated_cost,
    }
    s3_uris = [v["s3_uri"] for v in video_list if v.get("s3_uri")]
    if s3_uris:
        value["s3_uri"] = s3_uris[0]
        value["s3_uris"] = s3_uris
    value.update(extra)
    return value


def result_from_event(
    event: Any,
    *,
    allow_partial_results: bool = False,
    fail_on_nsfw: bool = False,
    estimated_cost: float | None = None,
    log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> dict[str, Any]:
    """Apply the policies to a terminal event: the XCom value, or raise the Runware error."""
    event = validate_event(event)
    task_uuid: str = event["task_uuid"]
    videos: list[dict[str, Any]] = [dict(v) for v in event.get("videos") or []]
    expected = int(event.get("expected_results") or 1)
    logger = log or logging.getLogger(__name__)
    error = RunwareError.from_dict(event["error"]) if isinstance(event.get("error"), Mapping) else None
    if error is not None and not error.task_uuid:
        error.task_uuid = task_uuid

    if event["status"] == "timeout":
        raise error or RunwareTimeoutError("Timed out waiting for Runware", task_uuid=task_uuid)
    if event["status"] == "error":
        if not (allow_partial_results and videos):
            raise error or RunwareError("Runware reported an error", task_uuid=task_uuid)
        logger.warning(
            "Partial result accepted (allow_partial_results=True): %d of %d videos; first error: %s",
            len(videos),
            expected,
            error,
        )
    flagged = [v["video_uuid"] for v in videos if v.get("nsfw_content")]
    if flagged:
        message = f"Runware flagged NSFW content in video(s) {', '.join(flagged)} of task {task_uuid}"
        if fail_on_nsfw:
            raise RunwareSafetyError(message, code="nsfwContentDetected", task_uuid=task_uuid)
        logger.warning("%s (fail_on_nsfw=False: keeping them)", message)
    status = "success" if event["status"] == "success" else "partial"
    return build_xcom(task_uuid=task_uuid, status=status, videos=videos, estimated_cost=estimated_cost)
