"""Each fault knob, observed by a real httpx client over loopback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_wan.emulator.testing import RunningEmulator, running_emulator

from .helpers import poll, video_task


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(processing_seconds=0, seconds_per_output_second=0, seed=5) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(emu: RunningEmulator) -> None:
    emu.reset()


def test_429_with_retry_after(emu: RunningEmulator) -> None:
    emu.set_faults(p_429=1.0, retry_after=3)
    response = emu.call([video_task()])
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["errors"][0]["code"] == "rateLimitExceeded"
    emu.set_faults(retry_after=None)
    assert "retry-after" not in emu.call([video_task()]).headers
    ledger = emu.ledger()  # control routes are not faulted
    assert (
        ledger["faults_injected"] == {"429": 2}
        and ledger["submissions"] == 0
        and ledger["http_requests"] == 2
    )


@pytest.mark.parametrize(
    ("knob", "status", "code"), [("p_500", 500, "internalServerError"), ("p_503", 503, "serviceUnavailable")]
)
def test_server_errors(emu: RunningEmulator, knob: str, status: int, code: str) -> None:
    emu.set_faults(**{knob: 1.0})
    response = emu.call([video_task()])
    assert response.status_code == status and response.json()["errors"][0]["code"] == code
    assert emu.ledger()["submissions"] == 0


def test_dropped_connection_is_a_transport_error(emu: RunningEmulator) -> None:
    emu.set_faults(p_drop=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        emu.call([video_task()])
    assert emu.ledger()["faults_injected"] == {"drop": 1}
    emu.set_faults(p_drop=0.0)
    assert emu.call([video_task()]).status_code == 200  # the server is fine afterwards


def test_slow_answers(emu: RunningEmulator) -> None:
    emu.set_faults(p_slow=1.0, slow_seconds=0.3)
    started = time.monotonic()
    assert emu.call([video_task()]).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_lost_ack_still_creates_and_charges_the_task(emu: RunningEmulator, mode: str) -> None:
    emu.set_faults(p_ack_lost=1.0, ack_lost_mode=mode)
    task = video_task()
    if mode == "500":
        assert emu.call([task]).status_code == 500
    else:
        with pytest.raises(httpx.TransportError):
            emu.call([task])
    emu.set_faults(p_ack_lost=0.0)
    # The task exists: a resubmission conflicts (no second charge), polling finds it.
    retry = emu.call([task])
    assert retry.status_code == 400 and retry.json()["errors"][0]["code"] == "conflictTaskUUID"
    assert emu.call([poll(task["taskUUID"])]).json()["data"][0]["status"] == "success"
    ledger = emu.ledger()
    assert (ledger["submissions"], ledger["conflicts"], ledger["duplicates"]) == (1, 1, 0)
    assert ledger["charged_usd"] == pytest.approx(0.2)
    assert ledger["faults_injected"] == {"ack_lost": 1}


def test_lost_ack_only_affects_requests_that_created_tasks(emu: RunningEmulator) -> None:
    task = video_task()
    emu.call([task])
    emu.set_faults(p_ack_lost=1.0)
    assert emu.call([poll(task["taskUUID"])]).status_code == 200


def test_partial_probabilities_are_seeded(emu: RunningEmulator) -> None:
    emu.set_faults(p_500=0.5)
    statuses = [emu.call([video_task()]).status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35 and statuses.count(200) == 40 - statuses.count(500)


def test_generation_failure_over_http(emu: RunningEmulator) -> None:
    emu.set_faults(p_generation_fail=1.0)
    task = video_task()
    emu.call([task])
    response = emu.call([poll(task["taskUUID"])])
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert (error["code"], error["status"]) == ("timeoutProvider", "error")
    assert emu.ledger()["tasks"][0]["failure_code"] == "timeoutProvider"


def test_start_up_faults_survive_reset_and_runtime_ones_do_not() -> None:
    with running_emulator(p_503=1.0) as running:
        running.set_faults(p_429=1.0)
        running.reset()
        knobs = running.faults()
        assert (knobs["p_503"], knobs["p_429"]) == (1.0, 0.0)
        assert running.call([video_task()]).status_code == 503
        running.set_faults(p_500=1.0)
        running.reset(keep_faults=True)
        assert running.faults()["p_500"] == 1.0


def test_invalid_knob_is_refused(emu: RunningEmulator) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        emu.set_faults(failure_shape="sideways")
    with pytest.raises(httpx.HTTPStatusError):
        emu.set_faults(p_drop=-0.1)


# --- forbidden_keys: a genuine key without permission ----------------------------------------------

FORBIDDEN = {
    "errors": [
        {
            "code": "forbidden",
            "message": "This API key does not have permission to perform this request.",
            "parameter": "apiKey",
            "taskType": "authentication",
        }
    ]
}


def test_forbidden_keys_are_refused_with_403(emu: RunningEmulator) -> None:
    assert emu.set_faults(forbidden_keys=["read-only-key"])["forbidden_keys"] == ["read-only-key"]
    task = video_task()
    by_header = httpx.post(emu.base_url, json=[task], headers={"Authorization": "Bearer read-only-key"})
    assert (by_header.status_code, by_header.json()) == (403, FORBIDDEN)
    auth = {"taskType": "authentication", "apiKey": "read-only-key"}
    by_element = httpx.post(emu.base_url, json=[auth, poll(task["taskUUID"])])
    assert (by_element.status_code, by_element.json()) == (403, FORBIDDEN)
    # The key is genuine: authentication alone succeeds, and a good key beside it does not help.
    assert httpx.post(emu.base_url, json=[auth]).status_code == 200
    assert emu.call([auth, video_task()]).status_code == 403
    assert emu.call([task]).status_code == 200  # the accepted key still works, task not taken before
    ledger = emu.ledger()
    assert (ledger["forbidden_requests"], ledger["auth_failures"], ledger["submissions"]) == (3, 0, 1)
    assert ledger["requests"] == {"authentication": 1, "videoInference": 1}  # refused before any task

    # At run time, an accepted key can lose its permission; a removed forbidden key is unknown again.
    emu.set_faults(forbidden_keys=[emu.api_key])
    assert emu.call([video_task()]).status_code == 403
    emu.set_faults(forbidden_keys=[])
    assert emu.call([video_task()]).status_code == 200
    unknown = httpx.post(emu.base_url, json=[task], headers={"Authorization": "Bearer read-only-key"})
    assert unknown.status_code == 401 and unknown.json()["errors"][0]["code"] == "invalidApiKey"


def test_forbidden_keys_reject_empty_strings(emu: RunningEmulator) -> None:
    response = httpx.post(f"{emu.root_url}/_emulator/faults", json={"forbidden_keys": [""]})
    assert response.status_code == 400 and "forbidden_keys" in response.text
    assert emu.faults()["forbidden_keys"] == []


def test_provider_reports_a_forbidden_key_as_an_auth_error(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_wan.errors import RunwareAuthError
    from airflow_provider_wan.hooks.runware import RunwareHook
    from tests.conftest import API_KEY

    emulator.set_faults(forbidden_keys=[API_KEY])
    ok, message = RunwareHook().test_connection()
    assert not ok and "forbidden" in message and API_KEY not in message
    with RunwareHook() as hook, pytest.raises(RunwareAuthError) as info:
        hook.get_responses([str(uuid.uuid4())])
    assert info.value.http_status == 403 and info.value.code == "forbidden"
    assert emulator.ledger()["http_requests"] == 2  # 403 is never retried
