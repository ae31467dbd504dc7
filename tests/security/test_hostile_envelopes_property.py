"""Property: whatever ``getResponse`` answer Runware sends to a batch, each trigger waiting in it ends with an
outcome of its own (keep polling, success, or a failure naming its own task UUID): nothing escapes, and no
trigger reports another's task.

Hypothesis writes the answers (odd shapes, types, statuses, numbers far past a float, URLs of every kind,
status codes, bytes that are no JSON); a real server on loopback sends them to the coalescing poller, whose
outcomes go through ``poller.Wait`` (the step the trigger runs) and the strict event and XCom checks. One
more test runs real ``RunwareVideoTrigger`` instances, many task UUIDs in one batch, against such answers.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from airflow_provider_wan.client import AsyncRunwareClient, ClientConfig
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.poller import CoalescingPoller, Done, Failed, Poll, Wait
from airflow_provider_wan.results import TaskState, parse_event, xcom_value
from airflow_provider_wan.retry import RetryPolicy
from airflow_provider_wan.triggers.video import RunwareVideoTrigger
from tests.conftest import runware_conn_json
from tests.security.hostile_api import HostileApi

UUIDS = [str(uuid.UUID(int=n << 64 | 0x8000 << 48 | n, version=4)) for n in range(1, 7)]
GOOD_URL = "https://vm.runware.ai/video/ws/0.5/vi/v.mp4"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
urls = st.sampled_from(
    [
        GOOD_URL,
        "http://vm.runware.ai/v.mp4",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/relative.mp4",
        "https://",
        "https://[::1",
        "",
        "ftp://h/v.mp4",
    ]
)
statuses = st.sampled_from(
    ["success", "SUCCESS", "processing", "error", "failed", "cancelled", "rejected", "expired", "", "weird"]
)
error_objects = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(["invalidApiKey", "taskNotFound", "timeoutProvider", "x"]) | junk,
        "message": st.text(max_size=20) | junk,
        "taskUUID": st.sampled_from([*UUIDS, "someone-else"]) | junk,
        "parameter": junk,
        "allowedValues": junk,
    },
)
items = st.fixed_dictionaries(
    {"taskUUID": st.sampled_from(UUIDS) | junk},
    optional={
        "status": statuses | junk,
        "videoURL": urls | junk,
        "videoUUID": st.sampled_from(["v1", "v2", "../../x"]) | junk,
        "seed": st.integers(min_value=-(10**400), max_value=10**400) | junk,
        "cost": st.floats(allow_nan=False, allow_infinity=False) | st.integers() | junk,
        "progress": junk,
        "NSFWContent": junk,
        "error": error_objects | junk,
        "code": junk,
        "message": junk,
    },
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "data": st.lists(items, max_size=8) | junk,
        "errors": st.lists(error_objects, max_size=3) | junk,
        "error": error_objects | junk,
    },
)
bodies = (
    envelopes.map(lambda e: json.dumps(e).encode())
    | junk.map(lambda j: json.dumps(j).encode())
    | st.binary(max_size=40)
    | st.sampled_from([b'{"data": [{"seed": NaN}]}', b'{"data": [{"cost": -Infinity}]}', b"[", b"9" * 6000])
)
status_codes = st.sampled_from([200, 200, 200, 200, 400, 401, 402, 404, 409, 429, 500, 503])


@pytest.fixture(scope="module")
def api() -> Iterator[HostileApi]:
    server = HostileApi()
    yield server
    server.close()


async def _poll(config: ClientConfig, waiting: list[str]) -> list[Any]:
    poller = CoalescingPoller(AsyncRunwareClient(config), window_seconds=0.0)
    try:
        return await asyncio.gather(*(poller.get(u) for u in waiting), return_exceptions=True)
    finally:
        await poller.aclose()


def _check_own_event(event: dict[str, Any], task_uuid: str) -> None:
    """A terminal event is strictly valid, is this task's, and gives an XCom value or this task's error."""
    parsed = parse_event(event)
    assert parsed["task_uuid"] == task_uuid
    error = parsed.get("error")
    assert error is None or error["task_uuid"] == task_uuid
    try:
        value = xcom_value(parsed)
    except RunwareError as raised:
        assert parsed["status"] != "success" and raised.task_uuid == task_uuid
    else:
        assert value["task_uuid"] == task_uuid and all(u.startswith("https://") for u in value["video_urls"])


def _answer(*items: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({"data": list(items), **envelope}).encode()


def _success(task_uuid: str, **fields: Any) -> dict[str, Any]:
    return {"taskUUID": task_uuid, "status": "success", "videoUUID": "v1", "videoURL": GOOD_URL, **fields}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=status_codes, body=bodies, expected=st.integers(min_value=1, max_value=3))
# The findings of issue 12 (and of this test), always tried besides what Hypothesis writes.
@example(status=200, body=_answer(_success(UUIDS[0], seed=10**400), _success(UUIDS[1])), expected=1)
@example(status=200, body=_answer(_success(UUIDS[0], cost=-(10**400)), _success(UUIDS[1])), expected=1)
@example(status=200, body=_answer(_success(UUIDS[0], videoURL="file:///etc/passwd")), expected=1)
@example(status=401, body=_answer(errors=[{"code": "invalidApiKey", "taskUUID": "someone-else"}]), expected=1)
@example(status=200, body=_answer(errors=[{"code": "invalidApiKey", "taskUUID": UUIDS[1]}]), expected=1)
@example(
    status=200,
    body=_answer({"taskUUID": UUIDS[0], "status": "error", "error": {"code": "x", "taskUUID": UUIDS[1]}}),
    expected=1,
)
def test_every_trigger_of_a_batch_gets_its_own_clear_outcome(
    api: HostileApi, status: int, body: bytes, expected: int
) -> None:
    api.answer = lambda tasks: (status, body)
    config = ClientConfig(api_key=SecretStr("k"), base_url=api.base_url, retry=RetryPolicy(max_retries=1))
    waiting = [*UUIDS, UUIDS[0]]  # two triggers wait on the first task
    outcomes = asyncio.run(_poll(config, waiting))

    now = time.time()
    errors: list[RunwareError] = []
    for task_uuid, outcome in zip(waiting, outcomes, strict=True):
        assert isinstance(outcome, (TaskState, RunwareError)), repr(outcome)  # nothing else escapes
        # Submitted two minutes ago: past the grace in which an unknown task may still be propagating.
        _, step = Wait(task_uuid, expected, now - 120, now + 600).after(outcome, now)
        assert isinstance(step, (Poll, Done, Failed))
        if isinstance(step, Done):
            _check_own_event(dict(step.event), task_uuid)
        elif isinstance(step, Failed):
            assert step.error.task_uuid == task_uuid
            errors.append(step.error)
        if isinstance(outcome, RunwareError):
            errors.append(outcome)
    assert len({id(e) for e in errors}) == len(errors)  # no error object is shared


def _hostile_batch(tasks: list[dict[str, Any]]) -> tuple[int, bytes]:
    """One answer for the whole batch, every kind of bad item among good ones."""
    data: list[dict[str, Any]] = []
    for n, task in enumerate(tasks):
        own = task["taskUUID"]
        item = {"taskUUID": own, "status": "success", "videoUUID": f"v-{n}", "videoURL": GOOD_URL, "seed": n}
        bad = [
            {"seed": 10**400},
            {"seed": -1},
            {"cost": -5},
            {"videoURL": "file:///etc/passwd"},
            {"videoURL": None},
            {"status": "cancelled"},
            {"status": "error", "error": {"code": "taskFailed", "taskUUID": tasks[0]["taskUUID"]}},
            {"videoUUID": ["not", "a", "string"]},
            {},
        ][n % 9]
        data.append(item | bad)
    data.append({"taskUUID": {"not": "a uuid"}, "status": "success", "videoURL": GOOD_URL})
    errors = [{"code": "invalidApiKey", "taskUUID": "someone-else"}]
    return 200, json.dumps({"data": data, "errors": errors}).encode()


async def test_real_triggers_sharing_one_hostile_batch_each_end_on_their_own(
    api: HostileApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.answer, api.announce = _hostile_batch, True
    api.requests.clear()
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(api.base_url, max_retries=1))
    tasks = [str(uuid.UUID(int=n << 64 | 0x8000 << 48 | 7, version=4)) for n in range(1, 46)]
    triggers = [
        RunwareVideoTrigger(
            task_uuid=t, end_time=time.time() + 30, poll_initial_delay=0.0, poll_interval=0.01
        )
        for t in tasks
    ]

    async def first_event(trigger: RunwareVideoTrigger) -> dict[str, Any]:
        return dict((await asyncio.wait_for(trigger.run().__anext__(), timeout=20)).payload)

    events = await asyncio.gather(*(first_event(t) for t in triggers))
    for n, (task_uuid, event) in enumerate(zip(tasks, events, strict=True)):
        _check_own_event(event, task_uuid)
        assert event["status"] == ("success" if n % 9 == 8 else "error"), (n, event)
    assert len(api.requests) <= 2  # one batch (two when the window splits it), not one request per trigger
