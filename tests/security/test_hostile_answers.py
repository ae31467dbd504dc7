"""Runware's answers are untrusted: one bad item fails only its own task, never a batch or a trigger.

Driven through the client (respx: a real server cannot be made to send NaN) and the one completion step
(``poller.Wait``) that the trigger, the sensor and the synchronous operator share.
"""

from __future__ import annotations

import logging
import time

import httpx
import pytest
import respx
from pydantic import SecretStr

from airflow_provider_wan.client import ClientConfig, RunwareClient
from airflow_provider_wan.errors import RunwareError, RunwareTransportError
from airflow_provider_wan.poller import Done, Failed, Poll, Wait
from airflow_provider_wan.results import Envelope, group_by_task
from airflow_provider_wan.retry import RetryPolicy

BASE = "https://runware.test/v1"
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
URL = "https://vm.runware.ai/video/x.mp4"


def _client() -> RunwareClient:
    config = ClientConfig(api_key=SecretStr("k"), base_url=BASE, retry=RetryPolicy(max_retries=1))
    return RunwareClient(config, sleep=lambda s: None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"taskUUID": "%s", "status": "success", "seed": NaN}]}' % A.encode(),
        b'{"data": [{"taskUUID": "%s", "status": "success", "cost": Infinity}]}' % A.encode(),
        b'{"data": [{"taskUUID": "%s", "status": "success", "seed": 1e400}]}' % A.encode(),
    ],
)
@respx.mock
def test_non_finite_numbers_are_not_json(body: bytes) -> None:
    respx.post(BASE).mock(return_value=httpx.Response(200, content=body))
    with _client() as client, pytest.raises(RunwareTransportError, match="not JSON"):
        client.get_responses([A])


def _states(*items: dict[str, object]) -> dict[str, object]:
    return group_by_task(Envelope.parse({"data": list(items)}), [A, B])  # type: ignore[return-value]


def _step(state: object, task_uuid: str = A) -> object:
    now = time.time()
    _, step = Wait(task_uuid, 1, now - 5, now + 600).after(state, now)  # type: ignore[arg-type]
    return step


@pytest.mark.parametrize("status", ["cancelled", "canceled", "rejected", "expired", "failed", "aborted"])
def test_terminal_looking_statuses_fail_at_once_naming_the_task(status: str) -> None:
    states = _states({"taskUUID": A, "status": status}, {"taskUUID": B, "status": "processing"})
    step = _step(states[A])
    assert isinstance(step, Done) and step.event["status"] == "error"
    error = step.event["error"]
    assert error is not None and error["task_uuid"] == A and status in error["message"]
    assert isinstance(_step(states[B], B), Poll)  # the other task of the batch keeps waiting


def test_success_without_a_video_url_fails_instead_of_succeeding() -> None:
    states = _states(
        {"taskUUID": A, "status": "success", "videoUUID": "v1"},
        {"taskUUID": B, "status": "success", "videoUUID": "v2", "videoURL": URL},
    )
    failed, succeeded = _step(states[A]), _step(states[B], B)
    assert isinstance(failed, Done) and failed.event["status"] == "error"
    assert failed.event["error"] is not None and failed.event["error"]["code"] == "missingVideoURL"
    assert isinstance(succeeded, Done) and succeeded.event["status"] == "success"
    assert succeeded.event["videos"][0]["video_url"] == URL


def test_unknown_status_keeps_waiting_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_wan.results"):
        states = _states({"taskUUID": A, "status": "thinking-hard"})
    assert isinstance(_step(states[A]), Poll)
    assert "thinking-hard" in caplog.text and A in caplog.text


def test_one_batch_error_is_never_shared_between_triggers() -> None:
    shared = RunwareError("gateway said no", code="invalidApiKey", http_status=401)
    now = time.time()
    steps = [Wait(uuid, 1, now, now + 600).after(shared, now)[1] for uuid in (A, B)]
    assert all(isinstance(s, Failed) for s in steps)
    errors = [s.error for s in steps]  # type: ignore[union-attr]
    assert [e.task_uuid for e in errors] == [A, B] and errors[0] is not errors[1]
    assert shared.task_uuid is None  # the batch's own object is left as it was
