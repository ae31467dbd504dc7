"""The wire form: JSON of representative requests, from_wire strict typing, envelope, unknown keys, nulls."""

from __future__ import annotations

import json
import pickle
import uuid
from typing import Any

import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    MODEL_ID,
    TASK_TYPE,
    WIRE_PATHS,
    FrameImage,
    WanVideoRequest,
)
from tests.models.support import (
    AUDIO_URL,
    I2V_WIRE,
    IMAGE_URL,
    PRESIGNED,
    R2V,
    R2V_WIRE,
    T2V,
    T2V_WIRE,
    TASK_UUID,
    UUID_A,
    UUID_B,
    VIDEO_URL,
    WIRE_NAMES,
    without,
)
from tests.models.test_request_rules import ACCEPT


def test_wire_path_table_matches_the_brief() -> None:
    assert dict(WIRE_PATHS) == WIRE_NAMES


# ----------------------------------------------------------------------------------------------------
# Wire JSON of representative requests (literals written from the model page)
# ----------------------------------------------------------------------------------------------------

ENVELOPE = {
    "taskType": "videoInference",
    "taskUUID": TASK_UUID,
    "model": "alibaba:wan@2.7",
    "deliveryMethod": "async",
    "includeCost": True,
}

WIRE_EXAMPLES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "text-to-video",
        {
            "positive_prompt": "A red fox runs through fresh snow",
            "width": 1920,
            "height": 1080,
            "duration": 5,
        },
        {
            **ENVELOPE,
            "positivePrompt": "A red fox runs through fresh snow",
            "width": 1920,
            "height": 1080,
            "duration": 5,
        },
    ),
    (
        "image-to-video-first-frame",
        {"positive_prompt": "The woman turns", "resolution": "720p", "frame_images": [UUID_A]},
        {
            **ENVELOPE,
            "positivePrompt": "The woman turns",
            "resolution": "720p",
            "inputs": {"frameImages": [{"image": "aac49721-1964-481a-ae78-8a4e29b91402"}]},
        },
    ),
    (
        "first-and-last-frame",
        {
            "positive_prompt": "Day turns to night",
            "duration": 8,
            "frame_images": [FrameImage(image=UUID_A, frame="first"), {"image": UUID_B, "frame": "last"}],
        },
        {
            **ENVELOPE,
            "positivePrompt": "Day turns to night",
            "duration": 8,
            "inputs": {
                "frameImages": [
                    {"image": "aac49721-1964-481a-ae78-8a4e29b91402", "frame": "first"},
                    {"image": "3ad204c3-a9de-4963-8a1a-c3911e3afafe", "frame": "last"},
                ]
            },
        },
    ),
    (
        "reference-to-video-multi-character",
        {
            "positive_prompt": "Character 1 hands Character 2 a lantern; cut to the harbour",
            "width": 1280,
            "height": 720,
            "duration": 10,
            "reference_images": [UUID_A, IMAGE_URL],
            "shot_type": "multi",
        },
        {
            **ENVELOPE,
            "positivePrompt": "Character 1 hands Character 2 a lantern; cut to the harbour",
            "width": 1280,
            "height": 720,
            "duration": 10,
            "inputs": {"referenceImages": ["aac49721-1964-481a-ae78-8a4e29b91402", IMAGE_URL]},
            "settings": {"shotType": "multi"},
        },
    ),
    (
        "video-editing",
        {
            "positive_prompt": "Replace the sky with a violet aurora",
            "width": 1080,
            "height": 1920,
            "resolution": "1080p",
            "duration": 6,
            "reference_videos": [VIDEO_URL],
        },
        {
            **ENVELOPE,
            "positivePrompt": "Replace the sky with a violet aurora",
            "width": 1080,
            "height": 1920,
            "resolution": "1080p",
            "duration": 6,
            "inputs": {"referenceVideos": ["https://example.com/videos/clip.mp4"]},
        },
    ),
    (
        "audio-conditioned",
        {
            "positive_prompt": "A singer on stage, lips synced to the track",
            "width": 960,
            "height": 960,
            "audio": AUDIO_URL,
            "generate_audio": True,
            "prompt_enhancer": False,
            "seed": 1234,
        },
        {
            **ENVELOPE,
            "positivePrompt": "A singer on stage, lips synced to the track",
            "width": 960,
            "height": 960,
            "seed": 1234,
            "inputs": {"audio": "https://example.com/audio/voice.mp3"},
            "settings": {"audio": True, "promptEnhancer": False},
        },
    ),
    (
        "delivery-and-safety-options",
        {
            "positive_prompt": "Timelapse of a city",
            "negative_prompt": "blurry",
            "width": 1632,
            "height": 1248,
            "number_results": 3,
            "output_type": "URL",
            "output_format": "WEBM",
            "output_quality": 80,
            "ttl": 3600,
            "webhook_url": "https://hooks.example.com/wan?token=abc",
            "upload_endpoint": PRESIGNED,
            "include_cost": False,
            "check_content": True,
            "safety_mode": "full",
        },
        {
            **ENVELOPE,
            "includeCost": False,
            "positivePrompt": "Timelapse of a city",
            "negativePrompt": "blurry",
            "width": 1632,
            "height": 1248,
            "numberResults": 3,
            "outputType": "URL",
            "outputFormat": "WEBM",
            "outputQuality": 80,
            "ttl": 3600,
            "webhookURL": "https://hooks.example.com/wan?token=abc",
            "uploadEndpoint": PRESIGNED,
            "safety": {"checkContent": True, "mode": "full"},
        },
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "wire"), [c[1:] for c in WIRE_EXAMPLES], ids=[c[0] for c in WIRE_EXAMPLES]
)
def test_wire_json(kwargs: dict[str, Any], wire: dict[str, Any]) -> None:
    request = WanVideoRequest(**kwargs)
    assert request.to_wire(TASK_UUID) == wire
    assert json.loads(json.dumps(request.to_wire(TASK_UUID))) == wire  # plain JSON types only
    assert request.to_wire() == without(wire, "taskUUID")
    assert WanVideoRequest.from_wire(wire) == request
    assert WanVideoRequest.from_any(wire) == request
    assert WanVideoRequest.from_any(json.dumps(wire)) == request


def test_wire_key_order_is_envelope_first() -> None:
    wire = WanVideoRequest(**{**R2V, "shot_type": "multi", "seed": 1}).to_wire(TASK_UUID)
    assert list(wire)[:5] == ["taskType", "taskUUID", "model", "deliveryMethod", "includeCost"]
    assert list(wire)[-2:] == ["inputs", "settings"]


def test_to_wire_hands_out_copies() -> None:
    request = WanVideoRequest(**R2V)
    wire = request.to_wire()
    wire["inputs"]["referenceImages"].append("mutated")
    assert request.reference_images == [UUID_A]


@pytest.mark.parametrize("task_uuid", ["not-a-uuid", str(uuid.uuid1()), "", TASK_UUID.upper() + "0"])
def test_to_wire_rejects_non_v4_task_uuid(task_uuid: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**T2V).to_wire(task_uuid)
    assert info.value.parameter == "taskUUID"


def test_to_wire_accepts_uppercase_v4() -> None:
    assert WanVideoRequest(**T2V).to_wire(TASK_UUID.upper())["taskUUID"] == TASK_UUID.upper()


def test_constants() -> None:
    assert MODEL_ID == "alibaba:wan@2.7"
    assert TASK_TYPE == "videoInference"


# ----------------------------------------------------------------------------------------------------
# from_wire: strict JSON typing, envelope, unknown keys, null
# ----------------------------------------------------------------------------------------------------


STRICT_REJECT: list[tuple[str, dict[str, Any], str]] = [
    ("duration-float", {**T2V_WIRE, "duration": 5.0}, "duration"),
    ("duration-bool", {**T2V_WIRE, "duration": True}, "duration"),
    ("duration-string", {**T2V_WIRE, "duration": "5"}, "duration"),
    ("width-string", {**T2V_WIRE, "width": "1280"}, "width"),
    ("number-results-float", {**T2V_WIRE, "numberResults": 2.0}, "numberResults"),
    ("include-cost-string", {**T2V_WIRE, "includeCost": "true"}, "includeCost"),
    ("include-cost-int", {**T2V_WIRE, "includeCost": 1}, "includeCost"),
    ("settings-audio-int", {**T2V_WIRE, "settings": {"audio": 1}}, "settings.audio"),
    ("check-content-string", {**T2V_WIRE, "safety": {"checkContent": "false"}}, "safety.checkContent"),
    ("resolution-case", {**I2V_WIRE, "resolution": "720P"}, "resolution"),
    ("output-format-case", {**T2V_WIRE, "outputFormat": "mp4"}, "outputFormat"),
    ("shot-type-case", {**R2V_WIRE, "settings": {"shotType": "Multi"}}, "settings.shotType"),
    (
        "frame-string-index",
        {"inputs": {"frameImages": [{"image": UUID_A, "frame": "0"}]}},
        "inputs.frameImages[0].frame",
    ),
    (
        "frame-case",
        {"inputs": {"frameImages": [{"image": UUID_A, "frame": "First"}]}},
        "inputs.frameImages[0].frame",
    ),
    ("frame-item-plain-string", {"inputs": {"frameImages": [UUID_A]}}, "inputs.frameImages[0]"),
    (
        "reference-images-tuple",
        {**T2V_WIRE, "inputs": {"referenceImages": (UUID_A,)}},
        "inputs.referenceImages",
    ),
    ("inputs-not-object", {**T2V_WIRE, "inputs": [UUID_A]}, "inputs"),
    ("settings-not-object", {**T2V_WIRE, "settings": "multi"}, "settings"),
    ("safety-not-object", {**T2V_WIRE, "safety": True}, "safety"),
    ("task-type", {**T2V_WIRE, "taskType": "imageInference"}, "taskType"),
    ("model", {**T2V_WIRE, "model": "runware:100@1"}, "model"),
    ("delivery-sync", {**T2V_WIRE, "deliveryMethod": "sync"}, "deliveryMethod"),
    ("task-uuid-v1", {**T2V_WIRE, "taskUUID": str(uuid.uuid1())}, "taskUUID"),
    ("task-uuid-garbage", {**T2V_WIRE, "taskUUID": "task-1"}, "taskUUID"),
    ("task-uuid-int", {**T2V_WIRE, "taskUUID": 4}, "taskUUID"),
]


@pytest.mark.parametrize(
    ("wire", "parameter"), [c[1:] for c in STRICT_REJECT], ids=[c[0] for c in STRICT_REJECT]
)
def test_from_wire_is_strict(wire: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_wire(wire)
    assert info.value.parameter == parameter


@pytest.mark.parametrize(
    ("wire", "parameter"),
    [
        ({**T2V_WIRE, "bogus": 1}, "bogus"),
        ({**T2V_WIRE, "positive_prompt": "x"}, "positive_prompt"),  # snake_case is not wire
        ({**T2V_WIRE, "CFGScale": 5}, "CFGScale"),
        ({**T2V_WIRE, "inputs": {"referenceImages": [UUID_A], "mask": UUID_B}}, "inputs.mask"),
        ({**T2V_WIRE, "settings": {"fps": 30}}, "settings.fps"),
        ({**T2V_WIRE, "safety": {"level": "high"}}, "safety.level"),
        ({"inputs": {"frameImages": [{"image": UUID_A, "strength": 1}]}}, "inputs.frameImages[0].strength"),
        (
            {"inputs": {"frameImages": [{"image": UUID_A}, {"image": UUID_B, "x": 1}]}},
            "inputs.frameImages[1].x",
        ),
        # unknown keys are reported before any other violation
        ({"duration": 99, "bogus": None}, "bogus"),
        ({"taskType": "imageInference", "inputs": {"x": 1}}, "inputs.x"),
        # an empty key is named by its repr, never as a blank parameter (found by the soak's fuzz)
        ({**T2V_WIRE, "": 1}, "''"),
        ({**T2V_WIRE, "settings": {"": 1}}, "settings.''"),
    ],
)
def test_from_wire_unknown_keys(wire: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_wire(wire)
    assert (info.value.parameter, info.value.code) == (parameter, "unknownParameter")


def test_from_wire_envelope_is_optional_checked_and_not_stored() -> None:
    request = WanVideoRequest.from_wire(
        {
            **T2V_WIRE,
            "taskType": "videoInference",
            "taskUUID": TASK_UUID,
            "model": MODEL_ID,
            "deliveryMethod": "async",
        }
    )
    assert request == WanVideoRequest.from_wire(T2V_WIRE)
    assert "taskUUID" not in request.to_wire()


def test_from_wire_null_means_absent() -> None:
    wire = {
        **T2V_WIRE,
        "seed": None,
        "negativePrompt": None,
        "includeCost": None,
        "inputs": None,
        "settings": {"audio": None, "shotType": None},
        "safety": {},
        "taskUUID": None,
        "inputs_": None,
    }
    with pytest.raises(InvalidRequestError):  # unknown keys are unknown even when null
        WanVideoRequest.from_wire(wire)
    del wire["inputs_"]
    request = WanVideoRequest.from_wire(wire)
    assert request == WanVideoRequest(positive_prompt="x", width=1280, height=720)
    assert request.seed is None and request.include_cost is True
    assert "settings" not in request.to_wire() and "safety" not in request.to_wire()


def test_from_wire_frame_null_is_automatic() -> None:
    request = WanVideoRequest.from_wire({"inputs": {"frameImages": [{"image": UUID_A, "frame": None}]}})
    assert request.frame_images == [FrameImage(image=UUID_A)]
    assert request.to_wire()["inputs"] == {"frameImages": [{"image": UUID_A}]}


def test_strict_mode_does_not_leak_after_a_failed_from_wire() -> None:
    with pytest.raises(InvalidRequestError):
        WanVideoRequest.from_wire({**T2V_WIRE, "duration": "5"})
    assert WanVideoRequest(**T2V, duration="5").duration == 5


@pytest.mark.parametrize("wire", [None, [], "positivePrompt", 5])
def test_from_wire_needs_an_object(wire: Any) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_wire(wire)
    assert info.value.parameter == "request"


@pytest.mark.parametrize(
    "kwargs", [c[1] for c in WIRE_EXAMPLES + ACCEPT], ids=[c[0] for c in WIRE_EXAMPLES + ACCEPT]
)
def test_round_trip(kwargs: dict[str, Any]) -> None:
    request = WanVideoRequest(**kwargs)
    assert WanVideoRequest.from_wire(request.to_wire()) == request
    assert WanVideoRequest.from_wire(request.to_wire(TASK_UUID)) == request
    assert WanVideoRequest.model_validate(request.model_dump()) == request
    assert WanVideoRequest.from_any(request.model_dump(exclude_none=True)) == request
    assert WanVideoRequest.model_validate_json(request.model_dump_json()) == request
    assert pickle.loads(pickle.dumps(request)) == request
