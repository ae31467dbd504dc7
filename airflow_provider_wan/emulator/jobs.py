"""videoInference jobs: one small record per accepted task, state derived lazily from timestamps.

Nothing runs per job while it "generates": a job is a dict entry with its due times, and every
poll computes processing/success/error from the clock. Thousands of in-flight tasks therefore cost
only their records. Every random choice (duration jitter, seeds, UUIDs, failures, NSFW flags) is
drawn once at submission from the emulator's seeded RNG, so a poll never changes the outcome.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import DOCS_VIDEO_INFERENCE, ErrorDict
from .model import CONTAINERS
from .settings import Knobs

ResultStatus = Literal["processing", "success", "error"]

FAILURE_CODE = "timeoutProvider"
FAILURE_MESSAGE = (
    "The external provider did not respond within the timeout window. "
    "The request was automatically terminated."
)
UINT32_MAX = 2**32 - 1


def random_uuid4(rng: random.Random) -> str:
    """A UUID v4 drawn from ``rng`` (reproducible under --seed, unlike uuid.uuid4())."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True, slots=True)
class KeptInputs:
    """The input media a job's videos show, as content-addressed copies (named by their SHA-256, so a
    later mediaStorage delete or an expired URL cannot change a video that was not encoded yet)."""

    first_image: Path | None = None
    last_image: Path | None = None
    reference_images: tuple[Path, ...] = ()
    reference_video: Path | None = None  # a continuation starts from its last frame
    audio: Path | None = None

    def names(self) -> list[str | None]:
        """What identifies the content: file names (hashes), never the directory they sit in."""
        paths = [self.first_image, self.last_image, self.reference_video, self.audio]
        return [p.name if p else None for p in paths] + [p.name for p in self.reference_images]


@dataclass(slots=True)
class Job:
    task_uuid: str
    request: dict[str, Any]  # the task exactly as accepted; never holds the API key
    created_at: float
    due_at: list[float]  # per result
    width: int
    height: int
    tier: str
    duration: int
    output_format: str  # MP4 | WEBM | MOV
    audio: bool
    include_cost: bool
    ttl: float
    seeds: list[int]
    video_uuids: list[str]
    failed: list[bool]
    nsfw: list[bool]
    costs: list[float]  # per result, USD, input-video seconds folded into the first
    charged_usd: float
    input_video_seconds: float
    public_base: str  # scheme://host:port of the emulator as the client reached it
    render_scale: float  # media_scale at submission: a job's file never changes afterwards
    pad_bytes: int  # pad_bytes at submission (MP4 only), for stable sizes across Range requests
    webhook_url: str | None = None
    upload_endpoint: str | None = None
    inputs: KeptInputs | None = None  # None: a text-to-video job (most jobs; keeps the record small)
    # Only with the refresh_expired_urls knob (created lazily, so other jobs carry two Nones):
    # token -> (result index, expiry) for every URL handed out again, and each result's current token.
    url_tokens: dict[str, tuple[int, float]] | None = None
    current_tokens: dict[int, str] | None = None

    @property
    def number_results(self) -> int:
        return len(self.due_at)

    @property
    def extension(self) -> str:
        return CONTAINERS[self.output_format][0]

    @property
    def mime(self) -> str:
        return CONTAINERS[self.output_format][1]

    def status(self, index: int, now: float) -> ResultStatus:
        if now < self.due_at[index]:
            return "processing"
        return "error" if self.failed[index] else "success"

    def completed_at(self, now: float) -> float | None:
        last = max(self.due_at)
        return last if now >= last else None

    def overall_status(self, now: float) -> str:
        states = {self.status(i, now) for i in range(self.number_results)}
        if "processing" in states:
            return "processing"
        if states == {"success"}:
            return "success"
        return "error" if states == {"error"} else "partial"

    def expires_at(self, index: int) -> float:
        """Expiry of the result's first URL (the one without a token)."""
        return self.due_at[index] + self.ttl

    def url_expiry(self, index: int, token: str | None) -> float | None:
        """Expiry of the URL of result ``index`` carrying ``token``; None when the token is not one of
        this result's (a forged or foreign URL)."""
        if token is None:
            return self.expires_at(index)
        found = (self.url_tokens or {}).get(token)
        return found[1] if found is not None and found[0] == index else None

    def current_expiry(self, index: int) -> float:
        token = (self.current_tokens or {}).get(index)
        return self.expires_at(index) if token is None else (self.url_tokens or {})[token][1]

    def video_url(self, index: int) -> str:
        url = f"{self.public_base}/media/videos/{self.video_uuids[index]}.{self.extension}"
        token = (self.current_tokens or {}).get(index)
        return url if token is None else f"{url}?token={token}"

    def refresh_urls(self, now: float, new_token: Callable[[], str]) -> int:
        """Give every successful result whose current URL has expired a new one (new token, expiring
        ``ttl`` seconds from now); older URLs keep their own expiry. Returns how many were renewed."""
        renewed = 0
        for index in range(self.number_results):
            if self.status(index, now) != "success" or now < self.current_expiry(index):
                continue
            if self.url_tokens is None or self.current_tokens is None:
                self.url_tokens, self.current_tokens = {}, {}
            token = new_token()
            self.url_tokens[token] = (index, now + self.ttl)
            self.current_tokens[index] = token
            renewed += 1
        return renewed

    def progress(self, index: int, now: float) -> int:
        span = self.due_at[index] - self.created_at
        if span <= 0:
            return 99
        return max(0, min(99, int(100 * (now - self.created_at) / span)))

    # --- wire items --------------------------------------------------------------------------

    def success_item(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": self.task_uuid,
            "status": "success",
            "videoUUID": self.video_uuids[index],
            "videoURL": self.video_url(index),
            "seed": self.seeds[index],
            "NSFWContent": self.nsfw[index],
        }
        if self.include_cost:
            item["cost"] = self.costs[index]
        return item

    def failure_error(self) -> ErrorDict:
        """The documented flat failure, field for field: an entry of the top-level errors[]."""
        return {
            "code": FAILURE_CODE,
            "status": "error",
            "message": FAILURE_MESSAGE,
            "documentation": DOCS_VIDEO_INFERENCE,
            "taskUUID": self.task_uuid,
        }

    def failure_item_nested(self, index: int) -> dict[str, Any]:
        """The other observed failure shape: a data[] item with a nested error object."""
        return {
            "taskType": "videoInference",
            "taskUUID": self.task_uuid,
            "status": "error",
            "videoUUID": self.video_uuids[index],
            "error": {
                "code": FAILURE_CODE,
                "message": FAILURE_MESSAGE,
                "documentation": DOCS_VIDEO_INFERENCE,
            },
        }

    def processing_item(self, index: int, now: float, knobs: Knobs) -> dict[str, Any]:
        item: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": self.task_uuid,
            "status": "pending" if knobs.pending_status else "processing",
        }
        if knobs.report_progress:
            item["progress"] = self.progress(index, now)
        return item

    def items(self, now: float, knobs: Knobs) -> tuple[list[dict[str, Any]], list[ErrorDict]]:
        """Cumulative state: one entry per result, data items and flat errors apart."""
        data: list[dict[str, Any]] = []
        errors: list[ErrorDict] = []
        for index in range(self.number_results):
            status = self.status(index, now)
            if status == "processing":
                data.append(self.processing_item(index, now, knobs))
            elif status == "success":
                data.append(self.success_item(index))
            elif knobs.failure_shape == "nested":
                data.append(self.failure_item_nested(index))
            else:
                errors.append(self.failure_error())
        return data, errors

    def ledger_record(self, now: float) -> dict[str, Any]:
        failed = [i for i in range(self.number_results) if self.status(i, now) == "error"]
        return {
            "taskUUID": self.task_uuid,
            "status": self.overall_status(now),
            "created_at": self.created_at,
            "completed_at": self.completed_at(now),
            "number_results": self.number_results,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "output_format": self.output_format,
            "cost": self.charged_usd,
            "input_video_seconds": self.input_video_seconds,
            "video_uuids": list(self.video_uuids),
            "failed_results": len(failed),
            "failure_code": FAILURE_CODE if failed else None,
        }


@dataclass(frozen=True)
class JobPlan:
    """What the submit handler decided from the request and its media."""

    width: int
    height: int
    tier: str
    duration: int
    output_format: str
    audio: bool
    number_results: int
    input_video_seconds: float


def cost_per_result(
    rate: float, duration: int, number_results: int, input_video_seconds: float
) -> list[float]:
    """Output seconds on every result, input video seconds once (on the first result)."""
    costs = [rate * duration for _ in range(number_results)]
    costs[0] += rate * input_video_seconds
    return [round(c, 4) for c in costs]


def draw_outcomes(
    rng: random.Random, task: dict[str, Any], plan: JobPlan, knobs: Knobs, now: float
) -> tuple[list[float], list[int], list[str], list[bool], list[bool]]:
    """Due times, seeds, video UUIDs, failure and NSFW flags for every result."""
    base = knobs.processing_seconds + knobs.seconds_per_output_second * plan.duration
    if knobs.jitter:
        base *= 1 + rng.uniform(-knobs.jitter, knobs.jitter)
    base = max(0.0, base)
    due = [now + base + i * knobs.result_stagger_seconds for i in range(plan.number_results)]
    given = task.get("seed")
    if given is None:
        seeds = [rng.randint(0, UINT32_MAX) for _ in range(plan.number_results)]
    else:
        seeds = [(given + i) & UINT32_MAX for i in range(plan.number_results)]
    video_uuids = [random_uuid4(rng) for _ in range(plan.number_results)]
    failed = [knobs.p_generation_fail > 0 and rng.random() < knobs.p_generation_fail for _ in due]
    nsfw = [knobs.p_nsfw > 0 and rng.random() < knobs.p_nsfw for _ in due]
    return due, seeds, video_uuids, failed, nsfw


class JobStore:
    """All jobs by taskUUID plus the videoUUID -> (job, index) index for downloads."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.videos: dict[str, tuple[Job, int]] = {}

    # Keys are lower-cased: a UUID is the same UUID in either case (the record keeps the original).
    def add(self, job: Job) -> None:
        self.jobs[job.task_uuid.lower()] = job
        for index, video_uuid in enumerate(job.video_uuids):
            self.videos[video_uuid] = (job, index)

    def get(self, task_uuid: str) -> Job | None:
        return self.jobs.get(task_uuid.lower())

    def video(self, video_uuid: str) -> tuple[Job, int] | None:
        return self.videos.get(video_uuid.lower())

    def clear(self) -> None:
        self.jobs.clear()
        self.videos.clear()

    def __len__(self) -> int:
        return len(self.jobs)
