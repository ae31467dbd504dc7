"""uploadEndpoint PUTs and webhookURL POSTs to a loopback receiver."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_wan.emulator.delivery import (
    MAX_RETRY_DELAY,
    RETRY_JITTER,
    nominal_retry_delay,
    retry_delay,
)
from airflow_provider_wan.emulator.settings import Knobs
from airflow_provider_wan.emulator.testing import RunningEmulator, running_emulator

from .helpers import loopback_receiver, poll, video_task, wait_until


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(
        processing_seconds=0, seconds_per_output_second=0, media_scale=0.25, seed=3
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(emu: RunningEmulator) -> None:
    emu.reset()


def test_upload_and_webhook_per_result(emu: RunningEmulator) -> None:
    with loopback_receiver() as site:
        task = video_task(
            numberResults=2,
            includeCost=True,
            webhookURL=f"{site.url}/hook?token=s3cret",
            uploadEndpoint=f"{site.url}/bucket/out.mp4?X-Amz-Signature=abc",
        )
        assert emu.call([task]).status_code == 200
        wait_until(lambda: emu.ledger()["webhook_deliveries"] == 2 and emu.ledger()["upload_deliveries"] == 2)
        items = emu.call([poll(task["taskUUID"])]).json()["data"]
        puts = site.received("PUT")
        posts = site.received("POST")
    assert len(puts) == 2 and len(posts) == 2
    videos = {httpx.get(item["videoURL"]).content for item in items}
    assert len(videos) == 2  # two seeds, two different videos
    for put in puts:
        assert put.path == "/bucket/out.mp4?X-Amz-Signature=abc"
        assert put.headers["content-type"] == "video/mp4"
        assert int(put.headers["content-length"]) == len(put.body)
    assert {put.body for put in puts} == videos  # each result PUT with the bytes of its download
    payloads = sorted((p.json() for p in posts), key=lambda i: i["seed"])
    assert payloads == sorted(items, key=lambda i: i["seed"])  # flat items, the same as getResponse
    assert all(p.path == "/hook?token=s3cret" for p in posts)


def test_webhook_retries_until_2xx(emu: RunningEmulator) -> None:
    with loopback_receiver() as site:
        site.statuses["/hook"] = [500, 503]
        task = video_task(webhookURL=f"{site.url}/hook")
        emu.call([task])
        wait_until(lambda: emu.ledger()["webhook_deliveries"] == 1, timeout=10)
        assert len(site.received("POST")) == 3
    webhook = emu.ledger()["webhook"]
    assert webhook["attempts"] == 3 and webhook["failed"] == 0
    assert webhook["recent"][0]["ok"] is True and webhook["recent"][0]["attempts"] == 3


def test_webhook_gives_up_after_bounded_attempts(emu: RunningEmulator) -> None:
    emu.set_faults(delivery_max_attempts=2)
    with loopback_receiver() as site:
        site.statuses["/hook"] = [500] * 10
        emu.call([video_task(webhookURL=f"{site.url}/hook")])
        wait_until(lambda: emu.ledger()["webhook"]["failed"] == 1, timeout=10)
        assert len(site.received("POST")) == 2
    assert emu.ledger()["webhook_deliveries"] == 0


def test_wrapped_webhook_and_failures(emu: RunningEmulator) -> None:
    emu.set_faults(webhook_wrapped=True, p_generation_fail=1.0)
    with loopback_receiver() as site:
        task = video_task(webhookURL=f"{site.url}/hook", uploadEndpoint=f"{site.url}/put")
        emu.call([task])
        wait_until(lambda: emu.ledger()["webhook_deliveries"] == 1)
        [post] = site.received("POST")
        assert site.received("PUT") == []  # nothing to upload for a failed result
    [error] = post.json()["data"]
    assert (error["code"], error["status"], error["taskUUID"]) == (
        "timeoutProvider",
        "error",
        task["taskUUID"],
    )


def test_non_loopback_targets_are_never_contacted(emu: RunningEmulator) -> None:
    task = video_task(webhookURL="https://hooks.example.com/x", uploadEndpoint="https://bucket.example.com/y")
    assert emu.call([task]).status_code == 200
    wait_until(lambda: emu.ledger()["webhook"]["skipped"] == 1 and emu.ledger()["upload"]["skipped"] == 1)
    ledger = emu.ledger()
    assert ledger["webhook"]["attempts"] == 0 and ledger["upload"]["attempts"] == 0


def test_deliveries_wait_for_completion_and_follow_the_clock() -> None:
    with running_emulator(processing_seconds=120, media_scale=0.25) as running, loopback_receiver() as site:
        running.call([video_task(webhookURL=f"{site.url}/hook")])
        assert running.ledger()["webhook"]["attempts"] == 0
        running.advance_clock(200)
        wait_until(lambda: running.ledger()["webhook_deliveries"] == 1)


def test_padded_upload_is_streamed(emu: RunningEmulator) -> None:
    emu.set_faults(pad_bytes=2_000_000)
    with loopback_receiver() as site:
        emu.call([video_task(uploadEndpoint=f"{site.url}/put")])
        wait_until(lambda: emu.ledger()["upload_deliveries"] == 1)
        [put] = site.received("PUT")
    assert len(put.body) == 2_000_000
    assert put.body.rstrip(b"\0").endswith(b"free")  # real MP4, then one free box of zeros


# --- retry schedule: from 250 ms doubling to 8 s, with jitter (reference §4) ------------------------

DOCUMENTED_SCHEDULE = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


def test_nominal_schedule_doubles_to_8_s_and_stays_there() -> None:
    assert [nominal_retry_delay(r) for r in range(1, 10)] == [*DOCUMENTED_SCHEDULE, 8.0, 8.0, 8.0]
    # The default number of attempts reaches the 8 s step (and uses it once more).
    retries = Knobs().delivery_max_attempts - 1
    assert [nominal_retry_delay(r) for r in range(1, retries + 1)] == [*DOCUMENTED_SCHEDULE, 8.0]


def test_jitter_stays_in_band_and_under_the_cap() -> None:
    rng = random.Random(1)
    for retry in range(1, 10):
        nominal = nominal_retry_delay(retry)
        drawn = [retry_delay(retry, rng) for _ in range(500)]
        assert all(nominal * (1 - RETRY_JITTER) <= d <= min(nominal * (1 + RETRY_JITTER), 8.0) for d in drawn)
        assert max(drawn) <= MAX_RETRY_DELAY and len(set(drawn)) > 1  # jittered, never above 8 s


def test_failing_webhook_follows_the_schedule_without_waiting(emu: RunningEmulator) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:  # replaces the real sleep: the test takes no 24 s
        waits.append(seconds)
        await asyncio.sleep(0)

    emu.state.deliveries.sleep = record
    try:
        with loopback_receiver() as site:
            site.statuses["/hook"] = [500] * 20
            emu.call([video_task(webhookURL=f"{site.url}/hook")])
            wait_until(lambda: emu.ledger()["webhook"]["failed"] == 1, timeout=10)
            posts = len(site.received("POST"))
    finally:
        emu.state.deliveries.sleep = asyncio.sleep
    attempts = Knobs().delivery_max_attempts
    assert posts == attempts == emu.ledger()["webhook"]["attempts"]
    assert len(waits) == attempts - 1
    for wait, nominal in zip(waits, [*DOCUMENTED_SCHEDULE, 8.0], strict=True):
        assert nominal * (1 - RETRY_JITTER) <= wait <= min(nominal * (1 + RETRY_JITTER), MAX_RETRY_DELAY)
    assert max(waits) <= 8.0 and waits[-2] >= 8.0 * (1 - RETRY_JITTER)  # the 8 s step is reached
