"""The poll cadence: a schedule counted from the submit, independent of the requested duration, and the
poller's cap on requests per flush. Pure steps on a simulated clock: speed goals are benchmarks (B2, B3)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_wan.poller import (
    DEFAULT_CADENCE,
    CoalescingPoller,
    Done,
    Poll,
    PollCadence,
    Wait,
    schedule_phase,
)
from airflow_provider_wan.results import TaskState, VideoResult

BASE = "https://runware.test/v1"


def _uuid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cadence-{i}"))


def test_the_requested_duration_no_longer_shapes_the_cadence() -> None:
    assert PollCadence.for_video(2) == PollCadence.for_video(15, 4) == DEFAULT_CADENCE
    mine = PollCadence.for_video(5, initial_delay=7, interval=3, max_interval=20)
    assert (mine.initial_delay, mine.interval, mine.max_interval) == (7, 3, 20)


def test_schedule_counts_from_the_submit_not_from_the_last_poll() -> None:
    cadence = PollCadence(initial_delay=2, interval=2, max_interval=10, plateau_seconds=600)
    at = cadence.next_poll
    assert at(submitted_at=100, now=100) == 102
    assert at(submitted_at=100, now=100, phase=0.5) == 103  # spread by the task's phase
    # A slow answer does not push the schedule back: the next poll stays on the grid.
    assert at(submitted_at=100, now=102.9) == 104
    assert at(submitted_at=100, now=111.2) == 112
    # A late start polls at once; a running wait keeps to the grid.
    assert at(submitted_at=100, now=130.5, started=False) == 130.5
    assert at(submitted_at=100, now=130.5) == 132
    # Long past the plateau the interval grows to max_interval; failures back off.
    assert cadence.step(100) == 2 and cadence.step(608) == 4 and cadence.step(5000) == 10
    assert at(submitted_at=100, now=708) == 712
    assert at(submitted_at=100, now=150, failures=2) == pytest.approx(150 + 2 * 1.5**2)
    assert at(submitted_at=100, now=150, failures=9) == 160
    assert PollCadence(plateau_seconds=None).step(1e6) == DEFAULT_CADENCE.interval


def test_phases_spread_tasks_submitted_together() -> None:
    phases = [schedule_phase(_uuid(i)) for i in range(2000)]
    assert all(0 <= p < 1 for p in phases) and schedule_phase(_uuid(1)) == schedule_phase(_uuid(1))
    bins = [0] * 10
    for p in phases:
        bins[int(p * 10)] += 1
    assert min(bins) > 120 and max(bins) < 280  # ~200 each: no herd on one slot


@pytest.mark.parametrize("generation", [10.0, 60.0, 300.0])
@pytest.mark.parametrize("duration", [2, 15])
def test_detection_and_cost_whatever_the_generation_takes(generation: float, duration: int) -> None:
    """Simulated clock: each job is noticed within one interval, at <= 1 poll per job per 2 s."""
    for i in range(50):
        task = _uuid(i)
        wait = Wait(task, 1, submitted_at=0.0, end_time=3600.0, cadence=PollCadence.for_video(duration))
        wait, step = wait.start(0.0)
        now, polls = 0.0, 0
        while isinstance(step, Poll):
            now += step.delay
            polls += 1
            done = now >= generation
            state = TaskState(
                task, results=[VideoResult(task, "v", "https://cdn.test/v.mp4")] if done else []
            )
            wait, step = wait.after(state, now)
        assert isinstance(step, Done) and step.event["status"] == "success"
        assert 0 <= now - generation <= DEFAULT_CADENCE.interval + 1e-9
        assert polls <= now / 2 + 1e-9


def test_a_restarted_trigger_polls_at_once_when_the_job_is_overdue() -> None:
    task = _uuid(7)
    wait = Wait(task, 1, submitted_at=1000.0, end_time=2000.0)
    _, step = wait.start(1030.0)  # the triggerer restarted 30 s after the submit
    assert isinstance(step, Poll) and step.delay == 0
    _, step = wait.start(1000.5)  # on time: the first poll is on its schedule
    expected = DEFAULT_CADENCE.initial_delay + schedule_phase(task) * DEFAULT_CADENCE.interval - 0.5
    assert isinstance(step, Poll) and step.delay == pytest.approx(expected)


async def test_a_burst_of_polls_is_capped_per_flush() -> None:
    """5,000 triggers falling due at once (a restarted triggerer) go out <= 8 requests per grid slot."""
    seen: list[int] = []

    class Client:
        is_closed = False

        async def get_responses(self, uuids: list[str]) -> dict[str, TaskState]:
            seen.append(len(poller._pending))  # what is left for later slots
            return {u: TaskState(u) for u in uuids}

        async def aclose(self) -> None:
            pass

    poller = CoalescingPoller(Client(), window_seconds=0.01, max_requests_per_flush=8)  # type: ignore[arg-type]
    states = await asyncio.gather(*(poller.get(_uuid(i)) for i in range(5000)))
    assert len(states) == 5000 and len(seen) == 25
    assert seen == [3400] * 8 + [1800] * 8 + [200] * 8 + [0]


@respx.mock
async def test_trigger_logs_the_time_from_the_submit(
    runware_conn: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    task = _uuid(3)
    answer = {"taskType": "videoInference", "taskUUID": task, "status": "success", "videoUUID": "v"}
    answer["videoURL"] = "https://cdn.test/v.mp4"
    respx.post(BASE).mock(return_value=httpx.Response(200, json={"data": [answer]}))
    submitted = time.time() - 42
    trigger = RunwareVideoTrigger(
        task_uuid=task, end_time=time.time() + 30, submitted_at=submitted, poll_interval=0.05
    )
    events = [e async for e in trigger.run()]
    assert events[0].payload["status"] == "success"
    out = "".join(capfd.readouterr())
    line = next(line for line in out.splitlines() if f"Task {task} finished: success, " in line)
    seconds = float(line.split("finished: success, ")[1].split("s after the submit")[0])
    assert 42 <= seconds < 60


async def test_triggers_starting_together_share_one_connection_lookup(
    runware_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_wan.errors import RunwareError
    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.triggers import video

    calls: list[str] = []
    original = RunwareHook.aconfig

    async def counted(self: RunwareHook) -> Any:
        calls.append(self.runware_conn_id)
        return await original(self)

    monkeypatch.setattr(RunwareHook, "aconfig", counted)
    video._lookups.clear()
    configs = await asyncio.gather(*(video._connection_config("runware_default") for _ in range(50)))
    assert calls == ["runware_default"] and all(c is configs[0] for c in configs)

    async def failing(self: RunwareHook) -> Any:
        calls.append("failed")
        raise RunwareError("bad connection", code="invalidConnection")

    monkeypatch.setattr(RunwareHook, "aconfig", failing)
    video._lookups.clear()
    for _ in range(2):  # a failed lookup is not reused: the next trigger asks again
        with pytest.raises(RunwareError):
            await video._connection_config("runware_default")
    assert calls.count("failed") == 2
