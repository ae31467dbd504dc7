"""Property test: the provider's WanVideoRequest and the emulator's independent validator agree.

Both were written separately from the Wan2.7 model page; random wire requests — mostly near the edges
of every rule — must be accepted or rejected by both alike. A shared misreading would hide; two
independent ones show up here. The provider must never raise anything but InvalidRequestError.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_wan.emulator.validation import validate_video_inference
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import WanVideoRequest

EXAMPLES = int(os.environ.get("WAN_AGREEMENT_EXAMPLES", "2000"))

PRESETS = [
    (1280, 720, "720p"),
    (720, 1280, "720p"),
    (960, 960, "720p"),
    (1088, 832, "720p"),
    (832, 1088, "720p"),
    (1920, 1080, "1080p"),
    (1080, 1920, "1080p"),
    (1440, 1440, "1080p"),
    (1632, 1248, "1080p"),
    (1248, 1632, "1080p"),
]
MEDIA_UUID = "aac49721-1964-481a-ae78-8a4e29b91402"
IMAGE_REFS = [
    MEDIA_UUID,
    "https://cdn.example.com/a.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "iVBORw0KGgoAAAANSUhEUg==",
]
VIDEO_REFS = [MEDIA_UUID, "https://cdn.example.com/a.mp4", "http://127.0.0.1:8000/v.mp4"]
WRONG_TYPES = [5.0, "5", True, [], {}, "", "x" * 3]

# Invalid or edge values per top-level parameter (some are valid edges: both sides must agree anyway).
BAD_VALUES: dict[str, list[Any]] = {
    "positivePrompt": ["", "x" * 5001, 3, None],
    "negativePrompt": ["n" * 501, 1, "n" * 500],
    "width": [1281, 0, -1280, 1280.0, "1280", 2000, None],
    "height": [721, 1080, 1281, "720", None],
    "resolution": ["4k", "720P", 720, "1080p", "720p"],
    "duration": [1, 16, 11, 10, 15, 2, 0, 5.0, "5", True],
    "seed": [-1, 2147483648, 2147483647, 0, 1.5, "7"],
    "numberResults": [0, 21, 20, 1, "2"],
    "outputType": ["base64Data", "url", "URL"],
    "outputFormat": ["mp4", "GIF", "WEBM", "MOV"],
    "outputQuality": [19, 100, 20, 99, 50.0],
    "webhookURL": ["ftp://x.test/h", "nope", "", "https://h.test/x?t=1", 3],
    "uploadEndpoint": ["s3://bucket/key", "http://", "https://u.test/put?sig=1"],
    "ttl": [59, 60, 0, "600", 86400],
    "includeCost": ["true", 1, False],
    "deliveryMethod": ["sync", "async", "ASYNC"],
    "model": ["alibaba:wan@2.6", ""],
    "taskType": ["imageInference", "videoinference"],
    "taskUUID": ["not-a-uuid", str(uuid.UUID(int=7, version=1)), "AAC49721-1964-481A-AE78-8A4E29B91402"],
    "unknownTopLevel": [1],
}


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request that follows every rule of the model page, with boundary values."""
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        "model": "alibaba:wan@2.7",
    }
    mode = draw(st.sampled_from(["t2v", "i2v", "r2v", "v2v"]))
    inputs: dict[str, Any] = {}
    if mode == "i2v":
        frames = [{"image": draw(st.sampled_from(IMAGE_REFS))} for _ in range(draw(st.integers(1, 2)))]
        positions = draw(
            st.sampled_from([[], ["first"], [0], ["last"], [-1], ["first", "last"], [-1, 0], [None, "last"]])
        )
        for item, pos in zip(frames, positions, strict=False):
            if pos is not None:
                item["frame"] = pos
        if len(frames) == 1 and frames[0].get("frame") in ("last", -1) and draw(st.booleans()):
            frames[0]["frame"] = "first"
        inputs["frameImages"] = frames
        if draw(st.booleans()):
            task["positivePrompt"] = draw(st.text(min_size=1, max_size=20))
        if draw(st.booleans()):
            task["resolution"] = draw(st.sampled_from(["720p", "1080p"]))
    else:
        width, height, tier = draw(st.sampled_from(PRESETS))
        task.update(width=width, height=height)
        task["positivePrompt"] = draw(st.one_of(st.text(min_size=1, max_size=20), st.just("p" * 5000)))
        if draw(st.integers(0, 3)) == 0:
            task["resolution"] = tier
        if mode == "r2v":
            inputs["referenceImages"] = draw(st.lists(st.sampled_from(IMAGE_REFS), min_size=1, max_size=3))
        if mode == "v2v":
            inputs["referenceVideos"] = draw(st.lists(st.sampled_from(VIDEO_REFS), min_size=1, max_size=2))
        if mode in ("r2v", "v2v") and draw(st.booleans()):
            task["settings"] = {"shotType": draw(st.sampled_from(["single", "multi"]))}
    if draw(st.integers(0, 3)) == 0:
        inputs["audio"] = draw(st.sampled_from([MEDIA_UUID, "https://cdn.example.com/voice.mp3"]))
    if inputs:
        task["inputs"] = inputs
    max_duration = 10 if mode in ("r2v", "v2v") else 15
    optional: dict[str, st.SearchStrategy[Any]] = {
        "negativePrompt": st.one_of(st.text(max_size=10), st.just("n" * 500)),
        "duration": st.integers(2, max_duration),
        "seed": st.one_of(st.integers(0, 1000), st.just(2147483647)),
        "numberResults": st.integers(1, 20),
        "outputType": st.just("URL"),
        "outputFormat": st.sampled_from(["MP4", "WEBM", "MOV"]),
        "outputQuality": st.integers(20, 99),
        "webhookURL": st.just("https://hooks.example.com/wan?token=abc"),
        "uploadEndpoint": st.just("https://bucket.s3.amazonaws.com/out.mp4?X-Amz-Signature=1"),
        "ttl": st.integers(60, 100000),
        "includeCost": st.booleans(),
        "deliveryMethod": st.just("async"),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            task[key] = draw(strategy)
    if draw(st.integers(0, 3)) == 0:
        settings_ = task.setdefault("settings", {})
        if draw(st.booleans()):
            settings_["audio"] = draw(st.booleans())
        if draw(st.booleans()):
            settings_["promptEnhancer"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        task["safety"] = {
            "checkContent": draw(st.booleans()),
            "mode": draw(st.sampled_from(["none", "fast", "full"])),
        }
    return task


def _corrupt(draw: st.DrawFn, task: dict[str, Any]) -> None:
    kind = draw(st.sampled_from(["value", "value", "value", "drop", "cross", "nested"]))
    if kind == "value":
        key = draw(st.sampled_from(sorted(BAD_VALUES)))
        task[key] = draw(st.sampled_from(BAD_VALUES[key]))
    elif kind == "drop":
        # taskUUID and model are the envelope the provider adds itself: only request parameters here.
        task.pop(draw(st.sampled_from(["positivePrompt", "width", "height"])), None)
    elif kind == "cross":
        inputs = task.setdefault("inputs", {})
        choice = draw(
            st.sampled_from(
                ["frames+size", "frames+refimg", "frames+refvid", "shot-norefs", "longref", "tier-mismatch"]
            )
        )
        if choice == "frames+size":
            inputs.setdefault("frameImages", [{"image": MEDIA_UUID}])
            task.setdefault("width", 1280)
            task.setdefault("height", 720)
        elif choice == "frames+refimg":
            inputs.setdefault("frameImages", [{"image": MEDIA_UUID}])
            inputs["referenceImages"] = [MEDIA_UUID]
        elif choice == "frames+refvid":
            inputs.setdefault("frameImages", [{"image": MEDIA_UUID}])
            inputs["referenceVideos"] = [MEDIA_UUID]
        elif choice == "shot-norefs":
            inputs.pop("referenceImages", None)
            inputs.pop("referenceVideos", None)
            task.setdefault("settings", {})["shotType"] = "single"
        elif choice == "longref":
            inputs.setdefault("referenceImages", [MEDIA_UUID])
            task["duration"] = draw(st.sampled_from([10, 11, 15]))
        else:
            task["resolution"] = draw(st.sampled_from(["720p", "1080p"]))
        if not inputs:
            task.pop("inputs")
    else:
        target = draw(
            st.sampled_from(
                [
                    "frame",
                    "image",
                    "refimg",
                    "refvid",
                    "audio",
                    "settings",
                    "safety",
                    "unknown-input",
                    "frames-count",
                ]
            )
        )
        inputs = task.setdefault("inputs", {})
        if target == "frame":
            inputs["frameImages"] = [
                {"image": MEDIA_UUID, "frame": draw(st.sampled_from(["middle", 1, "0", True]))}
            ]
        elif target == "image":
            inputs["frameImages"] = [{"image": draw(st.sampled_from(["", 7, None]))}]
        elif target == "refimg":
            inputs["referenceImages"] = draw(st.sampled_from([[], [""], "x", [3]]))
        elif target == "refvid":
            inputs["referenceVideos"] = draw(
                st.sampled_from([[], ["not a url"], ["data:video/mp4;base64,AAAA"], ["ftp://x/y.mp4"]])
            )
        elif target == "audio":
            inputs["audio"] = draw(st.sampled_from(["voice.mp3", "", 5, "data:audio/wav;base64,AAAA"]))
        elif target == "settings":
            task["settings"] = draw(
                st.sampled_from([{"audio": "yes"}, {"shotType": "triple"}, {"foo": 1}, []])
            )
        elif target == "safety":
            task["safety"] = draw(st.sampled_from([{"mode": "max"}, {"checkContent": "true"}, {"bar": 1}]))
        elif target == "unknown-input":
            inputs["mask"] = MEDIA_UUID
        else:
            inputs["frameImages"] = [{"image": MEDIA_UUID}] * draw(st.sampled_from([0, 3]))
            for key in ("width", "height", "referenceImages", "referenceVideos"):
                task.pop(key, None)
                inputs.pop(key, None)


@st.composite
def wire_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Half valid requests, half with one or two targeted violations (or valid edges)."""
    task = draw(valid_requests())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        _corrupt(draw, task)
    return task


def provider_accepts(task: dict[str, Any]) -> bool:
    try:
        WanVideoRequest.from_wire(task)
    except InvalidRequestError:
        return False
    return True


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire_requests())
def test_provider_and_emulator_agree(task: dict[str, Any]) -> None:
    ours = provider_accepts(task)
    errors = validate_video_inference(task)
    theirs = not errors
    assert ours == theirs, f"provider accepts={ours}, emulator errors={errors}, task={task}"
    if ours:
        # And what the provider would send is exactly what the emulator accepts.
        wire = WanVideoRequest.from_wire(task).to_wire(task_uuid=task["taskUUID"])
        assert validate_video_inference(wire) == []


def test_generator_reaches_both_outcomes() -> None:
    """Guard against a vacuous property: the strategy must produce valid AND invalid requests."""
    from hypothesis import find

    find(wire_requests(), provider_accepts, settings=settings(max_examples=5000, database=None))
    find(
        wire_requests(), lambda t: not provider_accepts(t), settings=settings(max_examples=500, database=None)
    )
