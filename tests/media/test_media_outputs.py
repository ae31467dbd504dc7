"""Output landing against a real S3 API (moto server), a loopback file server and the Runware emulator."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from airflow_provider_wan.errors import InvalidRequestError, RunwareNotFoundError, RunwareTransportError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.media.delivery import (
    delivery_key,
    land_task_outputs,
    presigned_put_url,
    upload_endpoint_eligible,
    verify_delivered,
)
from airflow_provider_wan.media.downloads import DownloadPolicy
from airflow_provider_wan.media.landing import DEFAULT_CHUNK_SIZE, land_videos, object_key
from airflow_provider_wan.media.s3 import S3Location, parse_s3_uri
from airflow_provider_wan.models import WanVideoRequest
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy
from tests.conftest import LOCAL_DOWNLOADS
from tests.media.conftest import MediaServer

TASK = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"
MiB = 1024 * 1024
FAST_RETRY = RetryPolicy(max_retries=3, backoff_base=0.01)
# The loopback file server speaks plain http on 127.0.0.1: allowed explicitly, as a deployment would.
LOCAL = DownloadPolicy.from_extras(LOCAL_DOWNLOADS)
WRITES = (
    "PutObject",
    "UploadPart",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "PutObjectTagging",
)


def _mp4ish(size: int) -> bytes:
    """Random bytes after an MP4 ``ftyp`` box header: only the first bytes of a download are checked."""
    return b"\x00\x00\x00\x18ftypisom" + os.urandom(size)


def _video(
    server: MediaServer, body: bytes, *, seed: int = 42, cost: float = 0.3, **route: Any
) -> VideoResult:
    video_uuid = str(uuid.uuid4())
    url = server.add(f"/video/{video_uuid}.mp4", body, content_type="video/mp4", **route)
    return VideoResult(task_uuid=TASK, video_uuid=video_uuid, video_url=url, seed=seed, cost=cost)


def _at(uri: str) -> S3Location:
    return parse_s3_uri(uri, require_key=False)


def _writes(calls: Counter[str]) -> int:
    return sum(calls[name] for name in WRITES)


def _tags(s3_client: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3_client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def _keys(s3_client: Any, bucket: str) -> list[str]:
    return sorted(obj["Key"] for obj in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_lands_one_video_with_size_sha_and_metadata(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    video = _video(media_server, mp4_bytes, seed=7, cost=0.15)
    (landed,) = land_videos(
        [video], downloads=LOCAL, task_uuid=TASK, location=_at(f"s3://{s3_bucket}/gen/"), aws_conn_id=aws_conn
    )

    key = f"gen/{TASK}/00-{video.video_uuid}.mp4"
    assert landed.s3_uri == f"s3://{s3_bucket}/{key}" and not landed.skipped and landed.method == "stream"
    assert landed.size_bytes == len(mp4_bytes) and landed.sha256 == hashlib.sha256(mp4_bytes).hexdigest()
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == len(mp4_bytes)
    assert head["Metadata"] == {
        "task-uuid": TASK,
        "video-uuid": video.video_uuid,
        "seed": "7",
        "cost": "0.15",
    }
    assert _tags(s3_client, s3_bucket, key) == {"sha256": landed.sha256, "size": str(len(mp4_bytes))}
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == mp4_bytes
    assert landed.video is video and landed.video_uuid == video.video_uuid


def test_three_videos_three_objects_and_rerun_copies_nothing(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, s3_calls: Counter[str]
) -> None:
    bodies = [_mp4ish(3000 + i) for i in range(3)]
    videos = [_video(media_server, body, seed=i) for i, body in enumerate(bodies)]
    first = land_videos(
        videos, downloads=LOCAL, task_uuid=TASK, location=_at(f"s3://{s3_bucket}"), aws_conn_id=aws_conn
    )

    assert _keys(s3_client, s3_bucket) == [f"{TASK}/{i:02d}-{v.video_uuid}.mp4" for i, v in enumerate(videos)]
    assert [x.sha256 for x in first] == [hashlib.sha256(b).hexdigest() for b in bodies]
    assert s3_calls["PutObject"] == 3
    downloads = sum(media_server.requests.values())

    s3_calls.clear()
    again = land_videos(
        videos, downloads=LOCAL, task_uuid=TASK, location=_at(f"s3://{s3_bucket}"), aws_conn_id=aws_conn
    )
    assert [x.skipped for x in again] == [True, True, True]
    assert [(x.s3_uri, x.sha256, x.size_bytes) for x in again] == [
        (x.s3_uri, x.sha256, x.size_bytes) for x in first
    ]
    assert _writes(s3_calls) == 0 and s3_calls["ListObjectsV2"] == 1
    assert sum(media_server.requests.values()) == downloads  # nothing downloaded again


def test_rerun_with_reordered_results_still_skips(
    aws_conn: str, s3_bucket: str, media_server: MediaServer, s3_calls: Counter[str]
) -> None:
    videos = [_video(media_server, _mp4ish(100)) for _ in range(2)]
    land_videos(
        videos, downloads=LOCAL, task_uuid=TASK, location=_at(f"s3://{s3_bucket}/p"), aws_conn_id=aws_conn
    )
    s3_calls.clear()
    again = land_videos(
        videos[::-1],
        downloads=LOCAL,
        task_uuid=TASK,
        location=_at(f"s3://{s3_bucket}/p"),
        aws_conn_id=aws_conn,
    )
    assert all(x.skipped for x in again) and _writes(s3_calls) == 0


def test_large_video_goes_multipart_with_bounded_parts(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, s3_calls: Counter[str]
) -> None:
    body = _mp4ish(12 * MiB + 123)
    video = _video(media_server, body)
    (landed,) = land_videos(
        [video],
        downloads=LOCAL,
        task_uuid=TASK,
        location=_at(f"s3://{s3_bucket}/big/"),
        aws_conn_id=aws_conn,
        chunk_size=5 * MiB,
    )
    # The digest goes in tags: no server-side copy of the object onto itself.
    assert s3_calls["UploadPart"] == 3 and s3_calls["PutObject"] == 0 and s3_calls["CopyObject"] == 0
    assert s3_calls["PutObjectTagging"] == 1
    key = parse_s3_uri(landed.s3_uri).key
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ContentLength"] == len(body) and landed.sha256 == hashlib.sha256(body).hexdigest()
    assert _tags(s3_client, s3_bucket, key) == {"sha256": landed.sha256, "size": str(len(body))}
    assert head["ContentType"] == "video/mp4"
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body


def test_part_smaller_than_s3_allows_is_refused_before_any_request(
    aws_conn: str, s3_bucket: str, media_server: MediaServer, s3_calls: Counter[str]
) -> None:
    video = _video(media_server, _mp4ish(12 * MiB))
    with pytest.raises(InvalidRequestError, match="chunk_size") as info:
        land_videos(
            [video],
            downloads=LOCAL,
            task_uuid=TASK,
            location=_at(f"s3://{s3_bucket}/p/"),
            aws_conn_id=aws_conn,
            chunk_size=MiB,
        )
    assert info.value.parameter == "chunk_size"
    assert sum(s3_calls.values()) == 0 and all(route.hits == 0 for route in media_server.routes.values())


def test_expired_url_is_refreshed_once(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    video = _video(media_server, b"", fail_with=[410])  # the original URL has expired
    fresh = media_server.add("/fresh.mp4", mp4_bytes)
    asked: list[str] = []

    def refresh(video_uuid: str) -> str | None:
        asked.append(video_uuid)
        return fresh

    (landed,) = land_videos(
        [video],
        downloads=LOCAL,
        task_uuid=TASK,
        location=_at(f"s3://{s3_bucket}/"),
        aws_conn_id=aws_conn,
        refresh_url=refresh,
    )
    assert asked == [video.video_uuid]
    assert landed.size_bytes == len(mp4_bytes) and landed.s3_uri.endswith(f"00-{video.video_uuid}.mp4")


@pytest.mark.parametrize("refresh_answer", ["none", "still-expired", "no-callable"])
def test_unrefreshable_url_names_both_uuids(
    refresh_answer: str, aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer
) -> None:
    video = _video(media_server, b"", fail_with=[404])
    still = media_server.add("/still.mp4", b"", fail_with=[403])
    asked: list[str] = []

    def refresh(video_uuid: str) -> str | None:
        asked.append(video_uuid)
        return None if refresh_answer == "none" else still

    with pytest.raises(RunwareNotFoundError) as info:
        land_videos(
            [video],
            downloads=LOCAL,
            task_uuid=TASK,
            location=_at(f"s3://{s3_bucket}/"),
            aws_conn_id=aws_conn,
            refresh_url=None if refresh_answer == "no-callable" else refresh,
        )
    error = info.value
    assert error.category == "not_found" and error.code == "mediaExpired" and error.task_uuid == TASK
    assert TASK in str(error) and video.video_uuid in str(error) and error.details["video_uuid"]
    assert len(asked) == (0 if refresh_answer == "no-callable" else 1)  # refreshed at most once
    assert _keys(s3_client, s3_bucket) == []


@pytest.mark.parametrize("size", [4000, 11 * MiB])
def test_content_length_mismatch_fails_and_leaves_nothing(
    size: int, aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer
) -> None:
    body = _mp4ish(size)
    video = _video(media_server, body, content_length=size + 1000)  # the server closes early
    with pytest.raises(RunwareTransportError, match=video.video_uuid):
        land_videos(
            [video],
            downloads=LOCAL,
            task_uuid=TASK,
            location=_at(f"s3://{s3_bucket}/"),
            aws_conn_id=aws_conn,
            chunk_size=5 * MiB,
            retry=RetryPolicy(max_retries=2, backoff_base=0.01),
        )
    assert media_server.routes[f"/video/{video.video_uuid}.mp4"].hits == 2
    assert _keys(s3_client, s3_bucket) == []
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_transient_5xx_is_retried(
    aws_conn: str, s3_bucket: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    video = _video(media_server, mp4_bytes, fail_with=[503])
    (landed,) = land_videos(
        [video],
        downloads=LOCAL,
        task_uuid=TASK,
        location=_at(f"s3://{s3_bucket}/"),
        aws_conn_id=aws_conn,
        retry=FAST_RETRY,
    )
    assert landed.size_bytes == len(mp4_bytes)


def test_format_from_url_or_output_format(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer
) -> None:
    webm = VideoResult(TASK, "v-webm", media_server.add("/x.webm", b"\x1a\x45\xdf\xa3" + b"0" * 50))
    mov = VideoResult(
        TASK, "v-mov", media_server.add("/no-extension", b"\x00\x00\x00\x08wide" + b"\x00" * 40)
    )
    landed = land_videos(
        [webm, mov],
        downloads=LOCAL,
        task_uuid=TASK,
        location=_at(f"s3://{s3_bucket}/"),
        aws_conn_id=aws_conn,
        output_format="MOV",
    )
    assert landed[0].s3_uri.endswith("00-v-webm.webm") and landed[0].content_type == "video/webm"
    assert landed[1].s3_uri.endswith("01-v-mov.mov") and landed[1].content_type == "video/quicktime"
    assert "seed" not in s3_client.head_object(Bucket=s3_bucket, Key=f"{TASK}/01-v-mov.mov")["Metadata"]


def test_missing_destination_bucket_is_a_clear_error(
    aws_conn: str, moto_s3: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    video = _video(media_server, mp4_bytes)
    with pytest.raises(RunwareNotFoundError, match="bucket does not exist") as info:
        land_videos(
            [video],
            downloads=LOCAL,
            task_uuid=TASK,
            location=_at("s3://no-such-bucket-b4/"),
            aws_conn_id=aws_conn,
        )
    assert info.value.code == "noSuchBucket" and not info.value.retryable


def test_bad_destination_and_unsafe_ids(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer
) -> None:
    with pytest.raises(InvalidRequestError, match="s3://bucket"):
        _at("https://bucket/prefix")
    with pytest.raises(InvalidRequestError):
        land_videos([], downloads=LOCAL, task_uuid="../x", location=_at(f"s3://{s3_bucket}/"))
    odd = VideoResult(TASK, "../../etc/passwd", media_server.add("/odd.mp4", _mp4ish(10)))
    (landed,) = land_videos(
        [odd], downloads=LOCAL, task_uuid=TASK, location=_at(f"s3://{s3_bucket}/p/"), aws_conn_id=aws_conn
    )
    assert landed.s3_uri.startswith(f"s3://{s3_bucket}/p/{TASK}/00-v") and ".." not in landed.s3_uri
    assert parse_s3_uri("s3://b/a/b.mp4").key == "a/b.mp4"
    assert object_key("out", TASK, 3, "v", "mp4") == f"out/{TASK}/03-v.mp4"


# ---------------------------------------------------------------------------------------------------
# uploadEndpoint delivery


def test_presigned_put_then_verify_delivered(
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
    media_server: MediaServer,
    mp4_bytes: bytes,
    monkeypatch: pytest.MonkeyPatch,
    s3_calls: Counter[str],
) -> None:
    import airflow.sdk.log

    masked: list[str] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", masked.append)
    destination = _at(f"s3://{s3_bucket}/direct/")
    key = delivery_key(destination, "fingerprint-or-task-uuid", "MP4")
    assert key == "direct/_delivered/fingerprint-or-task-uuid.mp4"
    url = presigned_put_url(destination, key, aws_conn_id=aws_conn, expires=600)
    assert url in masked
    assert httpx.put(url, content=mp4_bytes).status_code == 200  # what Runware does when done

    video = _video(media_server, mp4_bytes, seed=5)
    landed = verify_delivered(
        video, downloads=LOCAL, task_uuid=TASK, location=destination, key=key, aws_conn_id=aws_conn
    )
    assert landed is not None and landed.method == "upload_endpoint" and not landed.skipped
    assert landed.sha256 == hashlib.sha256(mp4_bytes).hexdigest() and landed.size_bytes == len(mp4_bytes)
    final = f"direct/{TASK}/00-{video.video_uuid}.mp4"
    assert landed.s3_uri == f"s3://{s3_bucket}/{final}" and _keys(s3_client, s3_bucket) == [final]  # moved
    head = s3_client.head_object(Bucket=s3_bucket, Key=final)
    assert head["Metadata"]["video-uuid"] == video.video_uuid
    assert _tags(s3_client, s3_bucket, final)["sha256"] == landed.sha256
    assert head["ContentType"] == "video/mp4"
    assert media_server.requests[f"HEAD /video/{video.video_uuid}.mp4"] == 1  # size check only

    # Reruns (verify again, or the streamed-copy path) find it and copy nothing.
    s3_calls.clear()
    again = verify_delivered(
        video, downloads=LOCAL, task_uuid=TASK, location=destination, key=key, aws_conn_id=aws_conn
    )
    assert again is not None and again.skipped and again.s3_uri == landed.s3_uri
    (copied,) = land_videos(
        [video], downloads=LOCAL, task_uuid=TASK, location=destination, aws_conn_id=aws_conn
    )
    assert copied.skipped and copied.sha256 == landed.sha256 and _writes(s3_calls) == 0
    assert media_server.requests[f"GET /video/{video.video_uuid}.mp4"] == 0


def test_verify_delivered_missing_or_wrong_size_falls_back(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    destination = _at(f"s3://{s3_bucket}/")
    video = _video(media_server, mp4_bytes)
    key = delivery_key(destination, TASK)
    assert (
        verify_delivered(
            video, downloads=LOCAL, task_uuid=TASK, location=destination, key=key, aws_conn_id=aws_conn
        )
        is None
    )
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=mp4_bytes[:100])  # a truncated delivery
    assert (
        verify_delivered(
            video, downloads=LOCAL, task_uuid=TASK, location=destination, key=key, aws_conn_id=aws_conn
        )
        is None
    )
    assert _keys(s3_client, s3_bucket) == []  # the implausible object is removed
    (landed,) = land_task_outputs(
        [video],
        downloads=LOCAL,
        task_uuid=TASK,
        location=destination,
        aws_conn_id=aws_conn,
        delivered=key,
        delivery_grace_seconds=0.3,
    )
    assert landed.size_bytes == len(mp4_bytes) and landed.method == "stream"


def test_late_delivery_is_awaited_instead_of_downloaded(
    aws_conn: str, s3_client: Any, s3_bucket: str, media_server: MediaServer, mp4_bytes: bytes
) -> None:
    import threading

    destination = _at(f"s3://{s3_bucket}/late/")
    video = _video(media_server, mp4_bytes)
    key = delivery_key(destination, "token-late")
    # Runware reports success first and finishes its PUT a moment later.
    put = threading.Timer(0.6, lambda: s3_client.put_object(Bucket=s3_bucket, Key=key, Body=mp4_bytes))
    put.start()
    try:
        (landed,) = land_task_outputs(
            [video],
            downloads=LOCAL,
            task_uuid=TASK,
            location=destination,
            aws_conn_id=aws_conn,
            delivered=key,
        )
    finally:
        put.join()
    assert landed.method == "upload_endpoint" and landed.size_bytes == len(mp4_bytes)
    assert media_server.requests[f"GET /video/{video.video_uuid}.mp4"] == 0  # never downloaded
    # An implausible delivery is not waited for: refused at once, then copied.
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=mp4_bytes[:10])
    other = dataclasses.replace(video, video_uuid="22222222-3333-4444-8555-666666666666")
    started = time.monotonic()
    (copied,) = land_task_outputs(
        [other],
        downloads=LOCAL,
        task_uuid=TASK + "x",
        location=destination,
        aws_conn_id=aws_conn,
        delivered=key,
    )
    assert copied.method == "stream" and time.monotonic() - started < 5


def test_upload_endpoint_eligibility() -> None:
    one = WanVideoRequest(positive_prompt="x", width=1280, height=720)
    assert upload_endpoint_eligible(one)
    assert not upload_endpoint_eligible(one.replace(number_results=2))
    assert not upload_endpoint_eligible(one.replace(upload_endpoint="https://mine.example/put"))


# ---------------------------------------------------------------------------------------------------
# With the emulator: the sensor flow and real expiry


def _wait_done(hook: RunwareHook, task_uuid: str, expected: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if hook.get_responses([task_uuid])[task_uuid].status(expected) == "success":
            return
        time.sleep(0.05)
    raise AssertionError("emulator task did not finish")


def test_sensor_flow_lands_a_task_submitted_elsewhere(
    emulator: Any, runware_hook: RunwareHook, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    emulator.set_faults(media_scale=0.1)
    task_uuid = str(uuid.uuid4())
    request = WanVideoRequest(positive_prompt="x", width=1280, height=720, duration=2, number_results=2)
    runware_hook.submit_video(request, task_uuid)
    _wait_done(runware_hook, task_uuid, 2)

    landed = land_task_outputs(
        task_uuid=task_uuid, hook=runware_hook, location=_at(f"s3://{s3_bucket}/s/"), aws_conn_id=aws_conn
    )
    assert len(landed) == 2 and not any(x.skipped for x in landed)
    for item in landed:
        body = s3_client.get_object(Bucket=s3_bucket, Key=parse_s3_uri(item.s3_uri).key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == item.sha256 and body[4:8] == b"ftyp"
    again = land_task_outputs(
        task_uuid=task_uuid, hook=runware_hook, location=_at(f"s3://{s3_bucket}/s/"), aws_conn_id=aws_conn
    )
    assert all(x.skipped for x in again)


def test_emulator_video_larger_than_a_part_lands_in_parts(
    emulator: Any,
    runware_hook: RunwareHook,
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
    s3_calls: Counter[str],
) -> None:
    size = 2 * DEFAULT_CHUNK_SIZE + 12_345  # three parts of the default size, the last one ragged
    emulator.set_faults(media_scale=0.1, pad_bytes=size)
    task_uuid = str(uuid.uuid4())
    runware_hook.submit_video(
        WanVideoRequest(positive_prompt="x", width=1280, height=720, duration=2), task_uuid
    )
    _wait_done(runware_hook, task_uuid, 1)
    (landed,) = land_task_outputs(
        task_uuid=task_uuid, hook=runware_hook, location=_at(f"s3://{s3_bucket}/big/"), aws_conn_id=aws_conn
    )
    assert s3_calls["CreateMultipartUpload"] == 1 and s3_calls["UploadPart"] == 3
    assert s3_calls["CompleteMultipartUpload"] == 1 and s3_calls["CopyObject"] == 0
    key = parse_s3_uri(landed.s3_uri).key
    body = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    served = httpx.get(landed.video.video_url).content  # type: ignore[arg-type]
    assert len(body) == landed.size_bytes == size and body == served
    assert _tags(s3_client, s3_bucket, key) == {
        "sha256": hashlib.sha256(served).hexdigest(),
        "size": str(size),
    }


def test_emulator_expired_url_cannot_be_refreshed(
    emulator: Any, runware_hook: RunwareHook, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    emulator.set_faults(media_scale=0.1)
    task_uuid = str(uuid.uuid4())
    runware_hook.submit_video(
        WanVideoRequest(positive_prompt="x", width=1280, height=720, duration=2, ttl=60), task_uuid
    )
    _wait_done(runware_hook, task_uuid, 1)
    emulator.advance_clock(120)  # past the ttl: the URL answers 410, and getResponse returns the same URL
    with pytest.raises(RunwareNotFoundError) as info:
        land_task_outputs(
            task_uuid=task_uuid, hook=runware_hook, location=_at(f"s3://{s3_bucket}/"), aws_conn_id=aws_conn
        )
    assert task_uuid in str(info.value) and "HTTP 410" in str(info.value)
    assert emulator.ledger()["expired_downloads"] == 2  # the first try and the one refresh
    assert _keys(s3_client, s3_bucket) == []


def test_emulator_delivers_to_presigned_put(
    emulator: Any, runware_hook: RunwareHook, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    emulator.set_faults(media_scale=0.1)
    destination = _at(f"s3://{s3_bucket}/d/")
    task_uuid = str(uuid.uuid4())
    request = WanVideoRequest(positive_prompt="x", width=1280, height=720, duration=2)
    assert upload_endpoint_eligible(request)
    key = delivery_key(destination, request.fingerprint())
    url = presigned_put_url(destination, key, aws_conn_id=aws_conn)
    runware_hook.submit_video(request.replace(upload_endpoint=url), task_uuid)
    _wait_done(runware_hook, task_uuid, 1)
    (result,) = runware_hook.get_responses([task_uuid])[task_uuid].results
    deadline = time.monotonic() + 10
    while emulator.ledger()["upload"]["delivered"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (landed,) = land_task_outputs(
        [result],
        task_uuid=task_uuid,
        location=destination,
        aws_conn_id=aws_conn,
        hook=runware_hook,
        delivered=key,
    )
    assert landed.method == "upload_endpoint"
    assert landed.s3_uri == f"s3://{s3_bucket}/d/{task_uuid}/00-{result.video_uuid}.mp4"
    assert landed.sha256 == hashlib.sha256(httpx.get(result.video_url).content).hexdigest()  # type: ignore[arg-type]
