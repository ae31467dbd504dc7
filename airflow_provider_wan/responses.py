"""Parse Runware's response envelope into typed per-task state.

Runware answers ``{"data": [...], "errors": [...]}``; either key may be missing, ``errors`` may be an empty
list beside data, old docs showed ``data`` as a single object, and a failed generation appears either as a
flat item in ``errors[]`` or as a ``data[]`` item with ``status: "error"`` and a nested ``error``. Unknown
fields are ignored everywhere (a past SDK crashed on a new field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_wan.errors import RunwareError

RunState = Literal["running", "success", "error"]

# Statuses seen in docs and legacy SDKs. Anything else that is not terminal counts as running too.
RUNNING_STATUSES = frozenset(
    {"processing", "pending", "queued", "scheduled", "waiting", "running", "started"}
)
SUCCESS_STATUSES = frozenset({"success", "succeeded", "completed", "complete", "done"})
ERROR_STATUSES = frozenset({"error", "failed", "failure"})


def normalize_status(raw: Any) -> RunState:
    """Map a raw item status to running/success/error; unknown non-terminal statuses are running."""
    status = str(raw).strip().lower() if raw is not None else ""
    if status in SUCCESS_STATUSES:
        return "success"
    if status in ERROR_STATUSES:
        return "error"
    return "running"


def parse_progress(value: Any) -> float | None:
    """``progress`` as a float; booleans and non-numbers (never documented) mean unknown."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(frozen=True)
class VideoResult:
    """One generated video (one of up to ``numberResults`` per task)."""

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
        seed = item.get("seed")
        cost = item.get("cost")
        nsfw = item.get("NSFWContent", item.get("nsfwContent"))
        return cls(
            task_uuid=str(item.get("taskUUID", "")),
            video_uuid=str(item.get("videoUUID") or item.get("videoURL") or ""),
            video_url=item.get("videoURL") if isinstance(item.get("videoURL"), str) else None,
            seed=int(seed) if isinstance(seed, (int, float)) and not isinstance(seed, bool) else None,
            nsfw_content=bool(nsfw) if isinstance(nsfw, bool) else None,
            cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
            status=str(item.get("status") or "success"),
            progress=parse_progress(item.get("progress")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "video_uuid": self.video_uuid,
            "video_url": self.video_url,
            "seed": self.seed,
            "nsfw_content": self.nsfw_content,
            "cost": self.cost,
        }


@dataclass
class TaskState:
    """Cumulative state of one task UUID as seen in one answer."""

    task_uuid: str
    results: list[VideoResult] = field(default_factory=list)
    errors: list[RunwareError] = field(default_factory=list)
    running: int = 0
    progress: float | None = None
    raw_statuses: list[str] = field(default_factory=list)

    @property
    def seen(self) -> bool:
        return bool(self.results or self.errors or self.running)

    def status(self, expected_results: int = 1) -> RunState:
        """``success`` once every expected result is in, ``error`` once none can still arrive, else running.

        A task that has failed items and nothing still running is finished with an error, even if some
        results succeeded: the caller decides (``allow_partial_results``) what partial success means.
        """
        if len(self.results) >= expected_results:
            return "success"
        if self.errors and (len(self.results) + len(self.errors) >= expected_results or not self.running):
            return "error"
        return "running"

    def add(self, other: TaskState) -> None:
        self.results.extend(other.results)
        self.errors.extend(other.errors)
        self.running += other.running
        if other.progress is not None:
            self.progress = other.progress
        self.raw_statuses.extend(other.raw_statuses)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return value
    return []


@dataclass(frozen=True)
class Envelope:
    """The two lists of an answer, each normalised to a list of dicts."""

    data: list[Mapping[str, Any]]
    errors: list[Mapping[str, Any]]

    @classmethod
    def parse(cls, body: Any) -> Envelope:
        if isinstance(body, list):  # not documented; seen from proxies that unwrap the envelope
            return cls(data=[i for i in body if isinstance(i, Mapping)], errors=[])
        if not isinstance(body, Mapping):
            return cls(data=[], errors=[])
        data = [i for i in _as_list(body.get("data")) if isinstance(i, Mapping)]
        errors = [i for i in _as_list(body.get("errors")) if isinstance(i, Mapping)]
        # A single top-level error object (``{"error": {...}}``) has been seen from gateways.
        if not errors and isinstance(body.get("error"), Mapping):
            errors = [body["error"]]
        return cls(data=data, errors=errors)


def group_by_task(
    envelope: Envelope, task_uuids: Iterable[str] | None = None, *, http_status: int | None = None
) -> dict[str, TaskState]:
    """Group items and errors per taskUUID. Only ``task_uuids`` are returned when given.

    Errors without a taskUUID cannot be attributed and are left out; the hook raises them as request-level
    errors when nothing else could be attributed.
    """
    wanted = list(task_uuids) if task_uuids is not None else None
    states: dict[str, TaskState] = {u: TaskState(u) for u in wanted} if wanted is not None else {}
    seen_videos: dict[str, set[str]] = {}

    def state_for(uuid: str) -> TaskState | None:
        if uuid not in states:
            if wanted is not None:
                return None
            states[uuid] = TaskState(uuid)
        return states[uuid]

    for item in envelope.data:
        uuid = str(item.get("taskUUID") or "")
        state = state_for(uuid)
        if state is None:
            continue
        raw = str(item.get("status") or "")
        state.raw_statuses.append(raw)
        if isinstance(item.get("error"), Mapping) or normalize_status(raw) == "error":
            state.errors.append(RunwareError.from_wire(item, http_status=None, task_uuid=uuid))
            continue
        if normalize_status(raw) == "success" or (not raw and item.get("videoURL")):
            result = VideoResult.from_item(item)
            # Cumulative answers repeat earlier items: keep one per videoUUID.
            if result.video_uuid not in seen_videos.setdefault(uuid, set()):
                seen_videos[uuid].add(result.video_uuid)
                state.results.append(result)
            continue
        state.running += 1
        progress = parse_progress(item.get("progress"))
        if progress is not None:
            state.progress = progress
    for err in envelope.errors:
        uuid = str(err.get("taskUUID") or "")
        if not uuid:
            continue
        state = state_for(uuid)
        if state is None:
            continue
        state.raw_statuses.append("error")
        state.errors.append(RunwareError.from_wire(err, http_status=http_status, task_uuid=uuid))
    return states


def unattributed_errors(
    envelope: Envelope, task_uuids: Sequence[str], http_status: int | None
) -> list[RunwareError]:
    """Errors that belong to no requested task (auth, quota, malformed request)."""
    wanted = set(task_uuids)
    return [
        RunwareError.from_wire(e, http_status=http_status)
        for e in envelope.errors
        if str(e.get("taskUUID") or "") not in wanted
    ]
