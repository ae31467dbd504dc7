"""RunwareHook / client behaviour where a real server cannot be made to misbehave (respx)."""

from __future__ import annotations

import logging
import pickle
import uuid
from typing import get_args

import httpx
import pytest
import respx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying

from airflow_provider_wan.client import ClientConfig, RunwareClient
from airflow_provider_wan.errors import (
    Category,
    RunwareAuthError,
    RunwareConflictError,
    RunwareError,
    RunwareQuotaError,
    RunwareRateLimitError,
    RunwareTimeoutError,
    RunwareTransportError,
    classify,
)
from airflow_provider_wan.hooks.runware import RunwareHook, config_from_connection
from airflow_provider_wan.models import WanVideoRequest
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy, is_retryable, retryable_status
from tests.conftest import API_KEY

BASE = "https://runware.test/v1"
TASK = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"


def _request() -> WanVideoRequest:
    return WanVideoRequest(positive_prompt="a red fox in snow", width=1280, height=720, duration=2)


def _client(sleeps: list[float] | None = None) -> RunwareClient:
    config = ClientConfig(
        api_key=SecretStr(API_KEY), base_url=BASE, retry=RetryPolicy(max_retries=4, backoff_base=0.01)
    )
    return RunwareClient(config, sleep=(sleeps.append if sleeps is not None else lambda s: None))


@respx.mock
def test_submit_sends_wire_json_with_bearer_auth() -> None:
    route = respx.post(BASE).mock(
        return_value=httpx.Response(200, json={"data": [{"taskType": "videoInference", "taskUUID": TASK}]})
    )
    with _client() as client:
        result = client.submit_video(_request(), TASK)
    assert result.task_uuid == TASK and not result.already_submitted
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    body = __import__("json").loads(sent.content)
    assert isinstance(body, list) and body[0]["taskType"] == "videoInference" and body[0]["taskUUID"] == TASK
    assert body[0]["model"] == "alibaba:wan@2.7" and body[0]["deliveryMethod"] == "async"


@respx.mock
def test_conflict_on_resubmission_is_already_submitted() -> None:
    respx.post(BASE).mock(
        return_value=httpx.Response(
            400,
            json={
                "errors": [{"code": "conflictTaskUUID", "message": "taskUUID already used", "taskUUID": TASK}]
            },
        )
    )
    with _client() as client:
        result = client.submit_video(_request(), TASK)
    assert result.already_submitted


@respx.mock
def test_429_then_success_honours_retry_after() -> None:
    route = respx.post(BASE).mock(
        side_effect=[
            httpx.Response(
                429, headers={"Retry-After": "0.7"}, json={"errors": [{"code": "rateLimitExceeded"}]}
            ),
            httpx.Response(200, json={"data": [{"taskType": "videoInference", "taskUUID": TASK}]}),
        ]
    )
    sleeps: list[float] = []
    with _client(sleeps) as client:
        assert client.submit_video(_request(), TASK).task_uuid == TASK
    assert route.call_count == 2
    assert sleeps and sleeps[0] >= 0.7


@respx.mock
def test_5xx_and_transport_errors_are_retried_then_conflict_means_accepted() -> None:
    # The first send was accepted but its answer was lost: the resend with the same UUID conflicts.
    route = respx.post(BASE).mock(
        side_effect=[
            httpx.ConnectError("connection reset"),
            httpx.Response(503, json={"errors": [{"code": "serviceUnavailable"}]}),
            httpx.Response(400, json={"errors": [{"code": "conflictTaskUUID", "taskUUID": TASK}]}),
        ]
    )
    with _client() as client:
        assert client.submit_video(_request(), TASK).already_submitted
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("status", "code", "exc"),
    [
        (400, "unsupportedDuration", RunwareError),
        (401, "invalidApiKey", RunwareAuthError),
        (402, "insufficientCredits", RunwareQuotaError),
        (403, "forbidden", RunwareAuthError),
    ],
)
@respx.mock
def test_4xx_not_retried(status: int, code: str, exc: type[RunwareError]) -> None:
    route = respx.post(BASE).mock(
        return_value=httpx.Response(
            status, json={"errors": [{"code": code, "message": "no", "taskUUID": TASK}]}
        )
    )
    with _client() as client, pytest.raises(exc) as info:
        client.submit_video(_request(), TASK)
    assert route.call_count == 1
    assert info.value.code == code and not info.value.retryable


@respx.mock
def test_retries_are_bounded() -> None:
    route = respx.post(BASE).mock(return_value=httpx.Response(500, json={"errors": []}))
    with _client() as client, pytest.raises(RunwareError) as info:
        client.get_responses([TASK])
    assert route.call_count == 4
    assert info.value.category == "server"


@respx.mock
def test_non_json_answer_is_a_transport_error() -> None:
    respx.post(BASE).mock(return_value=httpx.Response(502, text="<html>bad gateway</html>"))
    with _client() as client, pytest.raises(RunwareError) as info:
        client.get_responses([TASK])
    assert info.value.http_status == 502


@respx.mock
def test_get_responses_many_uuids_one_request_both_failure_shapes() -> None:
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    route = respx.post(BASE).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"taskType": "videoInference", "taskUUID": a, "status": "processing", "progress": 40},
                    {
                        "taskUUID": b,
                        "status": "success",
                        "videoUUID": "v1",
                        "videoURL": "https://x/v1.mp4",
                        "seed": 7,
                        "NSFWContent": False,
                        "cost": 0.3,
                        "brandNewField": {"x": 1},
                    },
                    {"taskUUID": b, "status": "success", "videoUUID": "v1", "videoURL": "https://x/v1.mp4"},
                    {
                        "taskUUID": d,
                        "status": "error",
                        "error": {"code": "inferenceError", "message": "boom"},
                    },
                ],
                "errors": [
                    {
                        "code": "timeoutProvider",
                        "status": "error",
                        "message": "provider timed out",
                        "taskUUID": c,
                    }
                ],
            },
        )
    )
    with _client() as client:
        states = client.get_responses([a, b, c, d])
    assert route.call_count == 1
    import json

    sent = json.loads(route.calls.last.request.content)
    assert [t["taskType"] for t in sent] == ["getResponse"] * 4
    assert states[a].status() == "running" and states[a].progress == 40
    assert states[b].status() == "success" and len(states[b].results) == 1
    assert states[b].results[0].cost == 0.3 and states[b].results[0].seed == 7
    assert states[c].status() == "error"
    assert isinstance(states[c].errors[0], RunwareTimeoutError) and states[c].errors[0].retryable
    assert states[d].status() == "error" and states[d].errors[0].code == "inferenceError"


@respx.mock
def test_data_as_object_and_empty_errors_and_pending() -> None:
    respx.post(BASE).mock(
        return_value=httpx.Response(200, json={"data": {"taskUUID": TASK, "status": "pending"}, "errors": []})
    )
    with _client() as client:
        states = client.get_responses([TASK])
    assert states[TASK].status() == "running"


@respx.mock
def test_unattributed_auth_error_raises() -> None:
    respx.post(BASE).mock(
        return_value=httpx.Response(
            401,
            json={
                "errors": [
                    {"code": "invalidApiKey", "message": "Invalid API key", "taskType": "authentication"}
                ]
            },
        )
    )
    with _client() as client, pytest.raises(RunwareAuthError):
        client.get_responses([TASK])


@respx.mock
def test_hook_reads_connection_and_never_logs_key(
    runware_conn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(BASE).mock(
        side_effect=[
            httpx.Response(503, json={"errors": [{"code": "serviceUnavailable", "message": "busy"}]}),
            httpx.Response(
                404, json={"errors": [{"code": "taskNotFound", "message": "no task", "taskUUID": TASK}]}
            ),
            httpx.Response(401, json={"errors": [{"code": "invalidApiKey", "message": "Invalid API key"}]}),
        ]
    )
    hook = RunwareHook()
    assert hook.config.base_url == BASE
    ok, message = hook.test_connection()
    assert ok, message
    ok, message = hook.test_connection()
    assert not ok and "invalidApiKey" in message
    for text in (
        message,
        caplog.text,
        repr(hook),
        repr(hook.config),
        repr(hook.client),
        str(hook.config.api_key),
    ):
        assert API_KEY not in text
    hook.close()


def test_connection_variants() -> None:
    from airflow.sdk import Connection

    conn = Connection(conn_id="x", conn_type="runware", password="k")
    assert config_from_connection(conn).base_url == "https://api.runware.ai/v1"
    conn = Connection(
        conn_id="x", conn_type="runware", host="127.0.0.1", port=8765, schema="http", password="k"
    )
    assert config_from_connection(conn).base_url == "http://127.0.0.1:8765/v1"
    conn = Connection(
        conn_id="x", conn_type="runware", password="k", extra='{"timeout": "12", "max_retries": 2}'
    )
    cfg = config_from_connection(conn)
    assert cfg.timeout == 12 and cfg.retry.max_retries == 2
    with pytest.raises(RunwareError, match="API key"):
        config_from_connection(Connection(conn_id="x", conn_type="runware"))
    with pytest.raises(RunwareError, match="timeout"):
        config_from_connection(
            Connection(conn_id="x", conn_type="runware", password="k", extra='{"timeout": "x"}')
        )


async def test_async_twin_retries_and_parses(runware_conn: str) -> None:
    with respx.mock:
        respx.post(BASE).mock(
            side_effect=[
                httpx.ReadTimeout("slow"),
                httpx.Response(
                    200,
                    json={
                        "data": [
                            {
                                "taskUUID": TASK,
                                "status": "success",
                                "videoUUID": "v",
                                "videoURL": "https://x/v.mp4",
                                "cost": 0.2,
                            }
                        ]
                    },
                ),
            ]
        )
        async with RunwareHook() as hook:
            states = await hook.aget_responses([TASK])
            client = await hook.aclient()
            assert client is await hook.aclient()  # one long-lived client
        assert states[TASK].status() == "success"


def test_transport_error_type() -> None:
    err = RunwareTransportError("x")
    assert err.retryable and err.category == "transport"


def test_base_url_from_uri_forms() -> None:
    from airflow.sdk import Connection

    cases = {
        "runware://:KEY@api.runware.ai/v1": "https://api.runware.ai/v1",
        "runware://:KEY@api.runware.ai": "https://api.runware.ai/v1",
        "runware://:KEY@127.0.0.1:8765/v1?timeout=5": "https://127.0.0.1:8765/v1",
    }
    for uri, expected in cases.items():
        conn = Connection.from_uri(uri, conn_id="x")  # type: ignore[attr-defined]
        assert config_from_connection(conn).base_url == expected, (uri, conn.host, conn.schema, conn.port)
    conn = Connection(conn_id="x", conn_type="runware", password="k", host="http://runware-emulator:8765/v1")
    assert config_from_connection(conn).base_url == "http://runware-emulator:8765/v1"
    conn = Connection(conn_id="x", conn_type="runware", password="k", host="http://emu", port=8765)
    assert config_from_connection(conn).base_url == "http://emu:8765/v1"


# -- Retry-After beyond backoff_max -----------------------------------------------------------------


def _rate_limited(retry_after: str) -> httpx.Response:
    return httpx.Response(
        429,
        headers={"Retry-After": retry_after},
        json={"errors": [{"code": "rateLimitExceeded", "message": "queue full"}]},
    )


def _failed_state(retrying: Retrying, attempt: int, error: RunwareError, elapsed: float) -> RetryCallState:
    """The state tenacity hands the policy after ``attempt`` failed with ``error``, ``elapsed`` s in."""
    state = RetryCallState(retrying, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    state.start_time = (state.outcome_timestamp or 0.0) - elapsed
    return state


def _decide(policy: RetryPolicy, attempt: int, error: RunwareError, elapsed: float) -> float | None:
    """The wait before the next attempt, or None when the policy stops (as tenacity asks: wait, then stop)."""
    retrying = policy.retrying("test")
    state = _failed_state(retrying, attempt, error, elapsed)
    state.upcoming_sleep = retrying.wait(state)
    return None if retrying.stop(state) else state.upcoming_sleep


def test_retry_after_is_waited_in_full_within_the_budget() -> None:
    policy = RetryPolicy(max_retries=6, backoff_base=0.5, backoff_max=20.0, retry_max_seconds=120.0)
    error = RunwareError("queue full", code="rateLimitExceeded", http_status=429, details={"retry_after": 60})
    assert _decide(policy, 1, error, elapsed=0.0) == 60.0  # not capped at backoff_max=20
    # 60 s no longer fit in the 50 s left: give up now rather than burn attempts early.
    assert _decide(policy, 1, error, elapsed=70.0) is None
    # Out of attempts is out of attempts, whatever the header says.
    assert _decide(policy, 6, error, elapsed=0.0) is None
    # Jitter may add to the server's wait but never past the budget.
    for _ in range(50):
        delay = _decide(policy, 3, error, elapsed=59.0)
        assert delay is not None and 60.0 <= delay <= 61.0
    # Giving up says why only when the server's wait alone was the reason.
    for attempt, elapsed, named in ((1, 70.0, True), (6, 0.0, False)):
        fresh = RunwareError(
            "queue full", code="rateLimitExceeded", http_status=429, details={"retry_after": 60}
        )
        with pytest.raises(RunwareError) as info:
            policy.give_up(_failed_state(policy.retrying("test"), attempt, fresh, elapsed))
        assert ("asked to wait 60 s" in str(info.value)) is named


@respx.mock
def test_retry_after_above_backoff_max_is_honoured() -> None:
    route = respx.post(BASE).mock(
        side_effect=[
            _rate_limited("3"),
            httpx.Response(200, json={"data": [{"taskType": "videoInference", "taskUUID": TASK}]}),
        ]
    )
    sleeps: list[float] = []
    config = ClientConfig(
        api_key=SecretStr(API_KEY),
        base_url=BASE,
        retry=RetryPolicy(max_retries=4, backoff_base=0.01, backoff_max=0.05, retry_max_seconds=10),
    )
    with RunwareClient(config, sleep=sleeps.append) as client:
        assert client.submit_video(_request(), TASK).task_uuid == TASK
    assert route.call_count == 2 and sleeps == [3.0]


@respx.mock
def test_retry_after_beyond_the_budget_raises_at_once() -> None:
    route = respx.post(BASE).mock(return_value=_rate_limited("60"))
    sleeps: list[float] = []
    config = ClientConfig(
        api_key=SecretStr(API_KEY), base_url=BASE, retry=RetryPolicy(max_retries=6, retry_max_seconds=30)
    )
    with RunwareClient(config, sleep=sleeps.append) as client, pytest.raises(RunwareRateLimitError) as info:
        client.get_responses([TASK])
    assert route.call_count == 1 and sleeps == []
    text = str(info.value)
    assert "asked to wait 60 s" in text and "retry_max_seconds=30" in text and "[rateLimitExceeded]" in text


# -- error taxonomy ---------------------------------------------------------------------------------


def test_taxonomy_has_the_ten_documented_categories() -> None:
    assert set(get_args(Category)) == {
        "auth",
        "quota",
        "validation",
        "rate_limit",
        "safety",
        "provider",
        "timeout",
        "not_found",
        "server",
        "transport",
    }


@pytest.mark.parametrize(
    ("code", "status"),
    [("conflictTaskUUID", 400), ("conflictTaskUUID", 409), ("conflictMediaUUID", 400), (None, 409)],
)
def test_conflicts_are_validation_errors_keeping_the_raw_code(code: str | None, status: int) -> None:
    assert classify(code, status) == "validation"
    error = RunwareError.from_wire({"code": code, "message": "used", "taskUUID": TASK}, http_status=status)
    # Its own class still tells a reused UUID apart (idempotent uploads catch it).
    assert isinstance(error, RunwareConflictError)
    assert error.category == "validation" and error.code == code and not error.retryable
    rebuilt = pickle.loads(pickle.dumps(error))
    assert isinstance(rebuilt, RunwareConflictError) and rebuilt.category == "validation"
    assert type(RunwareError.from_dict(error.to_dict())) is RunwareConflictError


def test_conflict_category_from_an_older_release_reads_as_validation() -> None:
    # A trigger event serialized before the upgrade may still say "conflict".
    old = {"message": "used", "code": "conflictTaskUUID", "category": "conflict", "task_uuid": TASK}
    error = RunwareError.from_dict(old)
    assert isinstance(error, RunwareConflictError) and error.category == "validation"
    assert RunwareConflictError("x").category == "validation"


@pytest.mark.parametrize("status", [400, 409])
@respx.mock
def test_conflict_on_resubmission_is_already_submitted_for_400_and_409(status: int) -> None:
    route = respx.post(BASE).mock(
        return_value=httpx.Response(
            status, json={"errors": [{"code": "conflictTaskUUID", "message": "used", "taskUUID": TASK}]}
        )
    )
    with _client() as client:
        assert client.submit_video(_request(), TASK).already_submitted
    assert route.call_count == 1


# -- typed result items -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "expected"), [(100, 100.0), (42.5, 42.5), (None, None), (True, None), ("80", None)]
)
def test_video_result_progress(progress: object, expected: float | None) -> None:
    item = {"taskUUID": TASK, "status": "success", "videoUUID": "v", "videoURL": "https://x/v.mp4"}
    if progress is not None:
        item["progress"] = progress
    result = VideoResult.from_item(item)
    assert result.progress == expected
    assert "progress" not in result.to_dict()  # the XCom contract's video keys are unchanged


@respx.mock
def test_progress_on_result_items_and_on_the_task() -> None:
    respx.post(BASE).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"taskUUID": TASK, "status": "processing", "progress": 35},
                    {
                        "taskUUID": TASK,
                        "status": "success",
                        "videoUUID": "v",
                        "videoURL": "https://x/v.mp4",
                        "progress": 100,
                    },
                ]
            },
        )
    )
    with _client() as client:
        state = client.get_responses([TASK])[TASK]
    assert state.progress == 35.0 and state.results[0].progress == 100.0


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RunwareTransportError("connection reset"), True),
        (RunwareError("busy", http_status=503), True),
        (RunwareError("too early", http_status=425), True),
        (RunwareError("slow", http_status=408), True),
        (RunwareError("queue full", code="rateLimitExceeded", http_status=429), True),
        (RunwareError("no", code="invalidApiKey", http_status=401), False),
        (RunwareError("bad", code="invalidPositivePrompt", http_status=500), False),  # the code decides
        (RunwareError("gone", http_status=404), False),
        (ValueError("not ours"), False),
    ],
)
def test_one_retryable_set_for_api_calls_and_landing(error: BaseException, retried: bool) -> None:
    assert is_retryable(error) is retried
    assert retryable_status(503) and retryable_status(425) and not retryable_status(404)


def test_connection_form_defaults_are_the_clients_defaults() -> None:
    """The form pre-fills each extra with the value the hook uses when it is absent: one truth."""
    from dataclasses import fields

    from airflow_provider_wan.client import ClientConfig
    from airflow_provider_wan.connection import EXTRA_DEFAULTS
    from airflow_provider_wan.media.downloads import EXTRAS, DownloadPolicy
    from airflow_provider_wan.retry import RetryPolicy

    def numeric(cls: type) -> dict[str, object]:
        return {
            f.name: f.default
            for f in fields(cls)
            if isinstance(f.default, (int, float)) and not isinstance(f.default, bool)
        }

    defaults = {**numeric(ClientConfig), **numeric(RetryPolicy)}
    download = numeric(DownloadPolicy)
    defaults.update({extra: download[attr] for extra, attr in EXTRAS.items() if attr in download})
    assert {k: float(v) for k, v in defaults.items()} == {k: float(v) for k, v in EXTRA_DEFAULTS.items()}
