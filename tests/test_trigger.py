"""RunwareVideoTrigger and the coalescing poller, with respx standing in for Runware's answers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_wan import poller
from airflow_provider_wan.triggers.video import RunwareVideoTrigger
from tests.conftest import API_KEY

BASE = "https://runware.test/v1"


def _trigger(task_uuid: str, **kwargs: Any) -> RunwareVideoTrigger:
    params: dict[str, Any] = {
        "task_uuid": task_uuid,
        "end_time": time.time() + 30,
        "poll_initial_delay": 0.0,
        "poll_interval": 0.01,
        "poll_max_interval": 0.02,
    }
    params.update(kwargs)
    return RunwareVideoTrigger(**params)


async def _first_event(trigger: RunwareVideoTrigger) -> dict[str, Any]:
    gen = trigger.run()
    event = await asyncio.wait_for(gen.__anext__(), timeout=20)
    with pytest.raises(StopAsyncIteration):  # exactly one event, then return
        await gen.__anext__()
    return dict(event.payload)


def _success(task_uuid: str, video: str = "v-1", cost: float = 0.75) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "status": "success",
        "videoUUID": video,
        "videoURL": f"https://cdn.test/{video}.mp4",
        "seed": 42,
        "NSFWContent": False,
        "cost": cost,
    }


def test_serialize_round_trip_plain_json_no_secret(runware_conn: str) -> None:
    trigger = _trigger(str(uuid.uuid4()), expected_results=3, coalesce=False)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_wan.triggers.video.RunwareVideoTrigger"
    text = json.dumps(kwargs)  # plain JSON types only
    assert API_KEY not in text and "password" not in text
    rebuilt = RunwareVideoTrigger(**json.loads(text))
    assert rebuilt.serialize() == (classpath, kwargs)


@respx.mock
async def test_success_after_processing(runware_conn: str) -> None:
    task = str(uuid.uuid4())
    respx.post(BASE).mock(
        side_effect=[
            httpx.Response(200, json={"data": [{"taskUUID": task, "status": "processing", "progress": 50}]}),
            httpx.Response(200, json={"data": [_success(task)], "errors": []}),
        ]
    )
    event = await _first_event(_trigger(task))
    assert event["status"] == "success" and event["task_uuid"] == task
    assert event["videos"][0]["video_url"] == "https://cdn.test/v-1.mp4" and event["cost"] == 0.75
    assert not poller._REGISTRY  # the shared poller closed with its last user


@pytest.mark.parametrize("shape", ["errors", "nested"])
@respx.mock
async def test_failure_shapes(runware_conn: str, shape: str) -> None:
    task = str(uuid.uuid4())
    error = {"code": "timeoutProvider", "message": "The external provider did not respond", "taskUUID": task}
    body = (
        {"errors": [{**error, "status": "error"}]}
        if shape == "errors"
        else {"data": [{"taskUUID": task, "status": "error", "error": error}]}
    )
    respx.post(BASE).mock(return_value=httpx.Response(200, json=body))
    event = await _first_event(_trigger(task))
    assert event["status"] == "error"
    assert event["error"]["code"] == "timeoutProvider" and event["error"]["task_uuid"] == task
    assert event["error"]["retryable"] is True


async def test_timeout_when_end_time_passed(runware_conn: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE)
        event = await _first_event(_trigger(str(uuid.uuid4()), end_time=time.time() - 1))
        assert route.call_count == 0
    assert event["status"] == "timeout" and "no cancel API" in event["message"]


@respx.mock
async def test_transient_failures_then_success(runware_conn: str) -> None:
    task = str(uuid.uuid4())
    respx.post(BASE).mock(
        side_effect=[
            httpx.Response(503, json={"errors": [{"code": "serviceUnavailable"}]}),
            httpx.ConnectError("refused"),
            httpx.Response(429, json={"errors": []}),
            httpx.Response(200, json={"data": [_success(task)]}),
        ]
    )
    # The connection's own retries (max_retries=1 here) are exhausted each time: the trigger tolerates them.
    import os

    from tests.conftest import runware_conn_json

    os.environ["AIRFLOW_CONN_RUNWARE_DEFAULT"] = runware_conn_json(BASE, max_retries=1)
    event = await _first_event(_trigger(task))
    assert event["status"] == "success"


@respx.mock
async def test_permanent_4xx_is_an_error_event(runware_conn: str) -> None:
    task = str(uuid.uuid4())
    route = respx.post(BASE).mock(
        return_value=httpx.Response(
            401, json={"errors": [{"code": "invalidApiKey", "message": "Invalid API key"}]}
        )
    )
    event = await _first_event(_trigger(task))
    assert route.call_count == 1
    assert event["status"] == "error" and event["error"]["code"] == "invalidApiKey"
    assert API_KEY not in json.dumps(event)


@respx.mock
async def test_many_triggers_share_one_request_per_tick(runware_conn: str) -> None:
    tasks = [str(uuid.uuid4()) for _ in range(250)]
    sizes: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sizes.append(len(body))
        return httpx.Response(
            200, json={"data": [_success(t["taskUUID"], video=t["taskUUID"]) for t in body]}
        )

    respx.post(BASE).mock(side_effect=answer)
    events = await asyncio.gather(*(_first_event(_trigger(t, poll_interval=0.0)) for t in tasks))
    assert all(e["status"] == "success" for e in events)
    assert {e["task_uuid"] for e in events} == set(tasks)
    assert sum(sizes) == 250 and len(sizes) <= 3  # 200 per request at most, not 250 requests
    assert max(sizes) <= 200


@respx.mock
async def test_batch_refused_falls_back_to_single_polls(runware_conn: str) -> None:
    tasks = [str(uuid.uuid4()) for _ in range(3)]

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if len(body) > 1:
            return httpx.Response(
                400, json={"errors": [{"code": "tooManyTasks", "message": "one at a time"}]}
            )
        return httpx.Response(200, json={"data": [_success(body[0]["taskUUID"])]})

    respx.post(BASE).mock(side_effect=answer)
    events = await asyncio.gather(*(_first_event(_trigger(t)) for t in tasks))
    assert [e["status"] for e in events] == ["success"] * 3


@respx.mock
async def test_same_task_twice_is_harmless(runware_conn: str) -> None:
    task = str(uuid.uuid4())
    respx.post(BASE).mock(return_value=httpx.Response(200, json={"data": [_success(task)]}))
    first, second = await asyncio.gather(_first_event(_trigger(task)), _first_event(_trigger(task)))
    assert first["status"] == second["status"] == "success"


@respx.mock
async def test_cancelled_trigger_does_not_break_the_others(runware_conn: str) -> None:
    slow, fast = str(uuid.uuid4()), str(uuid.uuid4())

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "data": [
                    _success(t["taskUUID"])
                    if t["taskUUID"] == fast
                    else {"taskUUID": t["taskUUID"], "status": "processing"}
                    for t in body
                ]
            },
        )

    respx.post(BASE).mock(side_effect=answer)
    waiting = asyncio.ensure_future(_first_event(_trigger(slow)))
    await asyncio.sleep(0.1)
    waiting.cancel()
    event = await _first_event(_trigger(fast))
    assert event["status"] == "success"
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_poll_arriving_during_a_flush_is_not_stranded() -> None:
    """Regression (found by the soak): a poll queued while a batch is in flight must still be sent."""
    from airflow_provider_wan.poller import CoalescingPoller
    from airflow_provider_wan.results import TaskState

    class SlowClient:
        is_closed = False
        calls: list[list[str]] = []

        async def get_responses(self, uuids: list[str]) -> dict[str, TaskState]:
            self.calls.append(list(uuids))
            await asyncio.sleep(0.3)
            return {u: TaskState(u) for u in uuids}

        async def aclose(self) -> None:
            pass

    client = SlowClient()
    poller = CoalescingPoller(client, window_seconds=0.05)  # type: ignore[arg-type]
    first = asyncio.ensure_future(poller.get("a"))
    await asyncio.sleep(0.15)  # "a" is in flight now
    second = asyncio.ensure_future(poller.get("b"))
    await first
    state = await asyncio.wait_for(second, 5)
    assert state.task_uuid == "b" and client.calls == [["a"], ["b"]]


def test_wait_step_failure_budget_grace_and_deadline() -> None:
    """The one completion step the trigger, the synchronous operator and the sensor share."""
    from airflow_provider_wan.errors import RunwareError
    from airflow_provider_wan.poller import MAX_CONSECUTIVE_FAILURES, Done, Failed, Poll, Wait
    from airflow_provider_wan.results import TaskState, VideoResult

    task = str(uuid.uuid4())
    wait, step = Wait(task, 1, submitted_at=0.0, end_time=100.0).start(0.0)
    assert isinstance(step, Poll) and wait.polls == 1
    for n in range(1, MAX_CONSECUTIVE_FAILURES):  # transient failures in a row: keep waiting, say so
        wait, step = wait.after(RunwareError("busy", code="serverError", category="server"), 1.0)
        assert isinstance(step, Poll) and step.warn and wait.failures == n
    _, step = wait.after(RunwareError("busy", code="serverError", category="server"), 1.0)
    assert isinstance(step, Failed) and step.error.task_uuid == task  # the one budget is spent
    wait, step = wait.after(TaskState(task), 2.0)  # a good poll resets the budget
    assert isinstance(step, Poll) and wait.failures == 0
    _, step = wait.after(RunwareError("bad key", code="invalidApiKey", category="auth"), 3.0)
    assert isinstance(step, Failed)  # permanent: no retry

    gone = TaskState(task, errors=[RunwareError("unknown task", code="taskNotFound", category="not_found")])
    assert isinstance(wait.after(gone, 30.0)[1], Poll)  # right after the submit: propagation delay
    _, step = wait.after(gone, 61.0)
    assert isinstance(step, Done) and step.event["status"] == "error"

    video = VideoResult(task, "v-1", "https://cdn.test/v-1.mp4", cost=0.5)
    _, step = wait.after(TaskState(task, results=[video]), 4.0)
    assert isinstance(step, Done) and step.event["videos"][0]["video_uuid"] == "v-1"
    assert step.event["cost"] == 0.5
    _, step = wait.after(TaskState(task, running=1), 100.0)
    assert isinstance(step, Done) and step.event["status"] == "timeout"


def test_trigger_kwargs_of_the_previous_release_deserialize() -> None:
    """Airflow re-creates triggers from the database after an upgrade, with the kwargs it stored."""
    stored = {
        "task_uuid": str(uuid.uuid4()),
        "runware_conn_id": "runware_default",
        "end_time": time.time() + 60,
        "expected_results": 2,
        "submitted_at": time.time(),
        "poll_initial_delay": 5.0,
        "poll_interval": 3.0,
        "poll_max_interval": 10.0,
        "poll_plateau_seconds": 88.0,
        "max_consecutive_failures": 5,
        "coalesce": True,
        "echo": {"estimated_cost": 0.5, "output_format": "MP4", "delivery_key": None, "duration": 5},
    }
    trigger = RunwareVideoTrigger(**stored)
    assert trigger.serialize()[1] == stored
    assert trigger.cadence.plateau_seconds == 88.0 and trigger.wait.expected_results == 2
