"""Each item of Runware's answer is checked on its own: a bad one fails only its task, naming it; the answer
is read only up to a size cap; and every waiting trigger gets its own error object.

A real server on loopback (:mod:`tests.security.hostile_api`) sends the raw bytes: numbers far past a
float, odd types, bodies past the cap, announced or not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from airflow_provider_wan.client import AsyncRunwareClient, ClientConfig, RunwareClient
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.media.downloads import DownloadPolicy
from airflow_provider_wan.poller import CoalescingPoller, Done, Failed, Wait, shared_poller
from airflow_provider_wan.results import xcom_value
from airflow_provider_wan.retry import RetryPolicy
from tests.security.hostile_api import HostileApi

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
X = "cccccccc-0000-4000-8000-000000000003"
URL = "https://vm.runware.ai/video/ws/0.5/vi/{}.mp4"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def _server() -> Iterator[HostileApi]:
    api = HostileApi()
    yield api
    api.close()


@pytest.fixture
def hostile_api(_server: HostileApi) -> HostileApi:
    return _server.reset()


def _config(api: HostileApi, **kwargs: Any) -> ClientConfig:
    retry = kwargs.pop("retry", RetryPolicy(max_retries=1))
    return ClientConfig(api_key=SecretStr("k"), base_url=api.base_url, retry=retry, **kwargs)


def _item(task_uuid: str, **fields: Any) -> dict[str, Any]:
    item = {"taskType": "videoInference", "taskUUID": task_uuid, "status": "success"}
    item |= {
        "videoUUID": f"video-{task_uuid[:4]}",
        "videoURL": URL.format(task_uuid[:4]),
        "seed": 7,
        "cost": 0.3,
    }
    return item | fields


def _raw_answer(bad_field: str, raw_value: str) -> bytes:
    """A's item with one field replaced by raw JSON text (``1`` followed by 400 zeros is valid JSON)."""
    marker = "__RAW__"
    text = json.dumps({"data": [_item(A, **{bad_field: marker}), _item(B)]})
    return text.replace(json.dumps(marker), raw_value).encode()


BAD_ITEMS = {
    "seed-past-a-float": ("seed", "1" + "0" * 400),
    "seed-of-5000-digits": ("seed", "9" * 5000),
    "seed-negative": ("seed", "-3"),
    "seed-fraction": ("seed", "1.5"),
    "seed-past-uint32": ("seed", str(2**32)),
    "cost-negative": ("cost", "-0.3"),
    "cost-past-a-float": ("cost", "1" + "0" * 400),
    "url-file": ("videoURL", '"file:///etc/passwd"'),
    "url-javascript": ("videoURL", '"javascript:alert(1)"'),
    "url-relative": ("videoURL", '"/video/a.mp4"'),
    "url-ftp": ("videoURL", '"ftp://files.example/a.mp4"'),
    "url-plain-http": ("videoURL", '"http://vm.runware.ai/video/a.mp4"'),
    "video-uuid-not-a-string": ("videoUUID", '{"id": 1}'),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_a_bad_item_fails_only_its_own_task(case: str, hostile_api: HostileApi) -> None:
    field, raw = BAD_ITEMS[case]
    hostile_api.reply(_raw_answer(field, raw))
    with RunwareClient(_config(hostile_api)) as client:
        states = client.get_responses([A, B])

    now = time.time()
    steps = {uuid: Wait(uuid, 1, now - 5, now + 600).after(states[uuid], now)[1] for uuid in (A, B)}
    failed, succeeded = steps[A], steps[B]
    assert isinstance(failed, Done) and failed.event["status"] == "error"
    error = failed.event["error"]
    assert error is not None and error["task_uuid"] == A and error["code"] == "invalidAnswer"
    assert field in error["message"] and A in error["message"]
    assert isinstance(succeeded, Done) and succeeded.event["status"] == "success"
    value = xcom_value(succeeded.event)
    assert value["task_uuid"] == B and value["video_urls"] == [URL.format(B[:4])] and value["cost"] == 0.3


def test_plain_http_video_urls_pass_only_when_downloads_allow_http(hostile_api: HostileApi) -> None:
    hostile_api.reply({"data": [_item(A, videoURL="http://127.0.0.1:8765/video/a.mp4")]})
    with RunwareClient(_config(hostile_api)) as client:
        assert client.get_responses([A])[A].status() == "error"
    allowed = _config(hostile_api, downloads=DownloadPolicy(allow_http=True))
    with RunwareClient(allowed) as client:
        (result,) = client.get_responses([A])[A].results
    assert result.video_url == "http://127.0.0.1:8765/video/a.mp4"


@pytest.mark.parametrize("announce", [True, False], ids=["announced", "unannounced"])
def test_an_answer_past_the_size_cap_is_not_read_nor_retried(announce: bool, hostile_api: HostileApi) -> None:
    hostile_api.announce = announce
    hostile_api.reply({"data": [_item(A, padding="x" * (2 * MiB))]})
    config = _config(hostile_api, max_response_bytes=1 * MiB, retry=RetryPolicy(max_retries=4))
    with RunwareClient(config) as client, pytest.raises(RunwareError, match="max_response_bytes") as info:
        client.get_responses([A])
    assert info.value.code == "responseTooLarge" and not info.value.retryable
    assert len(hostile_api.requests) == 1


def test_an_answer_trickling_in_is_abandoned_at_the_timeout(hostile_api: HostileApi) -> None:
    hostile_api.drip = 0.2  # ten pieces, 2 s in all, each read well within the timeout
    hostile_api.reply({"data": [_item(A)]})
    config = _config(hostile_api, timeout=1.0, retry=RetryPolicy(max_retries=2, backoff_base=0.01))
    started = time.monotonic()
    with RunwareClient(config) as client, pytest.raises(RunwareError, match="timeout of 1 s") as info:
        client.get_responses([A])
    assert info.value.category == "transport" and len(hostile_api.requests) == 2  # retried, then failed
    assert time.monotonic() - started < 3.5


async def test_connections_that_differ_in_url_schemes_share_no_poller(hostile_api: HostileApi) -> None:
    strict, lax = _config(hostile_api), _config(hostile_api, downloads=DownloadPolicy(allow_http=True))
    async with shared_poller(strict) as one, shared_poller(lax) as two, shared_poller(strict) as three:
        assert one is three and one is not two
        assert two.client.config.downloads.url_schemes == ("http", "https")


def test_the_answer_cap_is_a_connection_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "runware", "password": "k", "extra": {"max_response_bytes": 4096}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    assert RunwareHook().config.max_response_bytes == 4096
    assert ClientConfig(api_key=SecretStr("k")).max_response_bytes == 32 * MiB


async def _poll_all(config: ClientConfig, uuids: list[str]) -> list[Any]:
    poller = CoalescingPoller(AsyncRunwareClient(config), window_seconds=0.0)
    try:
        return await asyncio.gather(*(poller.get(u) for u in uuids), return_exceptions=True)
    finally:
        await poller.aclose()


def test_one_oversized_answer_in_a_batch_fails_only_its_task(hostile_api: HostileApi) -> None:
    def answer(tasks: list[dict[str, Any]]) -> tuple[int, bytes]:
        asked = [t["taskUUID"] for t in tasks]
        items = [_item(u, padding="x" * (2 * MiB) if u == X else "") for u in asked]
        return 200, json.dumps({"data": items}).encode()

    hostile_api.answer = answer
    outcomes = asyncio.run(_poll_all(_config(hostile_api, max_response_bytes=1 * MiB), [A, X, B]))
    now = time.time()
    steps = [Wait(u, 1, now, now + 600).after(o, now)[1] for u, o in zip([A, X, B], outcomes, strict=True)]
    assert [type(s).__name__ for s in steps] == ["Done", "Failed", "Done"]
    assert isinstance(steps[1], Failed) and steps[1].error.task_uuid == X
    assert steps[1].error.code == "responseTooLarge"
    assert all(isinstance(s, Done) and s.event["status"] == "success" for s in (steps[0], steps[2]))


@pytest.mark.parametrize("raw", ['"seed": 1e400', '"cost": NaN', '"progress": -Infinity'])
def test_a_number_json_cannot_hold_fails_only_its_task(raw: str, hostile_api: HostileApi) -> None:
    def answer(tasks: list[dict[str, Any]]) -> tuple[int, bytes]:
        items = [json.dumps(_item(t["taskUUID"])) for t in tasks]
        text = ", ".join(item[:-1] + f", {raw}}}" if X in item else item for item in items)
        return 200, f'{{"data": [{text}]}}'.encode()

    hostile_api.answer = answer
    outcomes = asyncio.run(_poll_all(_config(hostile_api), [A, X, B]))
    now = time.time()
    steps = [Wait(u, 1, now, now + 600).after(o, now)[1] for u, o in zip([A, X, B], outcomes, strict=True)]
    assert [type(s).__name__ for s in steps] == ["Done", "Failed", "Done"]
    assert isinstance(steps[1], Failed) and steps[1].error.task_uuid == X
    assert "not JSON" in steps[1].error.message and not steps[1].error.retryable


def test_every_waiting_trigger_gets_its_own_error_object(hostile_api: HostileApi) -> None:
    hostile_api.reply({"errors": [{"code": "invalidApiKey", "message": "Invalid API key"}]}, status=401)
    errors = asyncio.run(_poll_all(_config(hostile_api), [A, B, A]))  # two triggers wait on A
    assert all(isinstance(e, RunwareError) and e.code == "invalidApiKey" for e in errors)
    assert len({id(e) for e in errors}) == 3 and len(hostile_api.requests) == 1
    errors[0].task_uuid = A  # what a trigger may do to its own copy reaches nobody else
    errors[0].details["seen_by"] = A
    assert errors[1].task_uuid is None and errors[2].task_uuid is None
    assert "seen_by" not in errors[1].details and "seen_by" not in errors[2].details
