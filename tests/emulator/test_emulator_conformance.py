"""Conformance: every JSON example of the reference docs, reproduced field for field.

Each documented example is copied verbatim below and compared with the WHOLE object the emulator
answers: no key more, no key less, every value equal. Only values that differ per run or per model
are replaced by placeholders on both sides (``VOLATILE``), and only after checking their type, so a
wrong type still fails. Where an example is abridged and the docs list more fields elsewhere, the
extra fields are named in ``DOCUMENTED_ELSEWHERE`` with the place that documents them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .conftest import Api, MakeApi
from .helpers import KEY, data_uri, png, poll, video_task

# The taskUUID used by the reference's examples: the emulator accepts it as ours, so it is compared exactly.
DOC_TASK = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# --- the examples, verbatim from the reference (runware-api.md) ------------------------------------

# §2 "Validation error at submit, as documented".
DOCUMENTED_VALIDATION_ERROR = json.loads(
    """{"errors": [{"code": "unsupportedDuration", "message": "Invalid value for duration parameter. This duration is not supported by the model architecture.", "parameter": "duration", "type": "float", "documentation": "https://runware.ai/docs/en/video-inference/api-reference#request-duration", "taskUUID": "24cd5dff-cb81-4db5-8506-b72a9425f9d1", "allowedValues": [6]}]}"""  # noqa: E501
)
# §2 "Auth error".
DOCUMENTED_AUTH_ERROR = json.loads(
    """{"errors":[{"code":"invalidApiKey","message":"Invalid API key. Get one at https://my.runware.ai/signup","parameter":"apiKey","taskType":"authentication"}]}"""
)
# §3 "The immediate acknowledgment".
DOCUMENTED_ACK = json.loads("""{"data": [{"taskType": "videoInference", "taskUUID": "<uuid>"}]}""")
# §3 "Documented example (processing + success + error in one answer)".
DOCUMENTED_POLL_ANSWER = json.loads(
    """{"data": [
  {"taskType": "videoInference", "taskUUID": "24cd5dff-cb81-4db5-8506-b72a9425f9d1", "status": "processing"},
  {"taskType": "videoInference", "taskUUID": "24cd5dff-cb81-4db5-8506-b72a9425f9d1", "status": "success",
   "videoUUID": "b7db282d-2943-4f12-992f-77df3ad3ec71",
   "videoURL": "https://im.runware.ai/video/ws/0.5/vi/b7db282d-2943-4f12-992f-77df3ad3ec71.mp4", "cost": 0.18}],
 "errors": [
  {"code": "timeoutProvider", "status": "error", "message": "The external provider did not respond within the timeout window. The request was automatically terminated.", "documentation": "https://runware.ai/docs/en/video-inference/api-reference", "taskUUID": "24cd5dff-cb81-4db5-8506-b72a9425f9d1"}]}"""  # noqa: E501
)
# §3 getTaskDetails:
#   {"data":[{"taskType":"getTaskDetails","taskUUID":"...","request":[...],"response":{"data":[...]}}]}
# ("..." stand for the task's UUID, its request and its getResponse items: filled in by the test).
DOCUMENTED_TASK_DETAILS_KEYS = ["taskType", "taskUUID", "request", "response"]
# §4 mediaStorage upload: "→ item with mediaUUID (and mediaURL)".
DOCUMENTED_MEDIA_STORAGE_KEYS = ["taskType", "taskUUID", "mediaUUID", "mediaURL"]

# Success items carry two fields the abridged example leaves out; both are listed in §3 ("Success item:
# taskType, taskUUID, status, videoUUID, videoURL, seed, NSFWContent, cost") and on the model page's
# "Response Parameters".
DOCUMENTED_ELSEWHERE = {"seed": "<seed>", "NSFWContent": False}

# Per-run or per-model values: key -> (placeholder, check the real value must pass first).
VOLATILE: dict[str, tuple[str, Any]] = {
    "videoUUID": ("<uuid>", lambda v: isinstance(v, str) and UUID4.match(v)),
    "mediaUUID": ("<uuid>", lambda v: isinstance(v, str) and UUID4.match(v)),
    "videoURL": ("<url>", lambda v: isinstance(v, str) and re.match(r"^https?://[^ ]+\.(mp4|webm|mov)$", v)),
    "mediaURL": ("<url>", lambda v: isinstance(v, str) and v.startswith("http")),
    "seed": ("<seed>", lambda v: type(v) is int and 0 <= v < 2**32),
    "cost": ("<cost>", lambda v: isinstance(v, float | int) and not isinstance(v, bool) and v > 0),
}


def normalise(value: Any) -> Any:
    """``value`` with every volatile field that has the right type replaced by its placeholder."""
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            placeholder, valid = VOLATILE.get(key, (None, None))
            out[key] = placeholder if valid is not None and valid(item) else normalise(item)
        return out
    return value


# --- the comparisons -----------------------------------------------------------------------------


async def test_validation_error(api: Api) -> None:
    status, body = await api.one([video_task(taskUUID=DOC_TASK, duration=16)])
    expected = json.loads(json.dumps(DOCUMENTED_VALIDATION_ERROR))
    # The example is for a model whose only duration is 6; Wan2.7's are 2..15 (model page).
    expected["errors"][0]["allowedValues"] = list(range(2, 16))
    assert status == 400
    assert body == expected


async def test_validation_error_with_references(api: Api) -> None:
    task = video_task(taskUUID=DOC_TASK, duration=11, inputs={"referenceImages": [DOC_TASK]})
    status, body = await api.one([task])
    expected = json.loads(json.dumps(DOCUMENTED_VALIDATION_ERROR))
    expected["errors"][0]["allowedValues"] = list(range(2, 11))  # "at most 10" with references
    assert (status, body) == (400, expected)


async def test_auth_error(api: Api) -> None:
    response = await api.post([poll(DOC_TASK)], headers={"Authorization": "Bearer not-the-key"})
    assert response.status_code == 401
    assert response.json() == DOCUMENTED_AUTH_ERROR
    element = await api.post([{"taskType": "authentication", "apiKey": "nope"}, poll(DOC_TASK)], headers={})
    assert (element.status_code, element.json()) == (401, DOCUMENTED_AUTH_ERROR)


async def test_missing_key_mirrors_the_documented_auth_error(api: Api) -> None:
    # Runware shows no missingApiKey body: the emulator uses the invalidApiKey shape (no extra keys).
    response = await api.post([poll(DOC_TASK)], headers={})
    [documented] = DOCUMENTED_AUTH_ERROR["errors"]
    expected = {
        **documented,
        "code": "missingApiKey",
        "message": "Missing API key. Get one at https://my.runware.ai/signup",
    }
    assert (response.status_code, response.json()) == (401, {"errors": [expected]})


async def test_ack(api: Api) -> None:
    status, body = await api.one([video_task(taskUUID=DOC_TASK, numberResults=3)])
    assert status == 200
    expected = json.loads(json.dumps(DOCUMENTED_ACK).replace("<uuid>", DOC_TASK))
    assert body == expected  # one item although numberResults is 3


async def test_processing_success_and_error_in_one_answer(api: Api) -> None:
    await api.post([video_task(taskUUID=DOC_TASK, numberResults=3, includeCost=True)])
    # Pin the three outcomes of the example (the RNG would pick its own): result 0 still
    # processing, result 1 done, result 2 failed.
    job = api.state.jobs.get(DOC_TASK)
    assert job is not None
    job.due_at[0] += 3600
    job.failed[2] = True
    api.advance(11)
    status, body = await api.one([poll(DOC_TASK)])
    expected = json.loads(json.dumps(DOCUMENTED_POLL_ANSWER))
    expected["data"][1].update(DOCUMENTED_ELSEWHERE)
    assert status == 200
    assert normalise(body) == normalise(expected)
    # Placeholders hid the values: check that they fit together.
    success = body["data"][1]
    assert (
        success["videoURL"].endswith(f"/{success['videoUUID']}.mp4") and success["cost"] == 0.2
    )  # 720p, 2 s


async def test_flat_failure_alone(make_api: MakeApi) -> None:
    api = make_api(p_generation_fail=1.0)
    await api.post([video_task(taskUUID=DOC_TASK)])
    api.advance(11)
    status, body = await api.one([poll(DOC_TASK)])
    assert (status, body) == (200, {"errors": DOCUMENTED_POLL_ANSWER["errors"]})


async def test_success_item_without_cost(api: Api) -> None:
    await api.post([video_task(taskUUID=DOC_TASK)])
    api.advance(11)
    _, body = await api.one([poll(DOC_TASK)])
    documented = {k: v for k, v in DOCUMENTED_POLL_ANSWER["data"][1].items() if k != "cost"}  # no includeCost
    assert normalise(body) == normalise({"data": [{**documented, **DOCUMENTED_ELSEWHERE}]})


async def test_get_task_details(api: Api) -> None:
    task = video_task(taskUUID=DOC_TASK, includeCost=True)
    await api.post([task])
    api.advance(11)
    _, polled = await api.one([poll(DOC_TASK)])
    status, body = await api.one([{"taskType": "getTaskDetails", "taskUUID": DOC_TASK}])
    assert status == 200
    [item] = body["data"]
    assert list(item) == DOCUMENTED_TASK_DETAILS_KEYS
    assert body == {
        "data": [{"taskType": "getTaskDetails", "taskUUID": DOC_TASK, "request": [task], "response": polled}]
    }
    assert KEY not in json.dumps(body)


async def test_media_storage_upload(api: Api) -> None:
    task = {
        "taskType": "mediaStorage",
        "taskUUID": DOC_TASK,
        "operation": "upload",
        "media": data_uri(png(), "image/png"),
    }
    status, body = await api.one([task])
    assert status == 200
    assert normalise(body) == {
        "data": [
            {"taskType": "mediaStorage", "taskUUID": DOC_TASK, "mediaUUID": "<uuid>", "mediaURL": "<url>"}
        ]
    }
    assert list(body["data"][0]) == DOCUMENTED_MEDIA_STORAGE_KEYS
