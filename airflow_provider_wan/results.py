"""What happened to a Runware task: the answer parsed per task (:class:`TaskState`, lenient: unknown
fields and legacy shapes are tolerated), the terminal :class:`TaskEvent` (validated strictly by
:func:`parse_event`) and the XCom contract with its policies (:func:`xcom_value`). No Airflow, no S3.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, cast
from urllib.parse import urlsplit

from pydantic import StringConstraints, TypeAdapter, ValidationError
from typing_extensions import Required, TypedDict

from airflow_provider_wan.errors import RunwareError, RunwareSafetyError, RunwareTimeoutError
from airflow_provider_wan.models import MODEL_ID

RunState = Literal["running", "success", "error"]
EventStatus = Literal["success", "error", "timeout"]
# Seen in docs and legacy SDKs. A status that looks terminal but is not success fails at once (waiting
# for it would only end at generation_timeout); any other unknown status keeps waiting, with a warning.
SUCCESS_STATUSES = frozenset({"success", "succeeded", "completed", "complete", "done"})
ERROR_STATUSES = frozenset(
    {"error", "failed", "failure", "cancelled", "canceled", "rejected", "expired", "aborted", "timeout"}
)
RUNNING_STATUSES = frozenset({"", "processing", "pending", "queued", "running", "in_progress", "started"})
SEED_MAX = 2**32 - 1  # Runware draws a seed nobody asked for in the unsigned 32-bit range
log = logging.getLogger(__name__)


def _status(raw: Any) -> RunState:
    status = str(raw or "").strip().lower()
    return "success" if status in SUCCESS_STATUSES else "error" if status in ERROR_STATUSES else "running"


def _number(value: Any) -> float | None:
    """A JSON number; booleans and strings (never documented) mean unknown. An integer too large for a
    float is infinite (the checks of :func:`item_problem` refuse it), never an ``OverflowError``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class VideoRecord(TypedDict, total=False):
    """A video in the event and the XCom value; landing in S3 adds the last three keys."""

    video_uuid: Required[str]
    video_url: str | None
    seed: int | None
    nsfw_content: bool | None
    cost: float | None
    s3_uri: str
    sha256: str
    size_bytes: int


VIDEO_KEYS = ("video_uuid", "video_url", "seed", "nsfw_content", "cost")  # tests/conftest.py VIDEO_KEYS


@dataclass(frozen=True)
class VideoResult:
    """One generated video (one of up to ``numberResults`` per task), from the answer to the XCom value."""

    task_uuid: str
    video_uuid: str
    video_url: str | None
    seed: int | None = None
    nsfw_content: bool | None = None
    cost: float | None = None
    status: str = "success"
    progress: float | None = None  # 0-100 when Runware reports it; usually absent on finished items

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VideoResult:
        url, seed = item.get("videoURL"), _number(item.get("seed"))
        nsfw = item.get("NSFWContent", item.get("nsfwContent"))
        return cls(
            task_uuid=str(item.get("taskUUID", "")),
            video_uuid=str(item.get("videoUUID") or url or ""),
            video_url=url if isinstance(url, str) else None,
            seed=None if seed is None else int(seed),
            nsfw_content=nsfw if isinstance(nsfw, bool) else None,
            cost=_number(item.get("cost")),
            status=str(item.get("status") or "success"),
            progress=_number(item.get("progress")),
        )

    def to_dict(self) -> VideoRecord:
        return cast(VideoRecord, {key: getattr(self, key) for key in VIDEO_KEYS})


@dataclass
class TaskState:
    """Cumulative state of one task UUID as seen in one answer."""

    task_uuid: str
    results: list[VideoResult] = field(default_factory=list)
    errors: list[RunwareError] = field(default_factory=list)
    running: int = 0
    progress: float | None = None

    @property
    def seen(self) -> bool:
        return bool(self.results or self.errors or self.running)

    def status(self, expected_results: int = 1) -> RunState:
        """``success`` once every expected result is in, ``error`` once none can still arrive (even with
        some results: ``allow_partial_results`` decides what that means), else running."""
        if len(self.results) >= expected_results:
            return "success"
        if self.errors and (len(self.results) + len(self.errors) >= expected_results or not self.running):
            return "error"
        return "running"


def _as_list(value: Any) -> list[Mapping[str, Any]]:
    items = [value] if isinstance(value, Mapping) else value if isinstance(value, list) else []
    return [i for i in items if isinstance(i, Mapping)]


@dataclass(frozen=True)
class Envelope:
    """The two lists of an answer, each normalised to a list of dicts."""

    data: list[Mapping[str, Any]]
    errors: list[Mapping[str, Any]]

    @classmethod
    def parse(cls, body: Any) -> Envelope:
        if not isinstance(body, Mapping):  # a bare list (not documented) is seen from unwrapping proxies
            return cls(data=_as_list(body), errors=[])
        errors = _as_list(body.get("errors"))
        # A single top-level error object (``{"error": {...}}``) has been seen from gateways.
        return cls(data=_as_list(body.get("data")), errors=errors or _as_list(body.get("error")))


def item_problem(item: Mapping[str, Any], url_schemes: Sequence[str] = ("https",)) -> str | None:
    """What makes one success item unusable (checked on its own, so it fails only its task), or None."""
    url = item["videoURL"]
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in url_schemes or not host:
        return f"its videoURL is not an absolute {' or '.join(url_schemes)} URL (scheme {scheme!r})"
    video_uuid = item.get("videoUUID")
    if video_uuid is not None and not isinstance(video_uuid, str):
        return f"its videoUUID is a {type(video_uuid).__name__}, not a string"
    seed, cost = _number(item.get("seed")), _number(item.get("cost"))
    if seed is not None and not (seed.is_integer() and 0 <= seed <= SEED_MAX):
        return f"its seed {item['seed']!r:.40} is not an integer in 0..{SEED_MAX}"
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        return f"its cost {item['cost']!r:.40} is not a finite non-negative number"
    return None


def group_by_task(
    envelope: Envelope,
    task_uuids: Iterable[str] | None = None,
    *,
    http_status: int | None = None,
    url_schemes: Sequence[str] = ("https",),
) -> dict[str, TaskState]:
    """Group items and errors per taskUUID (only ``task_uuids`` when given); errors naming no requested
    task are left to the caller (request-level errors). A success item is checked on its own
    (:func:`item_problem`, ``url_schemes``: those a videoURL may use): a bad one fails its task only."""
    listed = None if task_uuids is None else list(task_uuids)
    states = {u: TaskState(u) for u in listed or ()}

    def state_for(item: Mapping[str, Any]) -> TaskState | None:
        uuid = str(item.get("taskUUID") or "")
        if not uuid or (listed is not None and uuid not in states):
            return None
        return states.setdefault(uuid, TaskState(uuid))

    for item in envelope.data:
        if (state := state_for(item)) is None:
            continue
        raw = str(item.get("status") or "")
        if isinstance(item.get("error"), Mapping) or (
            _status(raw) == "error" and (item.get("code") or item.get("message"))
        ):
            state.errors.append(_named(RunwareError.from_wire(item), state.task_uuid))
        elif _status(raw) == "error":  # a terminal status with no error object: say which status
            state.errors.append(_terminal(state.task_uuid, f"Runware reported status {raw!r}", "taskFailed"))
        elif _status(raw) == "success" or (not raw and item.get("videoURL")):
            if not isinstance(item.get("videoURL"), str) or not item["videoURL"]:
                # Paid, but nothing to fetch: a failed generation, never a success with video_url=None.
                state.errors.append(
                    _terminal(state.task_uuid, "success without a videoURL", "missingVideoURL")
                )
            elif (problem := item_problem(item, url_schemes)) is not None:
                state.errors.append(
                    _terminal(state.task_uuid, f"Runware's answer is unusable: {problem}", "invalidAnswer")
                )
            else:
                result = VideoResult.from_item(item)
                if all(r.video_uuid != result.video_uuid for r in state.results):
                    state.results.append(result)
        else:
            if raw.strip().lower() not in RUNNING_STATUSES:
                log.warning(
                    "Runware reported an unknown status %r for task %s: still waiting", raw, state.task_uuid
                )
            state.running += 1
            progress = _number(item.get("progress"))
            state.progress = state.progress if progress is None else progress
    for err in envelope.errors:
        if (state := state_for(err)) is not None:
            state.errors.append(_named(RunwareError.from_wire(err, http_status=http_status), state.task_uuid))
    return states


def _named(error: RunwareError, task_uuid: str) -> RunwareError:
    # The item's task, even when a nested error object names another one: never another trigger's.
    error.task_uuid = task_uuid
    return error


def _terminal(task_uuid: str, message: str, code: str) -> RunwareError:
    """A task-level failure Runware reported without an error object (a fresh object per task)."""
    return RunwareError(
        f"{message} for task {task_uuid}", code=code, category="provider", task_uuid=task_uuid
    )


class TaskEvent(TypedDict, total=False):
    """The one terminal event (plain JSON) of the trigger, the sensor and synchronous waits."""

    status: Required[EventStatus]
    task_uuid: Required[Annotated[str, StringConstraints(min_length=1)]]
    videos: list[VideoRecord]
    cost: float | None
    expected_results: int
    error: dict[str, Any] | None
    message: str
    # Echoed by the operator: it resumes on a fresh instance and reads everything from the event.
    estimated_cost: float | None
    output_format: str | None
    delivery_key: str | None
    duration: float | None
    submitted_at: float | None
    model: str | None  # the model submitted to, or that Runware recorded (Wan2.7 when absent)


def _total_cost(costs: Iterable[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return round(sum(known), 6) if known else None


def task_event(
    status: EventStatus,
    task_uuid: str,
    *,
    videos: Sequence[VideoResult] = (),
    error: RunwareError | None = None,
    expected_results: int = 1,
) -> TaskEvent:
    return {
        "status": status,
        "task_uuid": task_uuid,
        "videos": [v.to_dict() for v in videos],
        "cost": _total_cost(v.cost for v in videos),
        "expected_results": expected_results,
        "error": error.to_dict() if error is not None else None,
        "message": str(error) if error is not None else f"{len(videos)} video(s) ready",
    }


@functools.cache
def _event_schema() -> TypeAdapter[TaskEvent]:
    return TypeAdapter(TaskEvent)  # built on first use: keeps the provider's import cheap


def parse_event(event: Any) -> TaskEvent:
    """The event, strictly validated: ``None``, non-dicts, unknown statuses, bad videos never pass."""
    if event is None:
        raise RunwareError(
            "Trigger returned no event (None); refusing to treat it as success", code="badEvent"
        )
    try:
        return _event_schema().validate_python(event, strict=True)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or type(event).__name__
        uuid = event.get("task_uuid") if isinstance(event, Mapping) else None
        raise RunwareError(
            f"Malformed trigger event: {where}: {first['msg']}",
            code="badEvent",
            task_uuid=uuid if isinstance(uuid, str) else None,
        ) from None


class XComValue(TypedDict, total=False):
    """The ``return_value`` contract (README). Later features extend it; never rename a key."""

    task_uuid: Required[str]
    model: Required[str]
    status: Required[Literal["success", "partial"]]
    video_url: Required[str | None]
    video_urls: Required[list[str]]
    videos: Required[list[VideoRecord]]
    cost: Required[float | None]
    estimated_cost: Required[float | None]
    s3_uri: str  # with an s3_destination: the first landed video, and all of them
    s3_uris: list[str]


class Landed(Protocol):
    """What the S3 landing reports per video (read-only attributes)."""

    @property
    def video_uuid(self) -> str: ...
    @property
    def s3_uri(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...


def xcom_value(
    event: Any,
    *,
    allow_partial_results: bool = False,
    fail_on_nsfw: bool = False,
    estimated_cost: float | None = None,
    land: Callable[[Sequence[VideoResult]], Sequence[Landed]] | None = None,
    log: Any = None,
) -> XComValue:
    """Apply the policies to a terminal event: the XCom value, or raise the Runware error. ``land`` copies
    the accepted videos to S3; their records gain ``s3_uri``, ``sha256``, ``size_bytes``."""
    parsed = parse_event(event)
    task_uuid = parsed["task_uuid"]
    raw = cast(list[dict[str, Any]], parsed.get("videos") or [])
    videos = [VideoResult(task_uuid, **{k: v[k] for k in VIDEO_KEYS if k in v}) for v in raw]
    logger = log or logging.getLogger(__name__)
    error_dict = parsed.get("error")
    error = RunwareError.from_dict(error_dict) if error_dict else None
    if error is not None and not error.task_uuid:
        error.task_uuid = task_uuid

    if parsed["status"] == "timeout":
        raise error or RunwareTimeoutError("Timed out waiting for Runware", task_uuid=task_uuid)
    if parsed["status"] == "error":
        if not (allow_partial_results and videos):
            raise error or RunwareError("Runware reported an error", task_uuid=task_uuid)
        logger.warning(
            "Partial result accepted (allow_partial_results=True): %d of %d videos; first error: %s",
            len(videos),
            parsed.get("expected_results", 1),
            error,
        )
    flagged = [v.video_uuid for v in videos if v.nsfw_content]
    if flagged:
        message = f"Runware flagged NSFW content in video(s) {', '.join(flagged)} of task {task_uuid}"
        if fail_on_nsfw:
            raise RunwareSafetyError(message, code="nsfwContentDetected", task_uuid=task_uuid)
        logger.warning("%s (fail_on_nsfw=False: keeping them)", message)

    records = [v.to_dict() for v in videos]
    landed = {item.video_uuid: item for item in land(videos)} if land is not None else {}
    for record in records:
        if (item := landed.get(record["video_uuid"])) is not None:
            record.update({"s3_uri": item.s3_uri, "sha256": item.sha256, "size_bytes": item.size_bytes})
    urls = [v.video_url for v in videos if v.video_url]
    value: XComValue = {
        "task_uuid": task_uuid,
        "model": parsed.get("model") or MODEL_ID,
        "status": "success" if parsed["status"] == "success" else "partial",
        "video_url": urls[0] if urls else None,
        "video_urls": urls,
        "videos": records,
        "cost": _total_cost(v.cost for v in videos),
        "estimated_cost": estimated_cost,
    }
    s3_uris = [r["s3_uri"] for r in records if r.get("s3_uri")]
    if s3_uris:
        value["s3_uri"], value["s3_uris"] = s3_uris[0], s3_uris
    return value
