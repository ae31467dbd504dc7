"""Real loopback HTTP: playable outputs, Range/HEAD, ttl, padding, media URLs and storage."""

from __future__ import annotations

import base64
import io
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from airflow_provider_wan.emulator.encoder import EVICTION_GRACE_SECONDS, RenderSpec, VideoCache
from airflow_provider_wan.emulator.testing import RunningEmulator, running_emulator

from .helpers import (
    audio,
    data_uri,
    jpeg,
    loopback_receiver,
    mp4_file,
    new_uuid,
    png,
    poll,
    probe,
    video_task,
    webp,
)


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(processing_seconds=0, seconds_per_output_second=0, seed=11) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(emu: RunningEmulator) -> None:
    emu.reset()


def finished(emu: RunningEmulator, **overrides: Any) -> list[dict[str, Any]]:
    task = video_task(**overrides)
    response = emu.call([task])
    assert response.status_code == 200, response.text
    body = emu.call([poll(task["taskUUID"])]).json()
    assert all(i["status"] == "success" for i in body["data"]), body
    return list(body["data"])


def test_start_is_fast_and_urls_are_loopback() -> None:
    import time

    started = time.monotonic()
    with running_emulator() as running:
        elapsed = time.monotonic() - started
        assert running.base_url == f"{running.root_url}/v1" and running.root_url.startswith(
            "http://127.0.0.1:"
        )
        assert running.api_key == "runware-emulator-key"
        assert httpx.get(f"{running.root_url}/_emulator/health").json()["status"] == "ok"
    assert elapsed < 1.0


def test_mp4_output_is_honest_at_full_scale(emu: RunningEmulator) -> None:
    [item] = finished(emu, width=1280, height=720, duration=2)
    response = httpx.get(item["videoURL"])
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    info = probe(response.content)
    assert info["format"].startswith("mov,mp4") and info["codec"] == "h264"
    assert (info["width"], info["height"]) == (1280, 720)
    assert abs(info["frames"] - 60) <= 1 and abs(info["duration"] - 2) <= 1 / 30 + 0.03
    assert info["audio"] == ["aac"]
    assert response.content[4:8] == b"ftyp" and response.content[8:12] != b"qt  "


def test_webm_without_audio_at_reduced_scale(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25)
    [item] = finished(
        emu, width=1920, height=1080, duration=3, outputFormat="WEBM", settings={"audio": False}
    )
    assert item["videoURL"].endswith(".webm")
    response = httpx.get(item["videoURL"])
    assert response.headers["content-type"] == "video/webm"
    info = probe(response.content)
    assert info["format"].startswith("matroska") and info["codec"] == "vp8"
    assert (info["width"], info["height"]) == (480, 270)  # 1920x1080 x 0.25
    assert abs(info["frames"] - 3 * 8) <= 1  # 30 fps x 0.25 = 8 fps (rounded)
    assert info["audio"] == []


def test_mov_with_audio(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25)
    [item] = finished(emu, width=720, height=1280, duration=2, outputFormat="MOV")
    response = httpx.get(item["videoURL"])
    assert response.headers["content-type"] == "video/quicktime"
    assert response.content[4:12] == b"ftypqt  "
    info = probe(response.content)
    assert (info["width"], info["height"]) == (180, 320) and info["audio"] == ["aac"]
    assert abs(info["frames"] - 16) <= 1


def test_range_and_head(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25)
    [item] = finished(emu)
    url = item["videoURL"]
    full = httpx.get(url).content
    size = len(full)
    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size and head.content == b""
    assert head.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == full[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == full[-10:]
    rest = httpx.get(url, headers={"Range": "bytes=100-"})
    assert rest.content == full[100:]
    assert httpx.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    chunks = [
        httpx.get(url, headers={"Range": f"bytes={i}-{i + 4095}"}).content for i in range(0, size, 4096)
    ]
    assert b"".join(chunks) == full


def test_ttl_expiry(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25)
    [item] = finished(emu, ttl=60)
    assert httpx.head(item["videoURL"]).status_code == 200
    emu.advance_clock(61)
    expired = httpx.get(item["videoURL"])
    assert expired.status_code == 410 and expired.json()["errors"][0]["code"] == "mediaExpired"
    assert emu.ledger()["expired_downloads"] == 1


def test_expired_urls_are_renewed_on_request_with_the_knob(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25, refresh_expired_urls=True)
    task = video_task(ttl=60)
    emu.call([task])
    [item] = emu.call([poll(task["taskUUID"])]).json()["data"]
    original = item["videoURL"]
    content = httpx.get(original).content
    assert emu.call([poll(task["taskUUID"])]).json()["data"] == [item]  # not expired: unchanged

    emu.advance_clock(61)
    assert httpx.get(original).status_code == 410
    [renewed] = emu.call([poll(task["taskUUID"])]).json()["data"]
    fresh = renewed["videoURL"]
    assert fresh.startswith(f"{original}?token=") and {**renewed, "videoURL": original} == item
    assert httpx.get(fresh).content == content  # same video, new signed URL
    assert httpx.get(original).status_code == 410  # the old one stays dead
    details = emu.call([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}]).json()
    assert details["data"][0]["response"]["data"][0]["videoURL"] == fresh  # still valid: same URL

    forged = httpx.get(f"{original}?token={'0' * 32}")
    assert forged.status_code == 403 and forged.json()["errors"][0]["code"] == "forbidden"
    other = finished(emu)[0]["videoURL"]
    assert httpx.get(f"{other}?token={fresh.rsplit('=', 1)[1]}").status_code == 403  # another video's token

    emu.advance_clock(61)  # the fresh URL has its own ttl from the moment it was handed out
    assert httpx.get(fresh).status_code == 410
    details = emu.call([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}]).json()
    third = details["data"][0]["response"]["data"][0]["videoURL"]
    assert third not in (original, fresh) and httpx.get(third).content == content
    ledger = emu.ledger()
    assert ledger["url_refreshes"] == 2  # only on request: the other task was not polled again
    assert ledger["expired_downloads"] == 3


def test_without_the_knob_an_expired_url_is_never_renewed(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25)
    [item] = finished(emu, ttl=60)
    emu.advance_clock(61)
    assert emu.call([poll(item["taskUUID"])]).json()["data"] == [item]
    assert httpx.get(item["videoURL"]).status_code == 410
    assert emu.ledger()["url_refreshes"] == 0


def test_default_ttl_applies_without_ttl(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25, default_ttl=5)
    [item] = finished(emu)
    assert httpx.head(item["videoURL"]).status_code == 200
    emu.advance_clock(6)
    assert httpx.head(item["videoURL"]).status_code == 410


def test_not_ready_and_unknown_videos_are_404(emu: RunningEmulator) -> None:
    emu.set_faults(processing_seconds=60)
    task = video_task()
    emu.call([task])
    video_uuid = emu.state.jobs.get(task["taskUUID"]).video_uuids[0]  # type: ignore[union-attr]
    assert httpx.get(f"{emu.root_url}/media/videos/{video_uuid}.mp4").status_code == 404
    assert httpx.get(f"{emu.root_url}/media/videos/{new_uuid()}.mp4").status_code == 404


def test_pad_bytes_streams_a_playable_larger_mp4(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.25, pad_bytes=3_000_000)
    [item] = finished(emu)
    with httpx.stream("GET", item["videoURL"]) as response:
        body = b"".join(response.iter_bytes())
    assert len(body) == 3_000_000 == int(response.headers["content-length"])
    info = probe(body)
    assert abs(info["frames"] - 16) <= 1
    # The padding is one top-level free box at the end.
    job = emu.state.jobs.get(item["taskUUID"])
    assert job is not None
    real = emu.state.videos.directory / emu.state.output_spec(job, 0).filename
    real_size = real.stat().st_size
    assert body[real_size + 4 : real_size + 8] == b"free"
    assert struct.unpack(">I", body[real_size : real_size + 4])[0] == 3_000_000 - real_size


def test_pad_bytes_beyond_4_gib_uses_a_64_bit_box(emu: RunningEmulator) -> None:
    target = 5 * 1024**3
    emu.set_faults(media_scale=0.25, pad_bytes=target)
    [item] = finished(emu)
    head = httpx.head(item["videoURL"])
    assert int(head.headers["content-length"]) == target
    start = target - 1024
    tail = httpx.get(item["videoURL"], headers={"Range": f"bytes={start}-"})
    assert tail.status_code == 206 and tail.content == bytes(1024)
    assert emu.ledger()["download_bytes"] == 1024  # never materialised


def test_concurrent_downloads_encode_once(tmp_path: Path) -> None:
    with running_emulator(
        processing_seconds=0, seconds_per_output_second=0, media_scale=0.2, video_cache_dir=str(tmp_path)
    ) as fresh:
        task = video_task(duration=3)
        fresh.call([task])
        [item] = fresh.call([poll(task["taskUUID"])]).json()["data"]
        results: list[bytes] = []

        def download() -> None:
            results.append(httpx.get(item["videoURL"], timeout=30).content)

        threads = [threading.Thread(target=download) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == 4 and len(set(results)) == 1
        assert fresh.ledger()["encodes"] == 1


# --- media references by URL and by storage UUID ----------------------------------------------------


def test_url_inputs_are_fetched_and_format_checked(emu: RunningEmulator, tmp_path: Path) -> None:
    with loopback_receiver() as site:
        site.files["/first.jpg"] = (jpeg(300, 400), "image/jpeg")
        site.files["/ref.webp"] = (webp(64, 64), "image/webp")
        site.files["/voice.mp3"] = (audio("libmp3lame", "mp3"), "audio/mpeg")
        site.files["/clip.mp4"] = (mp4_file(tmp_path, seconds=3).read_bytes(), "video/mp4")
        site.files["/notes.txt"] = (b"just text", "text/plain")

        frames = video_task(
            width=None,
            height=None,
            resolution="720p",
            inputs={"frameImages": [{"image": f"{site.url}/first.jpg"}]},
        )
        assert emu.call([frames]).status_code == 200
        record = next(t for t in emu.ledger()["tasks"] if t["taskUUID"] == frames["taskUUID"])
        assert (record["width"], record["height"]) == (832, 1088)  # 3:4 portrait

        refs = video_task(
            includeCost=True,
            numberResults=2,
            inputs={
                "referenceImages": [f"{site.url}/ref.webp"],
                "referenceVideos": [f"{site.url}/clip.mp4"],
                "audio": f"{site.url}/voice.mp3",
            },
        )
        assert emu.call([refs]).status_code == 200
        items = emu.call([poll(refs["taskUUID"])]).json()["data"]
        # 720p: 2 s output per item, plus 3 s of input video once, on the first item.
        assert [i["cost"] for i in items] == [pytest.approx(0.5), pytest.approx(0.2)]
        assert emu.ledger()["charged_usd"] == pytest.approx(0.2 + 0.7)

        bad = emu.call([video_task(inputs={"referenceImages": [f"{site.url}/notes.txt"]})]).json()["errors"][
            0
        ]
        assert (bad["code"], bad["parameter"]) == ("unsupportedMediaFormat", "inputs.referenceImages[0]")
        missing = emu.call([video_task(inputs={"referenceVideos": [f"{site.url}/missing.mp4"]})])
        assert missing.status_code == 400
        site.statuses["/gone.png"] = [404]
        gone = emu.call([video_task(inputs={"referenceImages": [f"{site.url}/gone.png"]})]).json()["errors"][
            0
        ]
        assert gone["code"] == "invalidMediaURL"
        wrong_kind = emu.call([video_task(inputs={"referenceVideos": [f"{site.url}/ref.webp"]})]).json()[
            "errors"
        ][0]
        assert wrong_kind["code"] == "unsupportedMediaFormat" and wrong_kind["allowedValues"] == [
            "mp4",
            "mov",
            "webm",
        ]


def test_media_storage_by_url_and_use_as_reference_video(emu: RunningEmulator, tmp_path: Path) -> None:
    clip = mp4_file(tmp_path, seconds=4).read_bytes()
    with loopback_receiver() as site:
        site.files["/clip.mp4"] = (clip, "video/mp4")
        upload = {
            "taskType": "mediaStorage",
            "taskUUID": new_uuid(),
            "operation": "upload",
            "media": f"{site.url}/clip.mp4",
        }
        stored = emu.call([upload]).json()["data"][0]
    assert httpx.get(stored["mediaURL"]).content == clip
    task = video_task(
        width=1920, height=1080, includeCost=True, inputs={"referenceVideos": [stored["mediaUUID"]]}
    )
    assert emu.call([task]).status_code == 200
    [item] = emu.call([poll(task["taskUUID"])]).json()["data"]
    assert item["cost"] == pytest.approx(0.15 * (2 + 4))


def test_media_storage_accepts_data_uri_and_plain_base64(emu: RunningEmulator) -> None:
    for media in (data_uri(png(), "image/png"), base64.b64encode(audio("flac", "flac")).decode()):
        body = emu.call([{"taskType": "mediaStorage", "taskUUID": new_uuid(), "media": media}]).json()
        assert "mediaUUID" in body["data"][0]
    assert emu.ledger()["media_uploads"] == 2


# --- content follows prompts and seed -----------------------------------------------------------------


def _first_frame(data: bytes) -> bytes:
    """The decoded pixels of the first frame: a difference here is visible, not just metadata."""
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return b"".join(bytes(plane) for plane in frame.planes)


def _download(emu: RunningEmulator, **overrides: Any) -> list[bytes]:
    return [httpx.get(item["videoURL"]).content for item in finished(emu, **overrides)]


def test_content_depends_on_prompts_seed_and_task(emu: RunningEmulator) -> None:
    emu.set_faults(media_scale=0.1)
    task_uuid = new_uuid()
    encodes = emu.ledger()["encodes"]  # of this process so far (the cache outlives resets)
    fox_1 = _download(emu, positivePrompt="a red fox", seed=1, taskUUID=task_uuid)[0]
    fox_2 = _download(emu, positivePrompt="a red fox", seed=2)[0]
    whale_1 = _download(emu, positivePrompt="a blue whale", seed=1)[0]
    fox_1_negative = _download(emu, positivePrompt="a red fox", negativePrompt="snow", seed=1)[0]
    fox_1_other_task = _download(emu, positivePrompt="a red fox", seed=1)[0]  # the card shows the task UUID
    videos = [fox_1, fox_2, whale_1, fox_1_negative, fox_1_other_task]
    assert len(set(videos)) == 5
    assert len({_first_frame(v) for v in videos}) == 5  # the pictures differ, not only the bytes
    assert emu.ledger()["encodes"] == encodes + 5
    emu.reset(keep_faults=True)  # forgets the task, so its UUID can be submitted again
    assert _download(emu, positivePrompt="a red fox", seed=1, taskUUID=task_uuid) == [fox_1]
    assert emu.ledger()["encodes"] == encodes + 5  # the same request: served from the cache
    items = finished(emu, positivePrompt="a red fox", seed=1, numberResults=2)
    assert [i["seed"] for i in items] == [1, 2]  # result i uses seed + i, and shows it
    several = [httpx.get(i["videoURL"]).content for i in items]
    assert several[0] != several[1] and fox_1 not in several
    for video in videos:
        info = probe(video)
        assert (info["width"], info["height"], info["audio"]) == (128, 72, ["aac"])


def test_same_request_and_seed_encode_to_the_same_bytes(emu: RunningEmulator, tmp_path: Path) -> None:
    emu.set_faults(media_scale=0.1)
    request = {
        "positivePrompt": "a lighthouse at dusk",
        "seed": 99,
        "outputFormat": "WEBM",
        "taskUUID": new_uuid(),
    }
    here = _download(emu, **request)
    # Another emulator with an empty cache encodes again: the encode itself is deterministic.
    with running_emulator(
        processing_seconds=0, seconds_per_output_second=0, media_scale=0.1, video_cache_dir=str(tmp_path)
    ) as other:
        there = _download(other, **request)
        assert other.ledger()["encodes"] == 1
    assert here == there


def test_cache_evicts_least_recently_used_encodes_only(tmp_path: Path) -> None:
    cache = VideoCache(tmp_path, max_files=2)
    old = time.time() - 2 * EVICTION_GRACE_SECONDS
    names = [RenderSpec(64, 36, 3, 2, "mp4", False, f"{i:016x}").filename for i in range(4)]
    for age, name in enumerate(names):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (old + age, old + age))
    (tmp_path / names[3]).touch()  # recently used: within the grace period
    for foreign in ("notes.txt", "video-1.mp4", "v1-holiday.mp4"):
        (tmp_path / foreign).write_bytes(b"mine")
        os.utime(tmp_path / foreign, (old - 10, old - 10))
    assert cache.evict() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names[2], names[3], "notes.txt", "video-1.mp4", "v1-holiday.mp4"]
    )
