"""RunwareVideoSensor against the emulator: how many videos to wait for after a fire-and-forget submit.

The sensor never sees the request, so by default it reads ``numberResults`` back from Runware's
``getTaskDetails``. The emulator's ledger counts those lookups (``requests["getTaskDetails"]``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import httpx
import pytest
import respx

from airflow_provider_wan import poller
from airflow_provider_wan.compat import TaskDeferred
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor, number_results_from_details
from airflow_provider_wan.triggers.video import RunwareVideoTrigger
from tests.conftest import CONTRACT_KEYS


def _ti(task_id: str = "submit") -> mock.MagicMock:
    return mock.MagicMock(dag_id="sensor_tests", task_id=task_id, run_id="r1", map_index=-1, start_date=None)


def _submit(number_results: int, prompt: str = "three takes of a kite over dunes") -> str:
    """Fire and forget, as a ``wait_for_completion=False`` operator does; returns the task UUID."""
    op = WanVideoOperator(
        task_id="submit",
        positive_prompt=prompt,
        size="720p_16_9",
        duration=2,
        number_results=number_results,
        wait_for_completion=False,
    )
    submitted = op.execute({"ti": _ti()})  # type: ignore[arg-type]
    assert submitted is not None and submitted["status"] == "submitted"
    task_uuid: str = submitted["task_uuid"]
    return task_uuid


def _details_lookups(emulator: Any) -> int:
    count: int = emulator.ledger()["requests"].get("getTaskDetails", 0)
    return count


def test_poke_mode_waits_for_every_requested_video(emulator) -> None:  # type: ignore[no-untyped-def]
    # Results land 0.6 s apart: a sensor that stops at the first video returns one of three.
    emulator.set_faults(result_stagger_seconds=0.6)
    task_uuid = _submit(3)
    sensor = RunwareVideoSensor(task_id="wait", task_uuid=task_uuid, poke_interval=0.1, timeout=60)
    value = sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
    assert set(value) == CONTRACT_KEYS and value["status"] == "success"
    assert len({v["video_uuid"] for v in value["videos"]}) == 3
    assert value["cost"] == pytest.approx(3 * 0.2)
    # Looked up once for the whole execute, although the sensor poked several times after video 1.
    assert _details_lookups(emulator) == 1
    assert emulator.ledger()["submissions"] == 1


def test_deferrable_mode_hands_the_count_to_the_trigger(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(processing_seconds=30)  # still running at the first check: the sensor defers
    task_uuid = _submit(3)
    sensor = RunwareVideoSensor(
        task_id="wait", task_uuid=task_uuid, poke_interval=0.1, timeout=60, deferrable=True
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
    _, kwargs = info.value.trigger.serialize()
    assert kwargs["expected_results"] == 3
    assert _details_lookups(emulator) == 1

    # What the triggerer does: rebuild from the serialized kwargs, run to the one event.
    emulator.advance_clock(120)
    trigger = RunwareVideoTrigger(**kwargs)

    async def only_event() -> dict[str, Any]:
        events = trigger.run()
        event = await asyncio.wait_for(events.__anext__(), timeout=30)
        with pytest.raises(StopAsyncIteration):  # one event, then the trigger returns (poller closed)
            await events.__anext__()
        return dict(event.payload)

    event = asyncio.run(only_event())
    assert not poller._REGISTRY
    assert event["status"] == "success" and event["expected_results"] == 3
    # The worker resumes on a fresh instance and reads everything from the event.
    fresh = RunwareVideoSensor(task_id="wait", task_uuid=task_uuid, deferrable=True)
    value = fresh.execute_complete({"ti": _ti("wait")}, event)  # type: ignore[arg-type]
    assert len({v["video_uuid"] for v in value["videos"]}) == 3
    assert value["cost"] == pytest.approx(3 * 0.2)
    assert _details_lookups(emulator) == 1


def test_reschedule_mode_looks_up_only_once_a_video_is_in(emulator) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_wan.compat import AirflowRescheduleException

    # Results due at ~5 s, ~305 s and ~605 s of emulator time; the clock is moved by hand.
    emulator.set_faults(processing_seconds=5, result_stagger_seconds=300)
    task_uuid = _submit(3)

    def poke_once() -> Any:
        # Every reschedule-mode poke is a fresh instance in a fresh process: nothing cached survives.
        ti = _ti("wait")
        ti.get_first_reschedule_date.return_value = None
        sensor = RunwareVideoSensor(
            task_id="wait", task_uuid=task_uuid, mode="reschedule", poke_interval=60, timeout=3600
        )
        return sensor.execute({"ti": ti})  # type: ignore[arg-type]

    with pytest.raises(AirflowRescheduleException):
        poke_once()
    assert _details_lookups(emulator) == 0  # nothing finished: the count cannot matter yet
    emulator.advance_clock(10)
    with pytest.raises(AirflowRescheduleException):
        poke_once()  # 1 of 3 in: looked up, and not mistaken for done
    assert _details_lookups(emulator) == 1
    emulator.advance_clock(600)
    value = poke_once()
    assert len({v["video_uuid"] for v in value["videos"]}) == 3
    assert _details_lookups(emulator) == 2


def test_explicit_expected_results_skips_the_lookup(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(result_stagger_seconds=0.3)
    task_uuid = _submit(2, prompt="two takes of a heron")
    sensor = RunwareVideoSensor(
        task_id="wait",
        task_uuid=task_uuid,
        expected_results=2,
        model="alibaba:wan@2.7",  # with the count, everything getTaskDetails would have told
        poke_interval=0.1,
        timeout=60,
    )
    value = sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
    assert len(value["videos"]) == 2 and value["model"] == "alibaba:wan@2.7"
    assert _details_lookups(emulator) == 0
    # Without the model, one lookup at the end says which model Runware ran.
    sensor = RunwareVideoSensor(
        task_id="wait", task_uuid=task_uuid, expected_results=2, poke_interval=0.1, timeout=60
    )
    assert sensor.execute({"ti": _ti("wait")})["model"] == "alibaba:wan@2.7"  # type: ignore[arg-type]
    assert _details_lookups(emulator) == 1


def test_single_result_request_needs_no_numberresults_field(emulator) -> None:  # type: ignore[no-untyped-def]
    # numberResults=1 is the default and is left out of the wire request: absent means 1.
    task_uuid = _submit(1, prompt="one take of a lighthouse")
    sensor = RunwareVideoSensor(task_id="wait", task_uuid=task_uuid, poke_interval=0.1, timeout=60)
    value = sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
    assert len(value["videos"]) == 1
    # One video in: whether that is all depends on the count, so it was looked up, once.
    assert _details_lookups(emulator) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"errors": [{"code": "internalServerError", "message": "boom"}]}),
        httpx.Response(200, json={"data": [{"taskType": "getTaskDetails", "taskUUID": "{uuid}"}]}),
    ],
    ids=["getTaskDetails-fails", "no-request-in-details"],
)
def test_lookup_failure_falls_back_to_one_video_with_warning(emulator, capfd, answer) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(result_stagger_seconds=600)
    task_uuid = _submit(3)
    emulator.advance_clock(5)  # video 1 is in, videos 2 and 3 are minutes away
    body = answer.content.decode().replace("{uuid}", task_uuid)
    # The emulator cannot fail getTaskDetails alone: respx answers that one call, the rest go through.
    with respx.mock(assert_all_called=True) as router:
        router.post(emulator.base_url, json__0__taskType="getTaskDetails").mock(
            return_value=httpx.Response(answer.status_code, content=body.encode())
        )
        router.route().pass_through()
        sensor = RunwareVideoSensor(task_id="wait", task_uuid=task_uuid, poke_interval=0.1, timeout=30)
        value = sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
    assert len(value["videos"]) == 1  # returned at the first video instead of failing or hanging
    out = "".join(capfd.readouterr())
    assert "waiting for 1 video" in out and f"task {task_uuid}" in out


@pytest.mark.parametrize("bad", [0, 21, -1, True, "3", 2.0])
def test_bad_expected_results_named_before_any_request(emulator, bad: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequestError) as info:
        RunwareVideoSensor(
            task_id="wait",
            task_uuid="11111111-2222-4333-8444-555555555555",
            expected_results=bad,  # type: ignore[arg-type]
        )
    assert info.value.parameter == "expected_results" and "expected_results" in str(info.value)
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize("deferrable", [False, True])
def test_bad_expected_results_set_after_construction_fails_before_any_request(  # type: ignore[no-untyped-def]
    emulator, deferrable: bool
) -> None:
    sensor = RunwareVideoSensor(
        task_id="wait", task_uuid="11111111-2222-4333-8444-555555555555", deferrable=deferrable
    )
    sensor.expected_results = 21
    with pytest.raises(InvalidRequestError, match="expected_results"):
        if deferrable:
            sensor.execute({"ti": _ti("wait")})  # type: ignore[arg-type]
        else:
            sensor.poke({"ti": _ti("wait")})  # type: ignore[arg-type]
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"request": [{"taskType": "videoInference", "numberResults": 3}]}, 3),
        ({"request": {"taskType": "videoInference", "numberResults": 2}}, 2),  # one object, not a list
        ({"request": [{"taskType": "videoInference"}]}, 1),  # absent: the default
        ({"request": [{"taskType": "imageInference", "numberResults": 4}]}, None),
        ({"request": [{"taskType": "videoInference", "numberResults": "three"}]}, None),
        ({"request": [{"taskType": "videoInference", "numberResults": True}]}, None),
        ({"request": []}, None),
        ({}, None),
    ],
)
def test_number_results_from_details_shapes(details: dict[str, Any], expected: int | None) -> None:
    assert number_results_from_details(details) == expected
