"""Videos show what was asked: the test card, the frame images, the reference video's end, the input audio."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from airflow_provider_wan.emulator.card import Card, _font, _wrap
from airflow_provider_wan.emulator.jobs import KeptInputs
from airflow_provider_wan.emulator.testing import RunningEmulator, running_emulator

from .card_media import audio_profile, clip_mp4, difference, frames, picture, png_bytes, tone_wav
from .helpers import new_uuid, poll, probe, video_task

SAME = 12.0  # mean abs difference (0..255) on a 32x18 thumbnail: "the same picture" after H.264
DIFFERENT = 30.0


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(processing_seconds=0, seconds_per_output_second=0, seed=5, media_scale=0.25) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(emu: RunningEmulator) -> None:
    emu.reset(keep_faults=True)


def _store(emu: RunningEmulator, data: bytes, mime: str) -> str:
    media = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    body = emu.call([{"taskType": "mediaStorage", "taskUUID": new_uuid(), "media": media}]).json()
    return str(body["data"][0]["mediaUUID"])


def _video(emu: RunningEmulator, **overrides: Any) -> bytes:
    task = video_task(**overrides)
    response = emu.call([task])
    assert response.status_code == 200, response.text
    [item] = emu.call([poll(task["taskUUID"])]).json()["data"]
    return httpx.get(item["videoURL"], timeout=60).content


def _frame_task(first: bytes, last: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    images = [{"image": f"data:image/png;base64,{base64.b64encode(first).decode()}", "frame": "first"}]
    if last is not None:
        images.append({"image": f"data:image/png;base64,{base64.b64encode(last).decode()}", "frame": "last"})
    return {
        "width": None,
        "height": None,
        "resolution": "720p",
        "inputs": {"frameImages": images},
        **overrides,
    }


def test_first_and_last_frames_are_the_frame_images(emu: RunningEmulator) -> None:
    first, last = picture(640, 360, 30), picture(640, 360, 200)
    shown = frames(_video(emu, **_frame_task(png_bytes(first), png_bytes(last))))
    assert shown[0].size == (320, 180)  # 720p 16:9 at media_scale 0.25
    assert difference(shown[0], first) < SAME < DIFFERENT < difference(shown[0], last)
    assert difference(shown[-1], last) < SAME < DIFFERENT < difference(shown[-1], first)
    middle = shown[len(shown) // 2]  # the card
    assert difference(middle, first) > DIFFERENT and difference(middle, last) > DIFFERENT


def test_a_stored_frame_image_is_kept_for_the_encode_after_a_delete(emu: RunningEmulator) -> None:
    first = picture(360, 640, 90)  # portrait: the output follows its aspect
    media_uuid = _store(emu, png_bytes(first), "image/png")
    task = video_task(
        width=None, height=None, resolution="720p", inputs={"frameImages": [{"image": media_uuid}]}
    )
    assert emu.call([task]).status_code == 200
    delete = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "operation": "delete",
        "media": media_uuid,
    }
    assert emu.call([delete]).status_code == 200
    [item] = emu.call([poll(task["taskUUID"])]).json()["data"]
    shown = frames(httpx.get(item["videoURL"], timeout=60).content)
    assert shown[0].size == (180, 320) and difference(shown[0], first) < SAME


def test_a_continuation_starts_from_the_reference_videos_last_frame(emu: RunningEmulator) -> None:
    blue, orange = (20, 40, 220), (250, 140, 20)
    reference = _store(emu, clip_mp4([blue] * 12 + [orange]), "video/mp4")
    shown = frames(_video(emu, inputs={"referenceVideos": [reference]}))
    opening = shown[0]
    assert difference(opening, Image.new("RGB", opening.size, orange)) < SAME
    assert difference(opening, Image.new("RGB", opening.size, blue)) > DIFFERENT


def test_input_audio_is_the_track_padded_to_the_duration(emu: RunningEmulator) -> None:
    voice = _store(emu, tone_wav(1.0), "audio/wav")
    video = _video(emu, duration=2, inputs={"audio": voice}, settings={"audio": False})
    assert probe(video)["audio"] == ["aac"]  # input audio is the track even with settings.audio off
    seconds, loud_until = audio_profile(video)
    assert seconds == pytest.approx(2.0, abs=0.1)
    assert loud_until == pytest.approx(1.0, abs=0.15)  # the input's length, then silence


def test_longer_input_audio_is_trimmed(emu: RunningEmulator) -> None:
    voice = _store(emu, tone_wav(3.5), "audio/wav")
    seconds, loud_until = audio_profile(_video(emu, duration=2, inputs={"audio": voice}))
    assert seconds == pytest.approx(2.0, abs=0.1) and loud_until == pytest.approx(2.0, abs=0.15)


def test_without_input_audio_the_tone_plays_or_nothing(emu: RunningEmulator) -> None:
    seconds, loud_until = audio_profile(_video(emu, duration=2))
    assert seconds == pytest.approx(2.0, abs=0.1) and loud_until == pytest.approx(2.0, abs=0.15)
    assert probe(_video(emu, duration=2, settings={"audio": False}))["audio"] == []


def test_reference_images_show_as_thumbnails(emu: RunningEmulator) -> None:
    plain = frames(_video(emu, seed=3, taskUUID=(task_uuid := new_uuid())))
    emu.reset(keep_faults=True)
    ref = "data:image/png;base64," + base64.b64encode(png_bytes(picture(200, 200, 10))).decode()
    with_ref = frames(_video(emu, seed=3, taskUUID=task_uuid, inputs={"referenceImages": [ref]}))
    # Same request but the reference: the card differs where the thumbnail sits (the lower left).
    box = (0, 90, 160, 150)
    assert difference(plain[5].crop(box), with_ref[5].crop(box)) > 8


def test_same_request_with_media_gives_the_same_bytes_in_another_emulator(
    emu: RunningEmulator, tmp_path: Path
) -> None:
    voice, image = tone_wav(0.5), png_bytes(picture(640, 360, 60))
    task_uuid = new_uuid()

    def request(emulator: RunningEmulator) -> bytes:
        # The audio's media UUID differs per emulator; what the video shows depends on its content.
        task = _frame_task(image, taskUUID=task_uuid, seed=4, outputFormat="WEBM")
        task["inputs"]["audio"] = _store(emulator, voice, "audio/wav")
        return _video(emulator, **task)

    here = request(emu)
    with running_emulator(
        processing_seconds=0, seconds_per_output_second=0, media_scale=0.25, video_cache_dir=str(tmp_path)
    ) as other:
        there = request(other)
        assert other.ledger()["encodes"] == 1
    assert here == there


def test_card_key_covers_what_is_drawn_and_the_inputs(tmp_path: Path) -> None:
    base = Card(prompt="a fox", model="alibaba:wan@2.7", task_uuid=new_uuid(), seed=1, width=1280, height=720)
    variants = [
        base,
        Card(**{**base.__dict__, "prompt": "a whale"}),
        Card(**{**base.__dict__, "seed": 2}),
        Card(**{**base.__dict__, "task_uuid": new_uuid()}),
        Card(**{**base.__dict__, "sound": "none"}),
        Card(**{**base.__dict__, "inputs": KeptInputs(first_image=tmp_path / "ab.png")}),
        Card(**{**base.__dict__, "inputs": KeptInputs(audio=tmp_path / "ab.wav")}),
    ]
    assert len({card.key() for card in variants}) == len(variants)
    # Only the content-addressed name counts, not the directory it sits in.
    moved = Card(**{**base.__dict__, "inputs": KeptInputs(first_image=tmp_path / "x" / "ab.png")})
    assert moved.key() == variants[5].key()


def test_long_prompts_are_truncated_with_an_ellipsis() -> None:
    font = _font(20)
    lines = _wrap("word " * 200 + "Supercalifragilistic" * 10, font, 300, 3)
    assert len(lines) == 3 and lines[-1].endswith(" ...")
    assert all(font.getlength(line) <= 300 for line in lines)
    assert _wrap("x" * 500, font, 100, 2)[0]  # one unbreakable word is cut, not dropped
