"""Each fault knob, observed by a real httpx client over loopback."""

from __future__ import annotations

import time
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
