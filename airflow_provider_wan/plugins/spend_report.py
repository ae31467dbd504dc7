"""What the "Runware" view shows, computed from what the tasks recorded (pure: no Airflow, no database).

One :class:`TaskRecord` per task instance of the operator or the sensor: its final state and times, and
its ``return_value`` XCom (``cost``, ``estimated_cost``, ``videos``...) and ``video_seconds`` XCom. A
fire-and-forget submit (``status: "submitted"``) carries only the estimate that the sensor reports again,
so it counts as a task but adds no spend, estimate or video.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(frozen=True)
class TaskRecord:
    """One task instance of a Runware task, as the metadata database has it."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    value: Mapping[str, Any] | None = None
    video_seconds: float | None = None  # its own XCom: the return_value contract has no such key

    @property
    def when(self) -> datetime | None:
        return self.end_date or self.start_date

    @property
    def submitted_only(self) -> bool:
        return bool(self.value) and self.value.get("status") == "submitted"  # type: ignore[union-attr]

    @property
    def cost(self) -> float | None:
        return _number(self.value.get("cost")) if self.value else None

    @property
    def estimated_cost(self) -> float | None:
        if not self.value or self.submitted_only:
            return None
        return _number(self.value.get("estimated_cost"))

    @property
    def videos(self) -> int:
        videos = self.value.get("videos") if self.value else None
        return len(videos) if isinstance(videos, list) else 0

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    @property
    def generation_seconds(self) -> float | None:
        """Wall time of a task that produced videos (submit to landed, deferrals included)."""
        if self.videos == 0 or self.start_date is None or self.end_date is None:
            return None
        return max(0.0, (self.end_date - self.start_date).total_seconds())


@dataclass
class Totals:
    """Sums over a group of records (a DAG, a day, the whole window)."""

    tasks: int = 0
    spend: float = 0.0
    estimated: float = 0.0
    videos: int = 0
    video_seconds: float | None = None  # None while no task reported it (a sensor never sees the request)
    failures: int = 0
    generation_seconds: list[float] = field(default_factory=list)

    def add(self, record: TaskRecord) -> None:
        self.tasks += 1
        self.spend += record.cost or 0.0
        self.estimated += record.estimated_cost or 0.0
        self.videos += record.videos
        if record.video_seconds is not None:
            self.video_seconds = (self.video_seconds or 0.0) + record.video_seconds
        self.failures += int(record.failed)
        if (seconds := record.generation_seconds) is not None:
            self.generation_seconds.append(seconds)

    @property
    def mean_generation_seconds(self) -> float | None:
        times = self.generation_seconds
        return sum(times) / len(times) if times else None


@dataclass
class SpendReport:
    """Totals per DAG, per day and per (day, DAG) over ``days`` days ending ``today`` (UTC)."""

    days: int
    today: date
    records: list[TaskRecord]
    total: Totals = field(default_factory=Totals)
    per_dag: dict[str, Totals] = field(default_factory=dict)
    per_day: dict[date, Totals] = field(default_factory=dict)
    per_day_dag: dict[date, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def build(cls, records: Iterable[TaskRecord], *, days: int, today: date) -> SpendReport:
        first = today - timedelta(days=days - 1)
        kept = sorted(
            (r for r in records if r.when is not None and first <= r.when.date() <= today),
            key=lambda r: r.when,  # type: ignore[arg-type,return-value]
            reverse=True,
        )
        report = cls(days=days, today=today, records=kept)
        report.per_day = {first + timedelta(days=i): Totals() for i in range(days)}
        report.per_day_dag = {day: {} for day in report.per_day}
        for record in kept:
            day = record.when.date()  # type: ignore[union-attr]
            report.total.add(record)
            report.per_dag.setdefault(record.dag_id, Totals()).add(record)
            report.per_day[day].add(record)
            by_dag = report.per_day_dag[day]
            by_dag[record.dag_id] = by_dag.get(record.dag_id, 0.0) + (record.cost or 0.0)
        return report

    @property
    def dag_ids(self) -> list[str]:
        """DAGs by spend, largest first (the chart's stacking and legend order)."""
        return sorted(self.per_dag, key=lambda d: (-self.per_dag[d].spend, d))
