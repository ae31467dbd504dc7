"""RunwareHook over real HTTP on loopback against the emulator (the server plays Runware)."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_wan.errors import RunwareAuthError, RunwareError
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
