"""The budget: ``max_cost_usd`` is a hard cap on what one task instance spends, across all its generations.

Every refusal comes before the request that would spend: a cap that renders to nothing or to no number, an
estimate over the cap, an input video of unknown length, and a new generation whose estimate added to what
the earlier (failed, paid) generations of the same identity cost would pass the cap. Runware reports a cost
per result; a generation without one for every result counts at least its estimate (a failed one is
billed in full).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from airflow_provider_wan.arguments import non_negative
from airflow_provider_wan.compat import AirflowFailException
from airflow_provider_wan.errors import InvalidRequestError

if TYPE_CHECKING:
    from airflow_provider_wan.media.checks import CheckedInputs
    from airflow_provider_wan.results import TaskState

PARAMETER = "max_cost_usd"
# The extra that brings PyAV, which measures local and S3 input videos.
MEDIA_EXTRA = "pip install 'airflow-provider-wan[media]'"


def parse_cap(value: object) -> float | None:
    """The cap in USD, or None when the argument is unset (Python ``None``).

    A template that rendered ``""`` or ``"None"`` is an error, not "no cap": a missing Variable or XCom
    must not lift the limit silently.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip() in ("", "None"):
        raise InvalidRequestError(
            f"rendered {value!r}: give a number of USD, or leave {PARAMETER} unset (None) for no cap",
            parameter=PARAMETER,
        )
    return non_negative(PARAMETER, value, unit="USD")


def check_estimate(total: float | None, cap: float | None, what: str) -> None:
    """Refuse a request whose estimate alone passes the cap or, with a cap, whose price is unknown (fail
    closed). Deterministic: no retries, nothing sent."""
    if cap is None:
        return
    if total is None:
        raise AirflowFailException(
            f"The price of {what} is unknown, so {PARAMETER} ${cap:.4f} cannot be checked: give "
            "estimated_cost_usd (your estimate of this task's cost); nothing was submitted."
        )
    if total > cap + 1e-9:
        raise AirflowFailException(
            f"Estimated cost ${total:.4f} exceeds {PARAMETER} ${cap:.4f} ({what}); nothing was submitted."
        )


def require_video_seconds(cap: float | None, media: CheckedInputs | None) -> None:
    """Called when the length of some input video is unknown (neither probed nor stated by the caller):
    with a cap that is a refusal, as an unmeasured clip would be billed beyond it."""
    if cap is None:
        return
    from airflow_provider_wan.media.checks import pyav_available

    unknown = [c for c in media.items if c.ref.kind == "video" and c.duration is None] if media else []
    local = [c for c in unknown if c.ref.form not in ("url", "uuid")]  # files, s3://, inline data
    what = ", ".join(c.source for c in unknown) or "URL or media UUID reference videos"
    hint = ""
    if local and not pyav_available():
        hint = f"; local and s3:// videos are measured with PyAV, which is not installed: {MEDIA_EXTRA}"
    raise InvalidRequestError(
        f"{PARAMETER} is set but the length of {what[:300]} is unknown: pass input_video_seconds (the "
        f"seconds of the input videos that cannot be measured) so the cap covers them{hint}",
        parameter="input_video_seconds",
    )


def _exists(state: TaskState | None) -> bool:
    """Whether Runware knows the task (``not_found`` errors are what an unknown task UUID answers)."""
    if state is None:
        return False
    return bool(state.results or state.running or any(e.category != "not_found" for e in state.errors))


@dataclass
class Spend:
    """What the earlier generations of one task instance cost, checked before each new generation."""

    cap: float | None = None
    estimate_usd: float = 0.0
    expected_results: int = 1
    spent: Decimal = Decimal(0)
    earlier: list[str] = field(default_factory=list)

    def add(self, state: TaskState) -> None:
        """Count a failed earlier generation: its reported cost, at least its estimate unless every
        result reported one."""
        reported = [Decimal(str(r.cost)) for r in state.results if r.cost is not None]
        cost = sum(reported, Decimal(0))
        if len(reported) < self.expected_results:
            cost = max(cost, Decimal(str(self.estimate_usd)))
        self.spent += cost
        self.earlier.append(state.task_uuid)

    def check_next(self, task_uuid: str, lookup: Callable[[Sequence[str]], dict[str, TaskState]]) -> None:
        """Refuse to submit ``task_uuid`` (the next generation) when the spent amount plus its estimate
        would pass the cap. ``lookup`` (``get_responses``) is asked only then: a generation an earlier try
        already submitted is re-attached to, as that costs nothing more."""
        if self.cap is None or not self.earlier:
            return
        total = self.spent + Decimal(str(self.estimate_usd))
        if total <= Decimal(str(self.cap)) + Decimal("1e-9") or _exists(lookup([task_uuid]).get(task_uuid)):
            return
        generations = len(self.earlier)
        raise AirflowFailException(
            f"Budget: {generations} earlier generation(s) of this task instance cost ${self.spent:.4f} "
            f"(taskUUID={', '.join(self.earlier)}); generation {generations} is estimated at "
            f"${self.estimate_usd:.4f} and ${total:.4f} would exceed {PARAMETER} ${self.cap:.4f}; "
            "nothing was submitted [budgetExceeded]. Raise the cap or change idempotency_key to start over."
        )
