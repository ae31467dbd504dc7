"""The spend view's numbers and page, from task records (no browser, no database)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_wan.plugins.spend_page import chart_svg, render_page, task_instance_path
from airflow_provider_wan.plugins.spend_report import SpendReport, TaskRecord

TODAY = date(2026, 5, 10)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 5, day, hour, tzinfo=timezone.utc)


def video_task(dag_id: str, day: int, cost: float, *, seconds: float | None = 5.0, n: int = 1) -> TaskRecord:
    return TaskRecord(
        dag_id=dag_id,
        task_id="generate",
        run_id=f"manual__2026-05-{day:02d}",
        map_index=-1,
        state="success",
        start_date=at(day, 11),
        end_date=at(day, 11) + timedelta(seconds=40),
        value={"status": "success", "cost": cost, "estimated_cost": cost, "videos": [{}] * n},
        video_seconds=seconds,
    )


RECORDS = [
    video_task("daily", 10, 0.5),
    video_task("daily", 9, 1.0, n=2, seconds=10.0),
    video_task("batch", 9, 0.4, seconds=None),  # a sensor: never saw the request's duration
    # A fire-and-forget submit: its estimate is the sensor's to report, it adds no spend or video.
    TaskRecord(
        "batch", "submit", "r", -1, "success", at(9), at(9), {"status": "submitted", "estimated_cost": 0.4}
    ),
    TaskRecord("daily", "generate", "failed-run", -1, "failed", at(8), at(8, 13), None),
    video_task("daily", 1, 9.0),  # outside a 7-day window
]


def test_totals_per_dag_and_day() -> None:
    report = SpendReport.build(RECORDS, days=7, today=TODAY)
    assert report.records[0].run_id == "manual__2026-05-10"  # latest first
    assert len(report.records) == 5
    total = report.total
    assert total.spend == pytest.approx(1.9) and total.estimated == pytest.approx(1.9)
    assert total.videos == 4 and total.failures == 1 and total.video_seconds == pytest.approx(15.0)
    assert total.mean_generation_seconds == pytest.approx(40.0)  # only tasks that made videos
    assert report.dag_ids == ["daily", "batch"]  # by spend
    daily, batch = report.per_dag["daily"], report.per_dag["batch"]
    assert (daily.tasks, daily.spend, daily.failures, daily.videos) == (3, pytest.approx(1.5), 1, 3)
    assert (batch.tasks, batch.spend, batch.videos, batch.video_seconds) == (2, pytest.approx(0.4), 1, None)
    assert list(report.per_day) == [date(2026, 5, d) for d in range(4, 11)]  # every day, empty ones too
    assert report.per_day_dag[date(2026, 5, 9)] == {"daily": pytest.approx(1.0), "batch": pytest.approx(0.4)}
    assert report.per_day[date(2026, 5, 8)].failures == 1
    assert report.per_day[date(2026, 5, 5)].tasks == 0


def test_window_of_one_day() -> None:
    report = SpendReport.build(RECORDS, days=1, today=TODAY)
    assert report.total.spend == pytest.approx(0.5) and list(report.per_day) == [TODAY]


def test_chart_stacks_spend_per_day_by_dag() -> None:
    svg = chart_svg(SpendReport.build(RECORDS, days=7, today=TODAY))
    bars = re.findall(r'<rect class="bar" [^>]*height="([\d.]+)"[^>]*><title>([^<]+)</title>', svg)
    assert sorted(title for _, title in bars) == [
        "batch 2026-05-09: $0.40",
        "daily 2026-05-09: $1.00",
        "daily 2026-05-10: $0.50",
    ]
    heights = {title.split(":")[0]: float(h) for h, title in bars}
    # The tallest day (1.40) fills the plot; segments are proportional to spend.
    assert heights["daily 2026-05-09"] / heights["batch 2026-05-09"] == pytest.approx(2.5, rel=0.01)
    assert heights["daily 2026-05-09"] / heights["daily 2026-05-10"] == pytest.approx(2.0, rel=0.01)


def test_page_links_task_instances_and_escapes() -> None:
    odd = TaskRecord(
        "d<b>", "t&1", "manual__2026-05-10T05:12:49+00:00", 3, "failed", at(10), at(10), {"cost": 0.1}
    )
    html = render_page(SpendReport.build([*RECORDS, odd], days=7, today=TODAY), ui_root="/airflow/")
    assert "d<b>" not in html and "d&lt;b&gt;" in html
    path = task_instance_path("/airflow/", odd)
    run = "manual__2026-05-10T05%3A12%3A49%2B00%3A00"
    assert path == f"/airflow/dags/d%3Cb%3E/runs/{run}/tasks/t%261/mapped/3"
    assert f'target="_top" href="{path}"' in html
    assert '<option value="7" selected>' in html
    assert '<b data-metric="spend">$2.00</b>' in html and '<b data-metric="failures">2</b>' in html


def test_empty_window_says_so() -> None:
    html = render_page(SpendReport.build([], days=30, today=TODAY))
    assert "No Runware task ran in this window." in html and '<b data-metric="spend">$0.00</b>' in html
    assert '<option value="30" selected>' in html and "<rect" not in html
