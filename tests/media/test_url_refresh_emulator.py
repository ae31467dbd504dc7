"""Expired output URLs against the emulator: the provider's refresher gets a fresh URL and lands the video.

The results are read while the URLs are valid (as the operator keeps them in XCom), the emulator's clock
then passes the ``ttl``, and only then are they landed: the first download answers 410 and
``runware_url_refresher`` asks Runware (getResponse, then getTaskDetails) once for the current URL. With the
emulator's ``refresh_expired_urls`` knob that is a new signed URL; without it there is none to get.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import httpx
import pytest

from airflow_provider_wan.errors import RunwareNotFoundError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.media.delivery import land_task_outputs
from airflow_provider_wan.media.s3 import parse_s3_uri
from airflow_provider_wan.models import WanVideoRequest
from airflow_provider_wan.results import VideoResult


def _results(hook: RunwareHook, number_results: int = 1) -> tuple[str, list[VideoResult]]:
    """Submit a 60 s-ttl task and return its successful results while their URLs still work."""
    task_uuid = str(uuid.uuid4())
    request = WanVideoRequest(
        positive_prompt="a kite over dunes",
        width=1280,
        height=720,
        duration=2,
        ttl=60,
        number_results=number_results,
    )
    hook.submit_video(request, task_uuid)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = hook.get_responses([task_uuid])[task_uuid]
        if state.status(number_results) == "success":
            return task_uuid, list(state.results)
        time.sleep(0.05)
    raise AssertionError("emulator task did not finish")


def _keys(s3_client: Any, bucket: str) -> list[str]:
    return sorted(obj["Key"] for obj in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_expired_urls_are_refreshed_once_and_landed(
    emulator: Any, runware_hook: RunwareHook, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    emulator.set_faults(media_scale=0.1, refresh_expired_urls=True)
    task_uuid, results = _results(runware_hook, number_results=2)
    originals = [httpx.get(r.video_url).content for r in results]  # type: ignore[arg-type]
    assert originals[0] != originals[1]  # two seeds, two videos: each must land with its own bytes
    emulator.advance_clock(120)  # past the ttl
    assert all(httpx.get(r.video_url).status_code == 410 for r in results)  # type: ignore[arg-type]
    before = emulator.ledger()

    landed = land_task_outputs(
        results,
        task_uuid=task_uuid,
        hook=runware_hook,
        location=parse_s3_uri(f"s3://{s3_bucket}/r/", require_key=False),
        aws_conn_id=aws_conn,
    )

    assert [item.video_uuid for item in landed] == [r.video_uuid for r in results]
    for index, (item, original) in enumerate(zip(landed, originals, strict=True)):
        assert not item.skipped and item.method == "stream"
        assert item.s3_uri == f"s3://{s3_bucket}/r/{task_uuid}/{index:02d}-{item.video_uuid}.mp4"
        body = s3_client.get_object(Bucket=s3_bucket, Key=parse_s3_uri(item.s3_uri).key)["Body"].read()
        assert body == original and item.sha256 == hashlib.sha256(original).hexdigest()
    ledger = emulator.ledger()
    # One stale download per video, then the refresher's getResponse renewed both URLs at once.
    assert ledger["expired_downloads"] - before["expired_downloads"] == 2
    assert ledger["url_refreshes"] == 2
    assert ledger["requests"]["getResponse"] - before["requests"]["getResponse"] == 2  # once per video
    assert ledger["submissions"] == 1 and ledger["charged_usd"] == pytest.approx(0.4)  # nothing regenerated
    assert all(httpx.get(r.video_url).status_code == 410 for r in results)  # type: ignore[arg-type]


def test_without_a_fresh_url_the_error_names_task_and_video(
    emulator: Any, runware_hook: RunwareHook, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    emulator.set_faults(media_scale=0.1)  # refresh_expired_urls off: Runware hands back the same URL
    task_uuid, (result,) = _results(runware_hook)
    emulator.advance_clock(120)

    with pytest.raises(RunwareNotFoundError) as info:
        land_task_outputs(
            [result],
            task_uuid=task_uuid,
            hook=runware_hook,
            location=parse_s3_uri(f"s3://{s3_bucket}/", require_key=False),
            aws_conn_id=aws_conn,
        )

    message = str(info.value)
    assert task_uuid in message and result.video_uuid in message and "HTTP 410" in message
    assert "even after refreshing its URL once" in message
    assert info.value.code == "mediaExpired" and info.value.retryable is False
    ledger = emulator.ledger()
    assert ledger["expired_downloads"] == 2 and ledger["url_refreshes"] == 0  # first try + one refresh
    assert _keys(s3_client, s3_bucket) == []
