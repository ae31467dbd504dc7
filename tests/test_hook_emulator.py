"""RunwareHook over real HTTP on loopback against the emulator (the server plays Runware)."""

from __future__ import annotations

import time
import uuid

import pytest

from airflow_provider_wan.client import AsyncRunwareClient, RunwareClient
from airflow_provider_wan.errors import (
    RunwareAuthError,
    RunwareError,
    RunwareRateLimitError,
    RunwareTimeoutError,
)
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.models import WanVideoRequest
from tests.conftest import API_KEY, runware_conn_json


def _req(**kw: object) -> WanVideoRequest:
    return WanVideoRequest(
        **{"positive_prompt": "a paper boat on a river", "width": 1280, "height": 720, "duration": 2, **kw}
    )


def test_ack_poll_many_in_one_request_and_resubmit_conflict(emulator) -> None:  # type: ignore[no-untyped-def]
    uuids = [str(uuid.uuid4()) for _ in range(3)]
    with RunwareHook() as hook:
        for u in uuids:
            ack = hook.submit_video(_req(number_results=2), u)
            assert ack.task_uuid == u and not ack.already_submitted
        # Resubmitting an accepted UUID is "already submitted", never a second charge.
        assert hook.submit_video(_req(number_results=2), uuids[0]).already_submitted
        before = emulator.ledger()["http_requests"]
        states = hook.get_responses(uuids)
        assert emulator.ledger()["http_requests"] == before + 1  # ONE request for three tasks
        assert set(states) == set(uuids)
        emulator.advance_clock(60)
        states = hook.get_responses(uuids)
        for u in uuids:
            assert states[u].status(2) == "success"
            assert len({r.video_uuid for r in states[u].results}) == 2
            assert all(r.cost == pytest.approx(0.2) for r in states[u].results)
        # Cumulative: polling again returns the same items.
        again = hook.get_responses(uuids[:1])
        assert [r.video_uuid for r in again[uuids[0]].results] == [
            r.video_uuid for r in states[uuids[0]].results
        ]
        details = hook.get_task_details(uuids[0])
        assert details["taskUUID"] == uuids[0]
    ledger = emulator.ledger()
    assert ledger["submissions"] == 3 and ledger["conflicts"] == 1
    assert ledger["charged_usd"] == pytest.approx(3 * 2 * 0.2)


def test_unknown_task_is_not_found_state(emulator) -> None:  # type: ignore[no-untyped-def]
    missing = str(uuid.uuid4())
    with RunwareHook() as hook:
        state = hook.get_responses([missing])[missing]
    assert state.status() == "error" and state.errors[0].category == "not_found"


def test_validation_error_names_parameter(emulator) -> None:  # type: ignore[no-untyped-def]
    # Bypass our own validation to see the server's answer: a raw wire task with a bad duration.
    task = _req().to_wire(task_uuid=str(uuid.uuid4()))
    task["duration"] = 99
    with RunwareHook() as hook, pytest.raises(RunwareError) as info:
        status, envelope = hook.client.post_tasks([task])
        from airflow_provider_wan.client import parse_submit

        parse_submit(envelope, status, task["taskUUID"])
    assert info.value.parameter == "duration" and info.value.category == "validation"


def test_test_connection_good_and_bad_key(emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ok, message = RunwareHook().test_connection()
    assert ok, message
    assert emulator.ledger()["submissions"] == 0 and emulator.ledger()["charged_usd"] == 0
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator.base_url, api_key="wrong-key-42")
    )
    ok, message = RunwareHook().test_connection()
    assert not ok and "invalidApiKey" in message and "wrong-key-42" not in message


def test_bad_key_raises_auth_error_without_key(emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator.base_url, api_key="nope-nope")
    )
    with RunwareHook() as hook, pytest.raises(RunwareAuthError) as info:
        hook.submit_video(_req(), str(uuid.uuid4()))
    assert "nope-nope" not in str(info.value) and "nope-nope" not in repr(info.value)
    assert API_KEY not in str(info.value)


def test_upload_media_returns_uuid_usable_in_inputs(emulator) -> None:  # type: ignore[no-untyped-def]
    import base64
    import io

    import av  # noqa: F401  (PyAV present in the dev environment)

    png = _tiny_png()
    with RunwareHook() as hook:
        upload = hook.upload_media(png)
        assert upload.media_uuid
        request = WanVideoRequest(frame_images=[upload.media_uuid], duration=2, resolution="720p")
        ack = hook.submit_video(request, str(uuid.uuid4()))
        assert not ack.already_submitted
        data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
        assert hook.upload_media(data_uri).media_uuid
    del io


def _tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80\x20\x20" * 16 for _ in range(9))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 9, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_async_twin_against_emulator(emulator) -> None:  # type: ignore[no-untyped-def]
    u = str(uuid.uuid4())
    async with RunwareHook() as hook:
        ack = await hook.asubmit_video(_req(), u)
        assert not ack.already_submitted
        emulator.advance_clock(60)
        states = await hook.aget_responses([u])
    assert states[u].status() == "success"


# -- both failure shapes, over real HTTP ------------------------------------------------------------


@pytest.mark.parametrize("http_status", [200, 400])
@pytest.mark.parametrize("shape", ["errors", "nested"])
def test_failed_generation_in_both_shapes(emulator, shape: str, http_status: int) -> None:  # type: ignore[no-untyped-def]
    # "errors": flat item in the top-level errors[]; "nested": data[] item with an error object.
    emulator.set_faults(p_generation_fail=1.0, failure_shape=shape, generation_failure_status=http_status)
    u = str(uuid.uuid4())
    with RunwareHook() as hook:
        hook.submit_video(_req(number_results=2), u)
        emulator.advance_clock(60)
        state = hook.get_responses([u])[u]
    assert state.status(2) == "error" and not state.results and len(state.errors) == 2
    error = state.errors[0]
    assert isinstance(error, RunwareTimeoutError) and error.retryable
    assert error.code == "timeoutProvider" and error.task_uuid == u and error.category == "timeout"
    assert error.documentation and "did not respond" in error.message
    assert emulator.ledger()["requests"]["getResponse"] == 1  # a failed generation is not retried


async def test_failed_generation_nested_shape_async(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(p_generation_fail=1.0, failure_shape="nested")
    u = str(uuid.uuid4())
    async with RunwareHook() as hook:
        await hook.asubmit_video(_req(), u)
        emulator.advance_clock(60)
        state = (await hook.aget_responses([u]))[u]
    assert state.status() == "error" and state.errors[0].code == "timeoutProvider"


# -- 429 with Retry-After ---------------------------------------------------------------------------


def _open_after_first_wait(emulator, waits: list[float]):  # type: ignore[no-untyped-def]
    """A sleep that really sleeps, and turns the 429 fault off once the client has decided to wait.

    The emulator's 429 is a per-request probability; switching it off between the attempts makes
    "one 429, then success" deterministic without guessing at timing.
    """

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.set_faults(p_429=0.0)
        time.sleep(seconds)

    return sleep


def test_429_retry_after_then_success(emulator) -> None:  # type: ignore[no-untyped-def]
    # Retry-After (1 s) is far above the connection's backoff_max (0.05 s): it must be waited in full.
    emulator.set_faults(p_429=1.0, retry_after=1)
    u = str(uuid.uuid4())
    waits: list[float] = []
    hook = RunwareHook()
    started = time.monotonic()
    with RunwareClient(hook.config, sleep=_open_after_first_wait(emulator, waits)) as client:
        ack = client.submit_video(_req(), u)
    elapsed = time.monotonic() - started
    assert ack.task_uuid == u and not ack.already_submitted
    assert waits and waits[0] >= 1.0 and elapsed >= 1.0  # lower bounds only: the machine is shared
    ledger = emulator.ledger()
    assert ledger["faults_injected"] == {"429": 1}
    assert ledger["http_requests"] == 2 and ledger["submissions"] == 1


async def test_429_retry_after_then_success_async(emulator) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    emulator.set_faults(p_429=1.0, retry_after=1)
    waits: list[float] = []
    flip = _open_after_first_wait(emulator, [])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.to_thread(flip, 0)  # the control call is blocking: keep it off the event loop
        await asyncio.sleep(seconds)

    u = str(uuid.uuid4())
    hook = RunwareHook()
    started = time.monotonic()
    async with AsyncRunwareClient(await hook.aconfig(), sleep=sleep) as client:
        states = await client.get_responses([u])
    assert time.monotonic() - started >= 1.0 and waits and waits[0] >= 1.0
    assert u in states  # the retried poll was answered (an unknown task: not found)
    ledger = emulator.ledger()
    assert ledger["faults_injected"] == {"429": 1} and ledger["http_requests"] == 2


def test_retry_after_beyond_the_retry_budget_fails_at_once(emulator) -> None:  # type: ignore[no-untyped-def]
    # The test connection allows 5 s of retrying in all; the server asks for 60.
    emulator.set_faults(p_429=1.0, retry_after=60)
    started = time.monotonic()
    with RunwareHook() as hook, pytest.raises(RunwareRateLimitError) as info:
        hook.get_responses([str(uuid.uuid4())])
    assert time.monotonic() - started < 30  # did not sit out the 60 s, nor retry early
    assert "asked to wait 60 s" in str(info.value) and info.value.code == "rateLimitExceeded"
    ledger = emulator.ledger()
    assert ledger["faults_injected"] == {"429": 1} and ledger["http_requests"] == 1
