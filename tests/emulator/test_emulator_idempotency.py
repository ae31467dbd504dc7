"""taskUUID uniqueness across task types (mediaStorage included) and getTaskDetails of every accepted task."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from .conftest import Api
from .helpers import data_uri, loopback_receiver, mp4_file, new_uuid, png, poll, video_task


def upload_task(media: str, task_uuid: str | None = None) -> dict[str, Any]:
    return {
        "taskType": "mediaStorage",
        "taskUUID": task_uuid or new_uuid(),
        "operation": "upload",
        "media": media,
    }


def details(task_uuid: str) -> dict[str, str]:
    return {"taskType": "getTaskDetails", "taskUUID": task_uuid}


SMALL_PNG = base64.b64encode(png(8, 8)).decode()


# --- conflicts -------------------------------------------------------------------------------------


async def test_reused_media_storage_uuid_conflicts_and_stores_nothing(api: Api) -> None:
    task = upload_task(SMALL_PNG)
    status, first = await api.one([task])
    assert status == 200
    stored_files = sorted(p.name for p in api.state.media.directory.iterdir())

    status, body = await api.one([task])
    assert status == 400 and "data" not in body
    [error] = body["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"], error["taskType"]) == (
        "conflictTaskUUID",
        "taskUUID",
        task["taskUUID"],
        "mediaStorage",
    )
    assert first["data"][0]["mediaUUID"] not in str(body)  # the earlier answer is not replayed
    assert sorted(p.name for p in api.state.media.directory.iterdir()) == stored_files
    assert len(api.state.media) == 1

    ledger = api.ledger()
    assert ledger["media_uploads"] == 1
    assert ledger["conflicts"] == 1 and ledger["conflicts_by_task_type"] == {"mediaStorage": 1}
    assert ledger["rejected"] == {"conflictTaskUUID": 1}
    assert ledger["requests"] == {"mediaStorage": 2}
    assert ledger["accepted"] == {"mediaStorage": 1}
    assert ledger["submissions"] == 0  # videoInference only


async def test_same_upload_uuid_twice_in_one_array_and_in_another_case(api: Api) -> None:
    task = upload_task(SMALL_PNG)
    status, body = await api.one([task, dict(task)])
    assert status == 200 and len(body["data"]) == 1
    assert [e["code"] for e in body["errors"]] == ["conflictTaskUUID"]
    status, body = await api.one([dict(task, taskUUID=task["taskUUID"].upper())])
    assert status == 400 and body["errors"][0]["code"] == "conflictTaskUUID"
    assert api.ledger()["media_uploads"] == 1 and api.ledger()["conflicts"] == 2


async def test_uniqueness_spans_task_types(api: Api) -> None:
    video = video_task()
    assert (await api.post([video])).status_code == 200
    status, body = await api.one([upload_task(SMALL_PNG, video["taskUUID"])])
    assert status == 400 and body["errors"][0]["code"] == "conflictTaskUUID"

    upload = upload_task(SMALL_PNG)
    assert (await api.post([upload])).status_code == 200
    status, body = await api.one([video_task(taskUUID=upload["taskUUID"])])
    assert status == 400 and body["errors"][0]["code"] == "conflictTaskUUID"
    assert "taskType" not in body["errors"][0]  # videoInference errors have the documented shape

    ledger = api.ledger()
    assert ledger["conflicts_by_task_type"] == {"mediaStorage": 1, "videoInference": 1}
    assert ledger["accepted"] == {"videoInference": 1, "mediaStorage": 1}
    assert (ledger["media_uploads"], ledger["submissions"], ledger["charged_usd"]) == (1, 1, 0.2)


async def test_delete_task_uuid_is_unique_too(api: Api) -> None:
    _, body = await api.one([upload_task(SMALL_PNG)])
    media_uuid = body["data"][0]["mediaUUID"]
    delete = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "operation": "delete",
        "media": media_uuid,
    }
    assert (await api.post([delete])).status_code == 200
    status, body = await api.one([delete])
    assert status == 400 and body["errors"][0]["code"] == "conflictTaskUUID"
    assert api.ledger()["media_deletes"] == 1


async def test_a_refused_upload_does_not_burn_its_uuid(api: Api) -> None:
    task = upload_task(base64.b64encode(b"not a medium at all").decode())
    status, body = await api.one([task])
    assert status == 400 and body["errors"][0]["code"] == "unsupportedMediaFormat"
    status, body = await api.one([dict(task, media=SMALL_PNG)])
    assert status == 200 and "mediaUUID" in body["data"][0]
    status, body = await api.one([details(task["taskUUID"])])
    assert body["data"][0]["request"] == [dict(task, media=SMALL_PNG)]


async def test_conflict_is_answered_before_the_media_url_is_fetched(api: Api, tmp_path: Any) -> None:
    clip = mp4_file(tmp_path, seconds=1).read_bytes()
    with loopback_receiver() as site:
        site.files["/clip.mp4"] = (clip, "video/mp4")
        task = upload_task(f"{site.url}/clip.mp4")
        assert (await api.post([task])).status_code == 200
        status, body = await api.one([task])
        assert status == 400 and body["errors"][0]["code"] == "conflictTaskUUID"
        assert len(site.received("GET")) == 1
    assert api.ledger()["media_uploads"] == 1 and len(api.state.media) == 1


async def test_concurrent_uploads_with_one_uuid_store_once(api: Api, tmp_path: Any) -> None:
    clip = mp4_file(tmp_path, seconds=1).read_bytes()
    with loopback_receiver() as site:
        site.files["/clip.mp4"] = (clip, "video/mp4")
        task = upload_task(f"{site.url}/clip.mp4")
        answers = await asyncio.gather(*(api.post([task]) for _ in range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400, 400, 400]
    assert api.ledger()["media_uploads"] == 1 and len(api.state.media) == 1
    assert not api.state.records.is_reserved(task["taskUUID"])


# --- getTaskDetails / getResponse of mediaStorage tasks ----------------------------------------------


async def test_task_details_of_an_upload_recover_its_media(api: Api) -> None:
    task = upload_task(SMALL_PNG)
    _, body = await api.one([task])
    [answer] = body["data"]
    await api.post([task])  # conflict: recover through getTaskDetails

    status, body = await api.one([details(task["taskUUID"])])
    assert status == 200
    [item] = body["data"]
    assert (item["taskType"], item["taskUUID"]) == ("getTaskDetails", task["taskUUID"])
    assert item["request"] == [task]  # small media: kept as sent
    assert item["response"] == {"data": [answer]}
    [stored] = item["response"]["data"]
    assert stored["taskType"] == "mediaStorage" and stored["mediaUUID"] == answer["mediaUUID"]
    assert stored["mediaURL"].endswith(f"/media/storage/{answer['mediaUUID']}.png")
    assert (await api.client.get(stored["mediaURL"])).content == png(8, 8)

    status, body = await api.one([poll(task["taskUUID"])])  # getResponse gives the same answer
    assert status == 200 and body["data"] == [answer]
    assert api.ledger()["requests"] == {"mediaStorage": 2, "getTaskDetails": 1, "getResponse": 1}


async def test_task_details_never_keep_a_large_payload(api: Api) -> None:
    big = png(8, 8) + bytes(300_000)  # trailing bytes: still a PNG by its magic, 400 kB as base64
    media = data_uri(big, "image/png")
    task = upload_task(media)
    await api.post([task])
    _, body = await api.one([details(task["taskUUID"])])
    [request] = body["data"][0]["request"]
    assert {k: v for k, v in request.items() if k != "media"} == {
        k: v for k, v in task.items() if k != "media"
    }
    kept = request["media"]
    assert len(kept) < 200 and kept.startswith("data:image/png;base64,iVBOR")
    assert kept.endswith(f"...[{len(media) - len('data:image/png;base64,') - 48} characters omitted]")
    record = api.state.records.get(task["taskUUID"])
    assert record is not None and len(str(record)) < 2_000  # the stored copy is small too

    plain = upload_task(base64.b64encode(big).decode())
    await api.post([plain])
    _, body = await api.one([details(plain["taskUUID"])])
    assert "characters omitted]" in body["data"][0]["request"][0]["media"]


async def test_task_details_of_a_delete(api: Api) -> None:
    _, body = await api.one([upload_task(SMALL_PNG)])
    media_uuid = body["data"][0]["mediaUUID"]
    delete = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "operation": "delete",
        "media": media_uuid,
    }
    await api.post([delete])
    _, body = await api.one([details(delete["taskUUID"])])
    [item] = body["data"]
    assert item["request"] == [delete]
    assert item["response"]["data"] == [
        {
            "taskType": "mediaStorage",
            "taskUUID": delete["taskUUID"],
            "operation": "delete",
            "mediaUUID": media_uuid,
        }
    ]


async def test_video_task_details_trim_inline_frame_images(api: Api) -> None:
    frame = data_uri(png(1024, 768), "image/png")
    task = video_task(inputs={"frameImages": [{"image": frame}]}, width=None, height=None)
    del task["width"], task["height"]
    assert (await api.post([task])).status_code == 200
    _, body = await api.one([details(task["taskUUID"])])
    [request] = body["data"][0]["request"]
    assert "characters omitted]" in request["inputs"]["frameImages"][0]["image"]
    assert {k: v for k, v in request.items() if k != "inputs"} == {
        k: v for k, v in task.items() if k != "inputs"
    }
    assert task["inputs"]["frameImages"][0]["image"] == frame  # the caller's object is not changed
