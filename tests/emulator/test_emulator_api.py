"""POST /v1 in-process (ASGI): envelope, auth, lifecycle, costs, idempotency, media inputs, knobs."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from .conftest import Api, MakeApi
from .helpers import AUTH, DROP, KEY, audio, data_uri, new_uuid, png, poll, video_task

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# --- documented shapes ---------------------------------------------------------------------------


async def test_ack_is_one_item_per_task_even_with_several_results(api: Api) -> None:
    task = video_task(numberResults=3)
    response = await api.post([task])
    assert response.status_code == 200
    assert response.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}


async def test_processing_item_matches_documented_shape(api: Api) -> None:
    task = video_task()
    await api.post([task])
    status, body = await api.one([poll(task["taskUUID"])])
    assert status == 200
    assert body == {
        "data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "processing"}]
    }


async def test_success_items_fields_seeds_and_urls(api: Api) -> None:
    task = video_task(numberResults=3, seed=42, outputFormat="WEBM")
    await api.post([task])
    api.advance(11)
    status, body = await api.one([poll(task["taskUUID"])])
    assert status == 200 and "errors" not in body
    items = body["data"]
    assert [i["seed"] for i in items] == [42, 43, 44]
    for item in items:
        assert set(item) == {"taskType", "taskUUID", "status", "videoUUID", "videoURL", "seed", "NSFWContent"}
        assert item["status"] == "success" and item["NSFWContent"] is False
        assert UUID4.match(item["videoUUID"])
        assert item["videoURL"] == f"http://emulator.test/media/videos/{item['videoUUID']}.webm"
    assert len({i["videoUUID"] for i in items}) == 3
    # Cumulative and stable: polling again returns the same items.
    assert (await api.one([poll(task["taskUUID"])]))[1] == body


async def test_random_seed_in_unsigned_32_bit_range(api: Api) -> None:
    task = video_task(numberResults=4)
    await api.post([task])
    api.advance(11)
    _, body = await api.one([poll(task["taskUUID"])])
    assert all(0 <= i["seed"] <= 2**32 - 1 for i in body["data"])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"width": 1280, "height": 720, "duration": 2}, [0.2]),  # model page: 720p, 2 s = $0.2
        ({"width": 1920, "height": 1080, "duration": 2}, [0.3]),  # 1080p, 2 s = $0.3
        ({"width": 832, "height": 1088, "duration": 15, "numberResults": 2}, [1.5, 1.5]),
        ({"width": 1440, "height": 1440, "duration": 7, "numberResults": 3}, [1.05, 1.05, 1.05]),
    ],
)
async def test_cost_per_item(api: Api, overrides: dict[str, Any], expected: list[float]) -> None:
    task = video_task(includeCost=True, **overrides)
    await api.post([task])
    api.advance(11)
    _, body = await api.one([poll(task["taskUUID"])])
    assert [i["cost"] for i in body["data"]] == expected
    assert api.ledger()["charged_usd"] == pytest.approx(sum(expected))


async def test_several_polls_in_one_request_and_unknown_uuid(api: Api) -> None:
    a, b = video_task(), video_task(numberResults=2)
    await api.post([a, b])
    missing = new_uuid()
    status, body = await api.one([poll(a["taskUUID"]), poll(b["taskUUID"]), poll(missing)])
    assert status == 200
    assert [i["taskUUID"] for i in body["data"]] == [a["taskUUID"], b["taskUUID"], b["taskUUID"]]
    [error] = body["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == ("taskNotFound", "taskUUID", missing)
    status, body = await api.one([poll(missing)])
    assert status == 404 and body["errors"][0]["code"] == "taskNotFound"
    stats = api.ledger()["get_response_uuids_per_request"]
    assert (stats["count"], stats["max"], stats["total"]) == (2, 3, 4)


async def test_get_task_details(api: Api) -> None:
    task = video_task()
    await api.post([{"taskType": "authentication", "apiKey": KEY}, task], headers={})
    _, body = await api.one([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}])
    [item] = body["data"]
    assert item["taskType"] == "getTaskDetails" and item["taskUUID"] == task["taskUUID"]
    assert item["request"] == [task]
    assert item["response"]["data"][0]["status"] == "processing"
    assert KEY not in str(api.state.jobs.get(task["taskUUID"]))  # the key is never stored


# --- auth and envelope ---------------------------------------------------------------------------


async def test_invalid_api_key_is_401_with_documented_shape(api: Api) -> None:
    response = await api.post([poll(new_uuid())], headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["code"] == "invalidApiKey"
    assert error["parameter"] == "apiKey" and error["taskType"] == "authentication"
    assert error["message"].startswith("Invalid API key")


async def test_missing_key_and_element_auth(api: Api) -> None:
    response = await api.post([video_task()], headers={})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "missingApiKey"
    bad = await api.post([{"taskType": "authentication", "apiKey": "nope"}, video_task()], headers={})
    assert bad.status_code == 401 and bad.json()["errors"][0]["code"] == "invalidApiKey"
    good = await api.post([{"taskType": "authentication", "apiKey": KEY}, video_task()], headers={})
    assert good.status_code == 200 and len(good.json()["data"]) == 1
    await api.post([{"taskType": "authentication", "apiKey": KEY}, video_task()])
    ledger = api.ledger()
    assert ledger["auth_methods"] == {"element": 1, "both": 1}
    assert ledger["auth_failures"] == 2


async def test_authentication_only_request(api: Api) -> None:
    status, body = await api.one([{"taskType": "authentication", "apiKey": KEY}])
    assert status == 200 and body["data"][0]["taskType"] == "authentication"


async def test_per_task_errors_do_not_fail_neighbours(api: Api) -> None:
    good = video_task()
    bad = video_task(duration=1)
    status, body = await api.one([bad, {"taskType": "imageInference", "taskUUID": new_uuid()}, good])
    assert status == 200
    assert body["data"] == [{"taskType": "videoInference", "taskUUID": good["taskUUID"]}]
    assert [e["code"] for e in body["errors"]] == ["unsupportedDuration", "unsupportedTaskType"]
    assert body["errors"][0]["taskUUID"] == bad["taskUUID"]


async def test_validation_error_alone_is_400(api: Api) -> None:
    task = video_task(duration=12, inputs={"referenceImages": [new_uuid()]})
    status, body = await api.one([task])
    assert status == 400
    [error] = body["errors"]
    assert error["code"] == "unsupportedDuration" and error["parameter"] == "duration"
    assert error["allowedValues"] == list(range(2, 11))
    assert api.ledger()["rejected"] == {"unsupportedDuration": 1}


@pytest.mark.parametrize("body", [b"not json", b'{"taskType": "getResponse"}', b"[]", b"[NaN]"])
async def test_malformed_bodies(api: Api, body: bytes) -> None:
    response = await api.client.post("/v1", content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalidRequestBody"


async def test_unknown_task_type_alone(api: Api) -> None:
    status, body = await api.one([{"taskType": "imageInference", "taskUUID": new_uuid()}])
    assert status == 400 and body["errors"][0]["code"] == "unsupportedTaskType"
    assert api.ledger()["requests"] == {"imageInference": 1}


# --- idempotency -----------------------------------------------------------------------------------


async def test_reused_task_uuid_conflicts_and_is_not_charged_twice(api: Api) -> None:
    task = video_task(includeCost=True)
    assert (await api.post([task])).status_code == 200
    status, body = await api.one([task])
    assert status == 400
    [error] = body["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "conflictTaskUUID",
        "taskUUID",
        task["taskUUID"],
    )
    # Same UUID twice in one array: first accepted, second rejected.
    twin = video_task()
    status, body = await api.one([twin, dict(twin)])
    assert status == 200 and len(body["data"]) == 1 and body["errors"][0]["code"] == "conflictTaskUUID"
    ledger = api.ledger()
    assert (ledger["submissions"], ledger["conflicts"], ledger["duplicates"]) == (2, 2, 0)
    assert ledger["charged_usd"] == pytest.approx(0.4)


# --- media inputs (inline and stored) --------------------------------------------------------------


async def upload(api: Api, media: str) -> dict[str, Any]:
    status, body = await api.one(
        [{"taskType": "mediaStorage", "taskUUID": new_uuid(), "operation": "upload", "media": media}]
    )
    assert status == 200, body
    return dict(body["data"][0])


async def test_media_storage_upload_use_and_delete(api: Api) -> None:
    stored = await upload(api, base64.b64encode(png(32, 32)).decode())
    assert UUID4.match(stored["mediaUUID"])
    assert stored["mediaURL"].endswith(f"/media/storage/{stored['mediaUUID']}.png")
    downloaded = await api.client.get(stored["mediaURL"])
    assert downloaded.content == png(32, 32) and downloaded.headers["content-type"] == "image/png"

    task = video_task(inputs={"referenceImages": [stored["mediaUUID"]]})
    assert (await api.post([task])).status_code == 200

    delete = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "operation": "delete",
        "media": stored["mediaUUID"],
    }
    status, body = await api.one([delete])
    assert status == 200 and body["data"][0]["mediaUUID"] == stored["mediaUUID"]
    status, body = await api.one([dict(delete, taskUUID=new_uuid())])
    assert status == 404 and body["errors"][0]["code"] == "mediaNotFound"
    status, body = await api.one([video_task(inputs={"referenceImages": [stored["mediaUUID"]]})])
    assert status == 404
    assert (body["errors"][0]["code"], body["errors"][0]["parameter"]) == (
        "mediaNotFound",
        "inputs.referenceImages[0]",
    )
    ledger = api.ledger()
    assert (ledger["media_uploads"], ledger["media_deletes"]) == (1, 1)


async def test_media_storage_rejects_unrecognised_data(api: Api) -> None:
    task = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "media": base64.b64encode(b"hello world").decode(),
    }
    status, body = await api.one([task])
    assert status == 400 and body["errors"][0]["code"] == "unsupportedMediaFormat"


@pytest.mark.parametrize(
    ("inputs", "code", "parameter"),
    [
        ({"referenceImages": ["%%%not-base64%%%"]}, "invalidMediaData", "inputs.referenceImages[0]"),
        (
            {"referenceImages": [data_uri(b"plain text", "text/plain")]},
            "unsupportedMediaFormat",
            "inputs.referenceImages[0]",
        ),
        (
            {"referenceImages": ["https://example.invalid/cat.png"]},
            "invalidMediaURL",
            "inputs.referenceImages[0]",
        ),
        ({"referenceVideos": ["http://203.0.113.9/v.mp4"]}, "invalidMediaURL", "inputs.referenceVideos[0]"),
        ({"audio": "aac49721-1964-481a-ae78-8a4e29b91402"}, "mediaNotFound", "inputs.audio"),
    ],
)
async def test_bad_media_inputs(api: Api, inputs: dict[str, Any], code: str, parameter: str) -> None:
    status, body = await api.one([video_task(inputs=inputs)])
    [error] = body["errors"]
    assert (error["code"], error["parameter"]) == (code, parameter)
    assert status == (404 if code == "mediaNotFound" else 400)
    assert api.ledger()["submissions"] == 0


async def test_wrong_media_kind_is_rejected(api: Api) -> None:
    stored = await upload(api, data_uri(audio(), "audio/wav"))
    status, body = await api.one([video_task(inputs={"referenceImages": [stored["mediaUUID"]]})])
    [error] = body["errors"]
    assert status == 400
    assert error["code"] == "unsupportedMediaFormat" and error["allowedValues"] == ["png", "jpeg", "webp"]
    ok = await api.post([video_task(inputs={"audio": stored["mediaUUID"]})])
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ((480, 640), "720p", (832, 1088)),
        ((480, 640), None, (1248, 1632)),
        ((1600, 900), "720p", (1280, 720)),
        ((500, 1000), "1080p", (1080, 1920)),
        ((700, 710), "720p", (960, 960)),
    ],
)
async def test_frame_images_take_the_aspect_of_the_first_image(
    api: Api, size: tuple[int, int], resolution: str | None, expected: tuple[int, int]
) -> None:
    task = video_task(
        width=DROP,
        height=DROP,
        includeCost=True,
        resolution=resolution if resolution else DROP,
        inputs={"frameImages": [{"image": data_uri(png(*size), "image/png")}]},
    )
    assert (await api.post([task])).status_code == 200
    [record] = api.ledger()["tasks"]
    assert (record["width"], record["height"]) == expected
    assert record["cost"] == pytest.approx(2 * (0.10 if resolution == "720p" else 0.15))


async def test_insufficient_credits_is_402(make_api: MakeApi) -> None:
    api = make_api(balance_usd=0.5)
    assert (await api.post([video_task()])).status_code == 200  # 0.2
    assert (await api.post([video_task()])).status_code == 200  # 0.4
    status, body = await api.one([video_task()])
    assert status == 402 and body["errors"][0]["code"] == "insufficientCredits"


# --- lifecycle knobs -----------------------------------------------------------------------------


async def test_generation_failure_flat_shape(make_api: MakeApi) -> None:
    api = make_api(p_generation_fail=1.0)
    task = video_task()
    await api.post([task])
    api.advance(11)
    status, body = await api.one([poll(task["taskUUID"])])
    assert status == 200 and "data" not in body
    [error] = body["errors"]
    assert error["code"] == "timeoutProvider" and error["status"] == "error"
    assert error["taskUUID"] == task["taskUUID"] and error["message"] and error["documentation"]
    [record] = api.ledger()["tasks"]
    assert (record["status"], record["failure_code"], record["failed_results"]) == (
        "error",
        "timeoutProvider",
        1,
    )
    api.state.update_knobs({"generation_failure_status": 500})
    assert (await api.post([poll(task["taskUUID"])])).status_code == 500


async def test_generation_failure_nested_shape(make_api: MakeApi) -> None:
    api = make_api(p_generation_fail=1.0, failure_shape="nested")
    task = video_task()
    await api.post([task])
    api.advance(11)
    status, body = await api.one([poll(task["taskUUID"])])
    assert status == 200
    [item] = body["data"]
    assert item["status"] == "error" and item["error"]["code"] == "timeoutProvider"


async def test_partial_results_with_stagger(make_api: MakeApi) -> None:
    api = make_api(result_stagger_seconds=5, p_generation_fail=0.5)
    task = video_task(numberResults=2)
    await api.post([task])
    api.advance(11)
    _, body = await api.one([poll(task["taskUUID"])])
    statuses = [i["status"] for i in body.get("data", [])] + [e["status"] for e in body.get("errors", [])]
    assert "processing" in statuses and len(statuses) == 2


async def test_pending_progress_and_empty_errors_knobs(make_api: MakeApi) -> None:
    api = make_api(pending_status=True, report_progress=True, empty_errors_array=True)
    task = video_task()
    _, ack = await api.one([task])
    assert ack == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}], "errors": []}
    api.advance(5)
    _, body = await api.one([poll(task["taskUUID"])])
    [item] = body["data"]
    assert item["status"] == "pending" and 45 <= item["progress"] <= 55 and body["errors"] == []


async def test_nsfw_knob(make_api: MakeApi) -> None:
    api = make_api(p_nsfw=1.0)
    task = video_task()
    await api.post([task])
    api.advance(11)
    _, body = await api.one([poll(task["taskUUID"])])
    assert body["data"][0]["NSFWContent"] is True


async def test_duration_drives_processing_time(make_api: MakeApi) -> None:
    api = make_api(processing_seconds=1, seconds_per_output_second=2)
    task = video_task(duration=5)
    await api.post([task])
    api.advance(10.5)
    assert (await api.one([poll(task["taskUUID"])]))[1]["data"][0]["status"] == "processing"
    api.advance(1)
    assert (await api.one([poll(task["taskUUID"])]))[1]["data"][0]["status"] == "success"


async def test_jitter_bounds(make_api: MakeApi) -> None:
    api = make_api(processing_seconds=10, jitter=0.5)
    for _ in range(20):
        await api.post([video_task()])
    spans = [r["completed_at"] for r in api.ledger()["tasks"]]
    assert all(s is None for s in spans)
    api.advance(100)
    spans = [r["completed_at"] - r["created_at"] for r in api.ledger()["tasks"]]
    assert all(5 <= s <= 15 for s in spans) and len({round(s, 3) for s in spans}) > 1


async def test_same_seed_same_outcomes(make_api: MakeApi) -> None:
    results = []
    for _ in range(2):
        api = make_api(seed=123, processing_seconds=0)
        task = video_task(taskUUID="24cd5dff-cb81-4db5-8506-b72a9425f9d1", numberResults=2)
        await api.post([task])
        results.append((await api.one([poll(task["taskUUID"])]))[1])
    assert results[0]["data"][0]["videoUUID"] == results[1]["data"][0]["videoUUID"]
    assert [i["seed"] for i in results[0]["data"]] == [i["seed"] for i in results[1]["data"]]


# --- control endpoints -----------------------------------------------------------------------------


async def test_fault_endpoint_validates_and_reset_restores(make_api: MakeApi) -> None:
    api = make_api(processing_seconds=0.5)
    response = await api.client.post("/_emulator/faults", json={"p_500": 2})
    assert response.status_code == 400
    response = await api.client.post("/_emulator/faults", json={"p_nope": 1})
    assert response.status_code == 400
    response = await api.client.post("/_emulator/faults", json={"p_500": 1.0, "processing_seconds": 7})
    assert response.status_code == 200 and response.json()["p_500"] == 1.0
    assert (await api.post([video_task()])).status_code == 500
    # Control routes are never faulted.
    assert (await api.client.get("/_emulator/ledger")).status_code == 200
    assert (await api.client.post("/_emulator/reset", json={})).status_code == 200
    knobs = (await api.client.get("/_emulator/faults")).json()
    assert (knobs["p_500"], knobs["processing_seconds"]) == (0.0, 0.5)
    ledger = (await api.client.get("/_emulator/ledger")).json()
    assert ledger["http_requests"] == 0 and ledger["tasks"] == []
    assert (await api.client.get("/_emulator/health")).json()["status"] == "ok"


async def test_clock_endpoint(api: Api) -> None:
    task = video_task()
    await api.post([task])
    response = await api.client.post("/_emulator/clock", json={"advance": 11})
    assert response.status_code == 200 and response.json()["offset"] == 11
    assert (await api.one([poll(task["taskUUID"])]))[1]["data"][0]["status"] == "success"
    assert (await api.client.post("/_emulator/clock", json={"advance": -1})).status_code == 400


async def test_ledger_counts_what_was_sent(api: Api) -> None:
    tasks = [video_task() for _ in range(3)]
    await api.post(tasks)
    await api.post([poll(t["taskUUID"]) for t in tasks])
    await api.post([video_task(duration=1)])
    ledger = api.ledger()
    assert ledger["http_requests"] == 3
    assert ledger["requests"] == {"videoInference": 4, "getResponse": 3}
    assert ledger["submissions"] == 3 and ledger["conflicts"] == 0
    assert ledger["charged_usd"] == pytest.approx(0.6)
    assert {t["taskUUID"] for t in ledger["tasks"]} == {t["taskUUID"] for t in tasks}
    record = ledger["tasks"][0]
    assert {
        "taskUUID",
        "status",
        "created_at",
        "completed_at",
        "number_results",
        "cost",
        "video_uuids",
    } <= set(record)


async def test_get_task_details_of_a_failed_task(make_api: MakeApi) -> None:
    api = make_api(p_generation_fail=1.0, processing_seconds=0)
    task = video_task()
    await api.post([task])
    _, body = await api.one([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}])
    response = body["data"][0]["response"]
    assert response["data"] == [] and response["errors"][0]["code"] == "timeoutProvider"


async def test_task_type_counter_is_bounded(api: Api) -> None:
    await api.post([{"taskType": f"t{i}", "taskUUID": new_uuid()} for i in range(100)])
    requests = api.ledger()["requests"]
    assert len(requests) <= 65 and requests["<other>"] == 100 - 64


async def test_resolution_rule_knob_both_ways(make_api: MakeApi) -> None:
    api = make_api()
    mismatched = video_task(resolution="1080p", includeCost=True)  # 1280x720 is 720p
    status, body = await api.one([mismatched])
    assert status == 400 and body["errors"][0]["parameter"] == "resolution"
    api.state.update_knobs({"resolution_must_match_size": False})
    assert (await api.post([mismatched])).status_code == 200
    api.advance(11)
    _, polled = await api.one([poll(mismatched["taskUUID"])])
    assert polled["data"][0]["cost"] == pytest.approx(0.2)  # the size's tier (720p) is produced and billed
    [record] = api.ledger()["tasks"]
    assert (record["width"], record["height"], record["cost"]) == (1280, 720, 0.2)
