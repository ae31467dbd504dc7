"""WanVideoRequest: every Wan2.7 rule (accept + reject), the wire format, typing modes, logs, fingerprint.

The expected values here are written from the model page (docs/.../wan2.7-model-page.md) and the
brief's rule list, independently of ``models.py``: ``_WIRE_NAMES`` and ``_oracle_accepts`` below are
deliberately separate re-statements, not imports.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.models import (
    ALLOWED_SIZES,
    MODEL_ID,
    SIZE_PRESETS,
    TASK_TYPE,
    WIRE_PATHS,
    FrameImage,
    WanVideoRequest,
    preset_for_size,
    tier_of_size,
)

UUID_A = "aac49721-1964-481a-ae78-8a4e29b91402"  # model page frameImages example
UUID_B = "3ad204c3-a9de-4963-8a1a-c3911e3afafe"
TASK_UUID = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"  # a v4 taskUUID from the Runware docs
IMAGE_URL = "https://example.com/images/hero.png"
VIDEO_URL = "https://example.com/videos/clip.mp4"
AUDIO_URL = "https://example.com/audio/voice.mp3"
DATA_URI = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PRESIGNED = (
    "https://your-bucket.s3.amazonaws.com/generated/content.mp4?X-Amz-Signature=abc123&X-Amz-Expires=3600"
)

T2V: dict[str, Any] = {"positive_prompt": "A red fox runs through fresh snow", "width": 1280, "height": 720}
I2V: dict[str, Any] = {"frame_images": [{"image": UUID_A}]}
R2V: dict[str, Any] = {**T2V, "reference_images": [UUID_A]}
V2V: dict[str, Any] = {**T2V, "reference_videos": [VIDEO_URL]}

# The brief's field -> wire path table, restated by hand.
_WIRE_NAMES: dict[str, str] = {
    "positive_prompt": "positivePrompt",
    "negative_prompt": "negativePrompt",
    "width": "width",
    "height": "height",
    "resolution": "resolution",
    "duration": "duration",
    "seed": "seed",
    "number_results": "numberResults",
    "output_type": "outputType",
    "output_format": "outputFormat",
    "output_quality": "outputQuality",
    "webhook_url": "webhookURL",
    "upload_endpoint": "uploadEndpoint",
    "ttl": "ttl",
    "include_cost": "includeCost",
    "reference_images": "inputs.referenceImages",
    "frame_images": "inputs.frameImages",
    "reference_videos": "inputs.referenceVideos",
    "audio": "inputs.audio",
    "generate_audio": "settings.audio",
    "prompt_enhancer": "settings.promptEnhancer",
    "shot_type": "settings.shotType",
    "check_content": "safety.checkContent",
    "safety_mode": "safety.mode",
}


def wire_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Test-side snake_case -> wire conversion (no envelope keys: they are optional for from_wire)."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        parts = _WIRE_NAMES[key].split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def test_wire_path_table_matches_the_brief() -> None:
    assert dict(WIRE_PATHS) == _WIRE_NAMES


# ----------------------------------------------------------------------------------------------------
# Every rule: accepting cases
# ----------------------------------------------------------------------------------------------------

ACCEPT: list[tuple[str, dict[str, Any]]] = [
    ("t2v-minimal", T2V),
    ("prompt-1-char", {**T2V, "positive_prompt": "a"}),
    ("prompt-5000-chars", {**T2V, "positive_prompt": "a" * 5000}),
    ("i2v-prompt-optional", I2V),
    ("i2v-with-prompt", {**I2V, "positive_prompt": "she turns and smiles"}),
    ("negative-empty", {**T2V, "negative_prompt": ""}),
    ("negative-500", {**T2V, "negative_prompt": "n" * 500}),
    ("resolution-720p-matches-preset", {**T2V, "resolution": "720p"}),
    ("resolution-1080p-matches-preset", {**T2V, "width": 1080, "height": 1920, "resolution": "1080p"}),
    ("resolution-720p-with-frames", {**I2V, "resolution": "720p"}),
    ("resolution-1080p-with-frames", {**I2V, "resolution": "1080p"}),
    ("duration-2", {**T2V, "duration": 2}),
    ("duration-15", {**T2V, "duration": 15}),
    ("duration-15-with-frames", {**I2V, "duration": 15}),
    ("duration-10-with-reference-images", {**R2V, "duration": 10}),
    ("duration-10-with-reference-videos", {**V2V, "duration": 10}),
    ("seed-0", {**T2V, "seed": 0}),
    ("seed-max", {**T2V, "seed": 2147483647}),
    ("number-results-1", {**T2V, "number_results": 1}),
    ("number-results-20", {**T2V, "number_results": 20}),
    ("output-quality-20", {**T2V, "output_quality": 20}),
    ("output-quality-99", {**T2V, "output_quality": 99}),
    ("ttl-60", {**T2V, "ttl": 60}),
    ("ttl-large", {**T2V, "ttl": 30 * 86400}),
    ("output-type-url", {**T2V, "output_type": "URL"}),
    ("output-format-mp4", {**T2V, "output_format": "MP4"}),
    ("output-format-webm", {**T2V, "output_format": "WEBM"}),
    ("output-format-mov", {**T2V, "output_format": "MOV"}),
    ("webhook-https-with-token", {**T2V, "webhook_url": "https://hooks.example.com/wan?token=s3cr3t"}),
    ("webhook-http-port", {**T2V, "webhook_url": "http://localhost:8080/hook"}),
    ("upload-endpoint-presigned", {**T2V, "upload_endpoint": PRESIGNED}),
    ("include-cost-false", {**T2V, "include_cost": False}),
    ("include-cost-true", {**T2V, "include_cost": True}),
    ("reference-images-uuid", R2V),
    (
        "reference-images-url-datauri-base64",
        {**T2V, "reference_images": [IMAGE_URL, DATA_URI, "iVBORw0KGgo="]},
    ),
    ("frame-images-two", {"frame_images": [{"image": UUID_A}, {"image": UUID_B}]}),
    (
        "frame-images-explicit",
        {"frame_images": [{"image": UUID_A, "frame": "last"}, {"image": UUID_B, "frame": 0}]},
    ),
    ("frame-image-data-uri", {"frame_images": [{"image": DATA_URI, "frame": -1}]}),
    ("reference-videos-uuid", {**T2V, "reference_videos": [UUID_B]}),
    ("reference-videos-urls", {**T2V, "reference_videos": [VIDEO_URL, "http://cdn.example.com/b.mov"]}),
    ("reference-images-and-videos", {**R2V, "reference_videos": [UUID_B]}),
    ("audio-uuid", {**T2V, "audio": UUID_B}),
    ("audio-url", {**T2V, "audio": AUDIO_URL}),
    ("audio-with-frames", {**I2V, "audio": AUDIO_URL}),
    ("generate-audio-false", {**T2V, "generate_audio": False}),
    ("prompt-enhancer-true", {**T2V, "prompt_enhancer": True}),
    ("shot-type-multi-reference-images", {**R2V, "shot_type": "multi"}),
    ("shot-type-single-reference-videos", {**V2V, "shot_type": "single"}),
    ("check-content", {**T2V, "check_content": True}),
    ("safety-none", {**T2V, "safety_mode": "none"}),
    ("safety-fast", {**T2V, "safety_mode": "fast"}),
    ("safety-full", {**T2V, "safety_mode": "full", "check_content": False}),
]


@pytest.mark.parametrize(("kwargs"), [c[1] for c in ACCEPT], ids=[c[0] for c in ACCEPT])
def test_accepts(kwargs: dict[str, Any]) -> None:
    request = WanVideoRequest(**kwargs)
    assert WanVideoRequest.model_validate(kwargs) == request
    # The same request in JSON form is accepted by the strict parser and means the same thing.
    assert WanVideoRequest.from_wire(wire_of(kwargs)) == request
    assert WanVideoRequest.from_wire(request.to_wire(TASK_UUID)) == request


# ----------------------------------------------------------------------------------------------------
# Every rule: rejecting cases, with the wire parameter and (where the rule fixes it) the code
# ----------------------------------------------------------------------------------------------------

INVALID = "invalidParameter"
MISSING = "missingParameter"
INCOMPATIBLE = "incompatibleParameters"

REJECT: list[tuple[str, dict[str, Any], str, str]] = [
    ("prompt-empty", {**T2V, "positive_prompt": ""}, "positivePrompt", INVALID),
    ("prompt-5001-chars", {**T2V, "positive_prompt": "a" * 5001}, "positivePrompt", INVALID),
    ("prompt-not-string", {**T2V, "positive_prompt": 5}, "positivePrompt", INVALID),
    ("prompt-required-without-frames", without(T2V, "positive_prompt"), "positivePrompt", MISSING),
    ("prompt-required-with-references", without(R2V, "positive_prompt"), "positivePrompt", MISSING),
    ("negative-501", {**T2V, "negative_prompt": "n" * 501}, "negativePrompt", INVALID),
    ("negative-not-string", {**T2V, "negative_prompt": ["x"]}, "negativePrompt", INVALID),
    ("neither-frames-nor-size", {"positive_prompt": "x"}, "width", MISSING),
    ("frames-and-size", {**I2V, "width": 1280, "height": 720}, "width", INCOMPATIBLE),
    ("frames-and-height", {**I2V, "height": 720}, "height", INCOMPATIBLE),
    ("width-without-height", without(T2V, "height"), "height", MISSING),
    ("height-without-width", without(T2V, "width"), "width", MISSING),
    ("size-not-preset", {**T2V, "height": 721}, "width", INVALID),
    ("size-1024-square", {**T2V, "width": 1024, "height": 1024}, "width", INVALID),
    ("width-not-int", {**T2V, "width": "wide"}, "width", INVALID),
    ("height-float", {**T2V, "height": 720.5}, "height", INVALID),
    ("resolution-4k", {**T2V, "resolution": "4k"}, "resolution", INVALID),
    ("resolution-not-string", {**I2V, "resolution": 720}, "resolution", INVALID),
    ("resolution-contradicts-720p-preset", {**T2V, "resolution": "1080p"}, "resolution", INCOMPATIBLE),
    (
        "resolution-contradicts-1080p-preset",
        {**T2V, "width": 1440, "height": 1440, "resolution": "720p"},
        "resolution",
        INCOMPATIBLE,
    ),
    ("duration-1", {**T2V, "duration": 1}, "duration", INVALID),
    ("duration-16", {**T2V, "duration": 16}, "duration", INVALID),
    ("duration-negative", {**I2V, "duration": -5}, "duration", INVALID),
    ("duration-fraction", {**T2V, "duration": 5.5}, "duration", INVALID),
    ("duration-bool", {**T2V, "duration": True}, "duration", INVALID),
    ("duration-11-reference-images", {**R2V, "duration": 11}, "duration", "unsupportedDuration"),
    ("duration-11-reference-videos", {**V2V, "duration": 11}, "duration", "unsupportedDuration"),
    (
        "duration-15-references",
        {**R2V, "reference_videos": [UUID_B], "duration": 15},
        "duration",
        "unsupportedDuration",
    ),
    ("seed-negative", {**T2V, "seed": -1}, "seed", INVALID),
    ("seed-too-big", {**T2V, "seed": 2147483648}, "seed", INVALID),
    ("seed-bool", {**T2V, "seed": False}, "seed", INVALID),
    ("number-results-0", {**T2V, "number_results": 0}, "numberResults", INVALID),
    ("number-results-21", {**T2V, "number_results": 21}, "numberResults", INVALID),
    ("output-quality-19", {**T2V, "output_quality": 19}, "outputQuality", INVALID),
    ("output-quality-100", {**T2V, "output_quality": 100}, "outputQuality", INVALID),
    ("ttl-59", {**T2V, "ttl": 59}, "ttl", INVALID),
    ("ttl-0", {**T2V, "ttl": 0}, "ttl", INVALID),
    ("output-type-base64", {**T2V, "output_type": "base64Data"}, "outputType", INVALID),
    ("output-type-not-string", {**T2V, "output_type": 1}, "outputType", INVALID),
    ("output-format-gif", {**T2V, "output_format": "GIF"}, "outputFormat", INVALID),
    ("webhook-ftp", {**T2V, "webhook_url": "ftp://example.com/hook"}, "webhookURL", INVALID),
    ("webhook-relative", {**T2V, "webhook_url": "/hook"}, "webhookURL", INVALID),
    ("webhook-no-scheme", {**T2V, "webhook_url": "example.com/hook"}, "webhookURL", INVALID),
    ("webhook-no-host", {**T2V, "webhook_url": "https://"}, "webhookURL", INVALID),
    ("webhook-space", {**T2V, "webhook_url": "https://exa mple.com/hook"}, "webhookURL", INVALID),
    ("webhook-empty", {**T2V, "webhook_url": ""}, "webhookURL", INVALID),
    ("webhook-not-string", {**T2V, "webhook_url": 42}, "webhookURL", INVALID),
    ("upload-endpoint-s3-uri", {**T2V, "upload_endpoint": "s3://bucket/key.mp4"}, "uploadEndpoint", INVALID),
    ("include-cost-not-bool", {**T2V, "include_cost": "maybe"}, "includeCost", INVALID),
    ("include-cost-int", {**T2V, "include_cost": 2}, "includeCost", INVALID),
    ("reference-images-empty", {**T2V, "reference_images": []}, "inputs.referenceImages", INVALID),
    ("reference-images-not-list", {**T2V, "reference_images": UUID_A}, "inputs.referenceImages", INVALID),
    ("reference-images-empty-item", {**T2V, "reference_images": [""]}, "inputs.referenceImages[0]", INVALID),
    (
        "reference-images-int-item",
        {**T2V, "reference_images": [UUID_A, 7]},
        "inputs.referenceImages[1]",
        INVALID,
    ),
    ("frame-images-empty", {"frame_images": []}, "inputs.frameImages", INVALID),
    ("frame-images-three", {"frame_images": [{"image": UUID_A}] * 3}, "inputs.frameImages", INVALID),
    ("frame-images-not-list", {"frame_images": {"image": UUID_A}}, "inputs.frameImages", INVALID),
    ("frame-item-not-object", {"frame_images": [5]}, "inputs.frameImages[0]", INVALID),
    ("frame-image-missing", {"frame_images": [{"frame": "first"}]}, "inputs.frameImages[0].image", MISSING),
    ("frame-image-empty", {"frame_images": [{"image": ""}]}, "inputs.frameImages[0].image", INVALID),
    ("frame-image-not-string", {"frame_images": [{"image": 5}]}, "inputs.frameImages[0].image", INVALID),
    (
        "frame-middle",
        {"frame_images": [{"image": UUID_A, "frame": "middle"}]},
        "inputs.frameImages[0].frame",
        INVALID,
    ),
    ("frame-1", {"frame_images": [{"image": UUID_A, "frame": 1}]}, "inputs.frameImages[0].frame", INVALID),
    (
        "frame-bool",
        {"frame_images": [{"image": UUID_A, "frame": True}]},
        "inputs.frameImages[0].frame",
        INVALID,
    ),
    (
        "frame-second-invalid",
        {"frame_images": [{"image": UUID_A}, {"image": UUID_B, "frame": 2}]},
        "inputs.frameImages[1].frame",
        INVALID,
    ),
    (
        "frame-positions-duplicate",
        {"frame_images": [{"image": UUID_A, "frame": "first"}, {"image": UUID_B, "frame": 0}]},
        "inputs.frameImages[1].frame",
        INVALID,
    ),
    ("reference-videos-empty", {**T2V, "reference_videos": []}, "inputs.referenceVideos", INVALID),
    (
        "reference-videos-not-uuid",
        {**T2V, "reference_videos": ["clip.mp4"]},
        "inputs.referenceVideos[0]",
        INVALID,
    ),
    (
        "reference-videos-ftp",
        {**T2V, "reference_videos": [UUID_A, "ftp://example.com/v.mp4"]},
        "inputs.referenceVideos[1]",
        INVALID,
    ),
    (
        "reference-videos-data-uri",
        {**T2V, "reference_videos": [DATA_URI]},
        "inputs.referenceVideos[0]",
        INVALID,
    ),
    ("reference-videos-int", {**T2V, "reference_videos": [42]}, "inputs.referenceVideos[0]", INVALID),
    ("audio-filename", {**T2V, "audio": "voice.mp3"}, "inputs.audio", INVALID),
    ("audio-empty", {**T2V, "audio": ""}, "inputs.audio", INVALID),
    ("audio-not-string", {**T2V, "audio": 42}, "inputs.audio", INVALID),
    ("audio-truncated-uuid", {**T2V, "audio": UUID_A[:-1]}, "inputs.audio", INVALID),
    (
        "frames-with-reference-images",
        {**I2V, "reference_images": [UUID_B]},
        "inputs.frameImages",
        INCOMPATIBLE,
    ),
    (
        "frames-with-reference-videos",
        {**I2V, "reference_videos": [VIDEO_URL]},
        "inputs.frameImages",
        INCOMPATIBLE,
    ),
    ("generate-audio-not-bool", {**T2V, "generate_audio": "loud"}, "settings.audio", INVALID),
    ("prompt-enhancer-not-bool", {**T2V, "prompt_enhancer": 3}, "settings.promptEnhancer", INVALID),
    ("shot-type-without-references", {**T2V, "shot_type": "multi"}, "settings.shotType", INCOMPATIBLE),
    (
        "shot-type-single-without-references",
        {**T2V, "shot_type": "single"},
        "settings.shotType",
        INCOMPATIBLE,
    ),
    ("shot-type-with-frames-only", {**I2V, "shot_type": "single"}, "settings.shotType", INCOMPATIBLE),
    ("shot-type-unknown", {**R2V, "shot_type": "triple"}, "settings.shotType", INVALID),
    ("check-content-not-bool", {**T2V, "check_content": "x"}, "safety.checkContent", INVALID),
    ("safety-mode-unknown", {**T2V, "safety_mode": "strict"}, "safety.mode", INVALID),
]


@pytest.mark.parametrize(("kwargs", "parameter", "code"), [c[1:] for c in REJECT], ids=[c[0] for c in REJECT])
def test_rejects(kwargs: dict[str, Any], parameter: str, code: str) -> None:
    entry_points: dict[str, Callable[[], object]] = {
        "constructor": lambda: WanVideoRequest(**kwargs),
        "model_validate": lambda: WanVideoRequest.model_validate(kwargs),
        "from_any": lambda: WanVideoRequest.from_any(kwargs),
        "from_wire": lambda: WanVideoRequest.from_wire(wire_of(kwargs)),
    }
    for name, call in entry_points.items():
        with pytest.raises(InvalidRequestError) as info:
            call()
        assert (name, info.value.parameter) == (name, parameter)
        assert (name, info.value.code) == (name, code)
        assert info.value.category == "validation"
        assert info.value.retryable is False
        assert parameter in str(info.value)


def test_invalid_request_error_is_a_value_error_not_a_pydantic_error() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**{**T2V, "duration": 99})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RunwareError)
    assert not isinstance(info.value, ValidationError)
    assert info.value.__cause__ is None  # pydantic's wrapper is not chained into the traceback
    assert pickle.loads(pickle.dumps(info.value)).parameter == "duration"


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        ({**T2V, "height": 721}, list(ALLOWED_SIZES)),
        ({**T2V, "resolution": "1080p"}, ["720p"]),
        ({**R2V, "duration": 12}, [2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ({**T2V, "output_format": "AVI"}, ["MP4", "WEBM", "MOV"]),
        ({**T2V, "safety_mode": "x"}, ["none", "fast", "full"]),
        ({"frame_images": [{"image": UUID_A, "frame": "mid"}]}, ["first", "last", 0, -1]),
    ],
)
def test_errors_name_the_allowed_values(kwargs: dict[str, Any], allowed: list[Any]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**kwargs)
    assert info.value.allowed_values == allowed
    for value in allowed:
        assert str(value) in str(info.value)


def test_range_errors_carry_min_and_max() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**{**T2V, "seed": -1})
    assert info.value.details == {"min": 0, "max": 2147483647}
    assert "between 0 and 2147483647" in info.value.message


# ----------------------------------------------------------------------------------------------------
# Sizes
# ----------------------------------------------------------------------------------------------------

PAGE_SIZES = [
    ("720p_16_9", 1280, 720, "720p", "16:9"),
    ("720p_9_16", 720, 1280, "720p", "9:16"),
    ("720p_1_1", 960, 960, "720p", "1:1"),
    ("720p_4_3", 1088, 832, "720p", "~4:3"),
    ("720p_3_4", 832, 1088, "720p", "~3:4"),
    ("1080p_16_9", 1920, 1080, "1080p", "16:9"),
    ("1080p_9_16", 1080, 1920, "1080p", "9:16"),
    ("1080p_1_1", 1440, 1440, "1080p", "1:1"),
    ("1080p_4_3", 1632, 1248, "1080p", "~4:3"),
    ("1080p_3_4", 1248, 1632, "1080p", "~3:4"),
]


def test_size_presets_are_the_model_page_table() -> None:
    assert [(p.name, p.width, p.height, p.tier, p.aspect) for p in SIZE_PRESETS.values()] == PAGE_SIZES
    assert list(ALLOWED_SIZES) == [f"{w}x{h}" for _, w, h, _, _ in PAGE_SIZES]
    assert list(SIZE_PRESETS) == [name for name, *_ in PAGE_SIZES]
    with pytest.raises(TypeError):
        SIZE_PRESETS["8k"] = SIZE_PRESETS["720p_1_1"]  # type: ignore[index]


@pytest.mark.parametrize(("name", "width", "height", "tier", "aspect"), PAGE_SIZES)
def test_every_preset_is_accepted(name: str, width: int, height: int, tier: str, aspect: str) -> None:
    request = WanVideoRequest(positive_prompt="x", width=width, height=height)
    assert request.tier == tier
    assert request.size_preset == SIZE_PRESETS[name]
    assert tier_of_size(width, height) == tier
    assert WanVideoRequest(positive_prompt="x", width=width, height=height, resolution=tier).tier == tier
    other = "1080p" if tier == "720p" else "720p"
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(positive_prompt="x", width=width, height=height, resolution=other)
    assert (info.value.parameter, info.value.code) == ("resolution", INCOMPATIBLE)


_NEAR = [(1, 0), (-1, 0), (0, 1), (0, -1), (16, 0), (0, -16), (8, 8), (-32, -32)]
_PAGE_DIMS = {(w, h) for _, w, h, _, _ in PAGE_SIZES}
NEIGHBOURS = [
    *sorted({(w + dw, h + dh) for w, h in _PAGE_DIMS for dw, dh in _NEAR} - _PAGE_DIMS),
    *[(0, 0), (-1280, -720), (720, 720), (1920, 1920), (1280, 1280), (3840, 2160)],
]


@pytest.mark.parametrize(("width", "height"), NEIGHBOURS)
def test_neighbouring_sizes_are_rejected(width: int, height: int) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(positive_prompt="x", width=width, height=height)
    assert info.value.parameter == "width"
    assert f"{width}x{height}" in info.value.message
    assert preset_for_size(width, height) is None
    with pytest.raises(InvalidRequestError):
        tier_of_size(width, height)


# ----------------------------------------------------------------------------------------------------
# Frame positions
# ----------------------------------------------------------------------------------------------------

FRAME_CHOICES: list[Any] = [None, "first", "last", 0, -1]


def _expected_positions(frames: list[Any]) -> tuple[str, ...] | int:
    """Oracle: resolved positions, or the index of the item whose explicit frame collides."""
    canonical = {"first": "first", 0: "first", "last": "last", -1: "last"}
    taken: set[str] = set()
    for index, frame in enumerate(frames):
        if frame is None:
            continue
        if canonical[frame] in taken:
            return index
        taken.add(canonical[frame])
    free = [p for p in ("first", "last") if p not in taken]
    return tuple(canonical[f] if f is not None else free.pop(0) for f in frames)


@pytest.mark.parametrize(
    "frames",
    [[f] for f in FRAME_CHOICES] + [list(pair) for pair in itertools.product(FRAME_CHOICES, repeat=2)],
    ids=repr,
)
def test_frame_position_permutations(frames: list[Any]) -> None:
    items = [
        {"image": image} if frame is None else {"image": image, "frame": frame}
        for image, frame in zip([UUID_A, UUID_B], frames, strict=False)
    ]
    expected = _expected_positions(frames)
    if isinstance(expected, int):
        with pytest.raises(InvalidRequestError) as info:
            WanVideoRequest(frame_images=items)
        assert info.value.parameter == f"inputs.frameImages[{expected}].frame"
        assert "distinct" in info.value.message
    else:
        request = WanVideoRequest(frame_images=items)
        assert request.frame_positions == expected
        assert WanVideoRequest.from_wire(request.to_wire()).frame_positions == expected


@pytest.mark.parametrize(
    ("frames", "positions"),
    [
        ([None], ("first",)),  # model page: 1 image -> first frame
        ([None, None], ("first", "last")),  # model page: 2 images -> first and last
        (["last"], ("last",)),
        (["last", None], ("last", "first")),
        ([None, "first"], ("last", "first")),
        ([-1, 0], ("last", "first")),
    ],
)
def test_frame_positions_documented_examples(frames: list[Any], positions: tuple[str, ...]) -> None:
    request = WanVideoRequest(frame_images=[{"image": UUID_A, "frame": f} for f in frames])
    assert request.frame_positions == positions


def test_no_frame_positions_without_frames() -> None:
    assert WanVideoRequest(**T2V).frame_positions == ()


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

T2V_WIRE: dict[str, Any] = {"positivePrompt": "x", "width": 1280, "height": 720}
I2V_WIRE: dict[str, Any] = {"inputs": {"frameImages": [{"image": UUID_A}]}}
R2V_WIRE: dict[str, Any] = {**T2V_WIRE, "inputs": {"referenceImages": [UUID_A]}}

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


# ----------------------------------------------------------------------------------------------------
# Lax Python construction (Airflow templates render strings)
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({**T2V, "duration": "5"}, "duration", 5),
        ({**T2V, "duration": " 12 "}, "duration", 12),
        ({**T2V, "duration": 7.0}, "duration", 7),
        ({**T2V, "width": "1280", "height": "720"}, "width", 1280),
        ({**T2V, "seed": "+42"}, "seed", 42),
        ({**T2V, "number_results": "3"}, "number_results", 3),
        ({**T2V, "ttl": "3600"}, "ttl", 3600),
        ({**T2V, "include_cost": "false"}, "include_cost", False),
        ({**T2V, "include_cost": "True"}, "include_cost", True),
        ({**T2V, "generate_audio": "no"}, "generate_audio", False),
        ({**T2V, "prompt_enhancer": "1"}, "prompt_enhancer", True),
        ({**T2V, "check_content": "yes"}, "check_content", True),
        ({**T2V, "include_cost": None}, "include_cost", True),
        ({**T2V, "output_format": "mp4"}, "output_format", "MP4"),
        ({**T2V, "output_type": "url"}, "output_type", "URL"),
        ({**T2V, "resolution": "720P"}, "resolution", "720p"),
        ({**T2V, "safety_mode": "FULL"}, "safety_mode", "full"),
        ({**R2V, "shot_type": "Multi"}, "shot_type", "multi"),
        ({**T2V, "reference_images": (UUID_A,)}, "reference_images", [UUID_A]),
        ({**T2V, "seed": None}, "seed", None),
        ({"frame_images": [UUID_A]}, "frame_images", [FrameImage(image=UUID_A)]),
        (
            {"frame_images": (UUID_A, UUID_B)},
            "frame_images",
            [FrameImage(image=UUID_A), FrameImage(image=UUID_B)],
        ),
        (
            {"frame_images": [{"image": UUID_A, "frame": "0"}]},
            "frame_images",
            [FrameImage(image=UUID_A, frame=0)],
        ),
        (
            {"frame_images": [{"image": UUID_A, "frame": "-1"}]},
            "frame_images",
            [FrameImage(image=UUID_A, frame=-1)],
        ),
        (
            {"frame_images": [{"image": UUID_A, "frame": "LAST"}]},
            "frame_images",
            [FrameImage(image=UUID_A, frame="last")],
        ),
        (
            {"frame_images": [FrameImage(image=UUID_A, frame="last")]},
            "frame_images",
            [FrameImage(image=UUID_A, frame="last")],
        ),
    ],
)
def test_lax_python_construction(kwargs: dict[str, Any], field: str, expected: Any) -> None:
    request = WanVideoRequest(**kwargs)
    assert getattr(request, field) == expected
    assert WanVideoRequest.from_any(kwargs) == request
    # Lax input still produces strictly typed wire JSON.
    assert WanVideoRequest.from_wire(request.to_wire()) == request


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({**T2V, "duration": "five"}, "duration"),
        ({**T2V, "duration": "5.5"}, "duration"),
        ({**T2V, "duration": ""}, "duration"),
        ({**T2V, "duration": float("nan")}, "duration"),
        ({**T2V, "seed": float("inf")}, "seed"),
        ({**T2V, "include_cost": "sure"}, "includeCost"),
        ({**T2V, "include_cost": 1}, "includeCost"),
        ({**T2V, "duration": "16"}, "duration"),
        ({**T2V, "output_format": "mp5"}, "outputFormat"),
        ({"frame_images": [{"image": UUID_A, "frame": "2"}]}, "inputs.frameImages[0].frame"),
        ({"frame_images": UUID_A}, "inputs.frameImages"),
    ],
)
def test_lax_construction_still_rejects_nonsense(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**kwargs)
    assert info.value.parameter == parameter


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({**T2V, "foo": 1}, "foo"),
        ({**T2V, "positivePrompt": "x"}, "positivePrompt"),
        ({**T2V, "inputs": {}}, "inputs"),
        ({"frame_images": [{"image": UUID_A, "position": "first"}]}, "inputs.frameImages[0].position"),
        ({**T2V, "": 0}, "''"),
    ],
)
def test_unknown_python_kwargs(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**kwargs)
    assert (info.value.parameter, info.value.code) == (parameter, "unknownParameter")


def test_wire_name_in_python_kwargs_gets_a_hint() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(positivePrompt="x", width=1280, height=720)  # type: ignore[call-arg]
    assert "from_wire" in info.value.message


def test_from_any() -> None:
    request = WanVideoRequest(**{**T2V, "duration": 6})
    assert WanVideoRequest.from_any(request) is request
    assert WanVideoRequest.from_any({**T2V, "duration": "6"}) == request
    # a templated wire dict: camelCase detected, typing is lax
    assert (
        WanVideoRequest.from_any({**T2V_WIRE, "positivePrompt": T2V["positive_prompt"], "duration": "6"})
        == request
    )
    assert (
        WanVideoRequest.from_any(
            {
                "taskType": "videoInference",
                "width": 1280,
                "height": 720,
                "positivePrompt": T2V["positive_prompt"],
                "duration": 6,
            }
        )
        == request
    )
    assert WanVideoRequest.from_any(json.dumps({**T2V, "duration": 6})) == request
    # ambiguous keys only (width, height, duration...) mean the same in both forms
    assert (
        WanVideoRequest.from_any(
            {"width": 1280, "height": 720, "inputs": {"frameImages": None}, "positivePrompt": "x"}
        ).width
        == 1280
    )


@pytest.mark.parametrize(
    ("data", "parameter", "code"),
    [
        ({**T2V_WIRE, "number_results": 2}, "number_results", "unknownParameter"),  # mixed styles
        ("not json", "request", INVALID),
        ("[1, 2]", "request", INVALID),
        (42, "request", INVALID),
        ({1: "x"}, "request", INVALID),
        ({**T2V, "duration": "99"}, "duration", INVALID),
    ],
)
def test_from_any_rejects(data: Any, parameter: str, code: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_any(data)
    assert (info.value.parameter, info.value.code) == (parameter, code)


def test_from_any_reads_the_python_repr_jinja_renders() -> None:
    # "{{ ti.xcom_pull('prep') }}" without render_template_as_native_obj renders str(dict): not JSON.
    values = {**T2V, "duration": 6, "generate_audio": False, "seed": None, "frame_images": None}
    rendered = str(values)
    with pytest.raises(ValueError):
        json.loads(rendered)
    assert WanVideoRequest.from_any(rendered) == WanVideoRequest(**values)
    # the wire form too, and surrounding whitespace from the template
    wire = {**T2V_WIRE, "taskType": "videoInference", "settings": {"audio": True}}
    assert WanVideoRequest.from_any(f"  {wire!r}\n") == WanVideoRequest.from_wire(wire)


@pytest.mark.parametrize(
    "text",
    [
        "[{'positive_prompt': 'x'}]",  # a literal, but not a dict
        "{'positive_prompt': 'x'",  # truncated
        "{'positive_prompt': __import__('os').getcwd()}",  # a call: never evaluated
        "{'positive_prompt': prompt}",  # a name
        "dict(positive_prompt='x')",
        "{'positive_prompt': 'x'}.copy()",
        "[" * 100_000,  # nesting beyond the parser's limits
        "{'a': 1\x00}",
        "",
    ],
)
def test_from_any_refuses_anything_but_a_dict_literal(text: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_any(text)
    assert (info.value.parameter, info.value.code) == ("request", INVALID)


# ----------------------------------------------------------------------------------------------------
# Models are frozen; replace() re-validates; FrameImage on its own
# ----------------------------------------------------------------------------------------------------


def test_frozen() -> None:
    request = WanVideoRequest(**T2V)
    with pytest.raises(ValidationError):
        request.duration = 99  # type: ignore[misc]


def test_replace_revalidates() -> None:
    request = WanVideoRequest(**T2V)
    assert request.replace(seed=7).seed == 7
    assert request.replace(seed=7).positive_prompt == request.positive_prompt
    with pytest.raises(InvalidRequestError) as info:
        request.replace(duration=99)
    assert info.value.parameter == "duration"
    i2v = request.replace(width=None, height=None, frame_images=[UUID_A])
    assert i2v.width is None and i2v.frame_positions == ("first",)


def test_frame_image_model() -> None:
    assert FrameImage(image=UUID_A).to_wire() == {"image": UUID_A}
    assert FrameImage(image=UUID_A, frame=-1).to_wire() == {"image": UUID_A, "frame": -1}
    assert FrameImage(image=UUID_A, frame=0).position == "first"
    assert FrameImage(image=UUID_A).position is None
    assert FrameImage.model_validate({"image": UUID_A, "frame": "last"}).frame == "last"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"image": ""}, "inputs.frameImages.image"),
        ({"image": UUID_A, "frame": 3}, "inputs.frameImages.frame"),
        ({"image": UUID_A, "extra": 1}, "inputs.frameImages.extra"),
        ({}, "inputs.frameImages.image"),
    ]
    for bad, parameter in cases:
        with pytest.raises(InvalidRequestError) as info:
            FrameImage(**bad)
        assert info.value.parameter == parameter
        with pytest.raises(InvalidRequestError):
            FrameImage.model_validate(bad)


# ----------------------------------------------------------------------------------------------------
# Convenience properties
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "tier"),
    [
        (T2V, "720p"),
        ({**T2V, "width": 1920, "height": 1080}, "1080p"),
        ({**T2V, "width": 832, "height": 1088}, "720p"),
        (I2V, "1080p"),  # model page default resolution
        ({**I2V, "resolution": "720p"}, "720p"),
        ({**I2V, "resolution": "1080p"}, "1080p"),
    ],
)
def test_tier(kwargs: dict[str, Any], tier: str) -> None:
    assert WanVideoRequest(**kwargs).tier == tier


def test_defaults_and_effective_values() -> None:
    request = WanVideoRequest(**T2V)
    assert request.include_cost is True
    assert (request.effective_duration, request.effective_number_results) == (5, 1)
    assert request.output_seconds == 5
    assert request.effective_output_format == "MP4"
    assert request.has_references is False
    assert request.size_preset == SIZE_PRESETS["720p_16_9"]
    custom = WanVideoRequest(**{**V2V, "duration": 4, "number_results": 3, "output_format": "MOV"})
    assert (custom.effective_duration, custom.effective_number_results, custom.output_seconds) == (4, 3, 12)
    assert custom.effective_output_format == "MOV"
    assert custom.has_references is True
    assert WanVideoRequest(**R2V).has_references is True
    assert WanVideoRequest(**I2V).size_preset is None


# ----------------------------------------------------------------------------------------------------
# Logs never see base64 megabytes
# ----------------------------------------------------------------------------------------------------

BIG = "data:image/png;base64," + "A" * 200_000


def test_repr_and_str_truncate_long_strings() -> None:
    request = WanVideoRequest(
        positive_prompt="p" * 5000,
        width=1280,
        height=720,
        reference_images=[BIG, UUID_A],
    )
    for text in (repr(request), str(request)):
        assert len(text) < 600
        assert f"...({len(BIG)} chars)" in text
        assert "(5000 chars)" in text
        assert UUID_A in text  # short values are shown whole
        assert "data:image/png;base64,AAAA" in text  # prefix kept to identify the value
    frames = WanVideoRequest(frame_images=[BIG])
    assert len(repr(frames)) < 300 and f"({len(BIG)} chars)" in repr(frames)
    assert len(str(FrameImage(image=BIG))) < 200
    # unset fields are not listed
    assert "seed" not in repr(WanVideoRequest(**T2V))
    assert repr(WanVideoRequest(**T2V)).startswith("WanVideoRequest(")


def test_error_messages_do_not_echo_base64() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**{**T2V, "audio": BIG})
    assert info.value.parameter == "inputs.audio"
    assert len(str(info.value)) < 400


# ----------------------------------------------------------------------------------------------------
# Fingerprint
# ----------------------------------------------------------------------------------------------------


def _canonical_sha(wire: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(wire, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_fingerprint_is_sha256_of_canonical_wire_without_task_uuid() -> None:
    request = WanVideoRequest(**{**R2V, "seed": 3})
    expected = {
        "taskType": "videoInference",
        "model": "alibaba:wan@2.7",
        "deliveryMethod": "async",
        "includeCost": True,
        "positivePrompt": T2V["positive_prompt"],
        "width": 1280,
        "height": 720,
        "seed": 3,
        "inputs": {"referenceImages": [UUID_A]},
    }
    assert request.fingerprint() == _canonical_sha(expected)
    assert len(request.fingerprint()) == 64


def test_fingerprint_stability() -> None:
    a = WanVideoRequest(positive_prompt="x", width=1280, height=720, duration=5, include_cost=True)
    b = WanVideoRequest(duration="5", height="720", width=1280, positive_prompt="x")
    c = WanVideoRequest.from_wire({"duration": 5, "height": 720, "positivePrompt": "x", "width": 1280})
    assert a.fingerprint() == b.fingerprint() == c.fingerprint()
    assert a.fingerprint() == a.fingerprint()
    unicode = WanVideoRequest(positive_prompt="Löwe im Schnee 雪", width=1280, height=720)
    assert unicode.fingerprint() == WanVideoRequest.from_wire(unicode.to_wire(TASK_UUID)).fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"positive_prompt": "y"},
        {"seed": 1},
        {"duration": 6},
        {"width": 720, "height": 1280},
        {"include_cost": False},
        {"negative_prompt": ""},
        {"reference_images": [UUID_A]},
    ],
)
def test_fingerprint_sensitivity(change: dict[str, Any]) -> None:
    base = WanVideoRequest(positive_prompt="x", width=1280, height=720)
    assert base.replace(**change).fingerprint() != base.fingerprint()


# ----------------------------------------------------------------------------------------------------
# Property tests
# ----------------------------------------------------------------------------------------------------

_images = st.one_of(
    st.uuids(version=4).map(str),
    st.sampled_from([IMAGE_URL, DATA_URI, "iVBORw0KGgo=", "http://a.example/x.jpg?q=1"]),
)
_videos = st.one_of(st.uuids().map(str), st.sampled_from([VIDEO_URL, "http://cdn.example.com/clip.webm"]))
_urls = st.sampled_from(["https://hooks.example.com/x?token=t", "http://localhost:9000/hook", PRESIGNED])
_text = st.text(min_size=1, max_size=40)


@st.composite
def valid_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Random requests that satisfy every rule (built from the rule list, not from models.py)."""
    mode = draw(st.sampled_from(["t2v", "i2v", "r2v"]))
    kw: dict[str, Any] = {}
    if mode == "i2v":
        count = draw(st.integers(1, 2))
        frames = draw(st.lists(st.sampled_from(FRAME_CHOICES), min_size=count, max_size=count))
        if isinstance(_expected_positions(frames), int):
            frames = [None] * count
        kw["frame_images"] = [{"image": draw(_images)} | ({} if f is None else {"frame": f}) for f in frames]
        if draw(st.booleans()):
            kw["resolution"] = draw(st.sampled_from(["720p", "1080p"]))
        if draw(st.booleans()):
            kw["positive_prompt"] = draw(_text)
    else:
        _, width, height, tier, _ = draw(st.sampled_from(PAGE_SIZES))
        kw.update(width=width, height=height, positive_prompt=draw(st.one_of(_text, st.just("p" * 5000))))
        if draw(st.booleans()):
            kw["resolution"] = tier
        if mode == "r2v":
            kind = draw(st.sampled_from(["images", "videos", "both"]))
            if kind in ("images", "both"):
                kw["reference_images"] = draw(st.lists(_images, min_size=1, max_size=4))
            if kind in ("videos", "both"):
                kw["reference_videos"] = draw(st.lists(_videos, min_size=1, max_size=3))
            if draw(st.booleans()):
                kw["shot_type"] = draw(st.sampled_from(["single", "multi"]))
    max_duration = 10 if mode == "r2v" else 15
    optional: dict[str, st.SearchStrategy[Any]] = {
        "negative_prompt": st.text(max_size=500),
        "duration": st.integers(2, max_duration),
        "seed": st.integers(0, 2147483647),
        "number_results": st.integers(1, 20),
        "output_type": st.just("URL"),
        "output_format": st.sampled_from(["MP4", "WEBM", "MOV"]),
        "output_quality": st.integers(20, 99),
        "webhook_url": _urls,
        "upload_endpoint": _urls,
        "ttl": st.integers(60, 10**7),
        "include_cost": st.booleans(),
        "audio": st.one_of(st.uuids().map(str), st.just(AUDIO_URL)),
        "generate_audio": st.booleans(),
        "prompt_enhancer": st.booleans(),
        "check_content": st.booleans(),
        "safety_mode": st.sampled_from(["none", "fast", "full"]),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            kw[name] = draw(strategy)
    return kw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kwargs=valid_kwargs(), task_uuid=st.uuids(version=4).map(str))
def test_valid_requests_round_trip(kwargs: dict[str, Any], task_uuid: str) -> None:
    request = WanVideoRequest(**kwargs)
    wire = request.to_wire(task_uuid)
    assert WanVideoRequest.from_wire(wire) == request
    assert WanVideoRequest.from_wire(json.loads(json.dumps(wire))) == request
    assert WanVideoRequest.from_wire(wire).to_wire(task_uuid) == wire
    assert WanVideoRequest.from_any(wire) == request
    assert WanVideoRequest.from_wire(wire_of(kwargs)) == request
    assert WanVideoRequest.from_wire(wire).fingerprint() == request.fingerprint()
    assert len(repr(request)) < 2000


# An independent accept/reject oracle of the rule list on strict wire JSON, for random fuzzing.
_PRESET_DIMS = {(w, h): tier for _, w, h, tier, _ in PAGE_SIZES}


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_http(v: Any) -> bool:
    return (
        isinstance(v, str)
        and (v.startswith("https://") or v.startswith("http://"))
        and " " not in v
        and len(v.split("//", 1)[1].split("/")[0]) > 0
    )


def _is_uuid_text(v: Any) -> bool:
    try:
        return isinstance(v, str) and len(v) == 36 and str(uuid.UUID(v)) == v.lower()
    except ValueError:
        return False


def _oracle_accepts(w: dict[str, Any]) -> bool:  # a flat restatement of the rules
    def get(*path: str) -> Any:
        node: Any = w
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node

    prompt, width, height = get("positivePrompt"), get("width"), get("height")
    frames, refs, vids = (
        get("inputs", "frameImages"),
        get("inputs", "referenceImages"),
        get("inputs", "referenceVideos"),
    )
    resolution, duration = get("resolution"), get("duration")
    if prompt is not None and not (isinstance(prompt, str) and 1 <= len(prompt) <= 5000):
        return False
    neg = get("negativePrompt")
    if neg is not None and not (isinstance(neg, str) and len(neg) <= 500):
        return False
    for v in (width, height):
        if v is not None and not _is_int(v):
            return False
    if resolution is not None and resolution not in ("720p", "1080p"):
        return False
    ranges = {
        "duration": (2, 15),
        "seed": (0, 2147483647),
        "numberResults": (1, 20),
        "outputQuality": (20, 99),
        "ttl": (60, 10**18),
    }
    for key, (low, high) in ranges.items():
        v = get(key)
        if v is not None and not (_is_int(v) and low <= v <= high):
            return False
    if get("outputType") not in (None, "URL") or get("outputFormat") not in (None, "MP4", "WEBM", "MOV"):
        return False
    for key in ("webhookURL", "uploadEndpoint"):
        if get(key) is not None and not _is_http(get(key)):
            return False
    for path in (
        ("includeCost",),
        ("settings", "audio"),
        ("settings", "promptEnhancer"),
        ("safety", "checkContent"),
    ):
        if get(*path) is not None and type(get(*path)) is not bool:
            return False
    if refs is not None and not (
        isinstance(refs, list) and refs and all(isinstance(r, str) and r for r in refs)
    ):
        return False
    if frames is not None:
        if not (isinstance(frames, list) and 1 <= len(frames) <= 2):
            return False
        for item in frames:
            if not (isinstance(item, dict) and isinstance(item.get("image"), str) and item["image"]):
                return False
            frame = item.get("frame")
            if frame is not None and not (
                frame in ("first", "last") or (_is_int(frame) and frame in (0, -1))
            ):
                return False
        if isinstance(_expected_positions([item.get("frame") for item in frames]), int):
            return False
    if vids is not None and not (
        isinstance(vids, list) and vids and all(_is_uuid_text(v) or _is_http(v) for v in vids)
    ):
        return False
    audio = get("inputs", "audio")
    if audio is not None and not (_is_uuid_text(audio) or _is_http(audio)):
        return False
    if get("settings", "shotType") not in (None, "single", "multi") or get("safety", "mode") not in (
        None,
        "none",
        "fast",
        "full",
    ):
        return False
    # cross-field rules
    if frames is None and prompt is None:
        return False
    if (frames is None) == (width is None and height is None):
        return False
    if frames is None and (width is None or height is None or (width, height) not in _PRESET_DIMS):
        return False
    if frames is None and resolution is not None and resolution != _PRESET_DIMS[(width, height)]:
        return False
    has_refs = refs is not None or vids is not None
    if has_refs and duration is not None and duration > 10:
        return False
    if frames is not None and has_refs:
        return False
    return not (get("settings", "shotType") is not None and not has_refs)


_fuzz_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(
        [0, 1, 2, 5, 10, 11, 15, 16, 19, 20, 21, 59, 60, 99, 100, -1, 720, 1280, 1920, 1080, 2147483648]
    ),
    st.sampled_from(
        [5.0, 2.5, "5", "", "x", "720p", "1080p", "URL", "MP4", "mp4", "first", "last", "0", "multi"]
    ),
    st.sampled_from([UUID_A, VIDEO_URL, "ftp://x.example/a", "https://", DATA_URI, "none", "full"]),
)
_fuzz_frames = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"image": st.sampled_from([UUID_A, "", 3])},
            optional={"frame": st.sampled_from([*FRAME_CHOICES, 1, "0", True])},
        ),
        st.sampled_from([UUID_A, 7]),
    ),
    max_size=3,
)


_FUZZ_TARGETS: list[tuple[str, ...]] = [tuple(path.split(".")) for path in _WIRE_NAMES.values()]
_fuzz_lists = st.lists(st.sampled_from([UUID_A, VIDEO_URL, IMAGE_URL, "", "clip.mp4", 5]), max_size=3)


@st.composite
def fuzz_wire(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request with 0 to 3 random mutations: set a field to junk or a boundary, or drop one."""
    wire = wire_of(draw(valid_kwargs()))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_FUZZ_TARGETS))
        parent = wire if len(path) == 1 else wire.setdefault(path[0], {})
        if draw(st.integers(0, 3)) == 0:
            parent.pop(path[-1], None)
        elif path[-1] == "frameImages":
            parent[path[-1]] = draw(_fuzz_frames)
        elif path[-1] in ("referenceImages", "referenceVideos"):
            parent[path[-1]] = draw(st.one_of(_fuzz_lists, _fuzz_scalars))
        else:
            parent[path[-1]] = draw(_fuzz_scalars)
    return wire


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire=fuzz_wire())
def test_fuzz_matches_the_rule_oracle(wire: dict[str, Any]) -> None:
    try:
        request = WanVideoRequest.from_wire(wire)
    except InvalidRequestError as error:
        assert not _oracle_accepts(wire), f"rejected a valid request: {error}"
        assert error.parameter
        return
    assert _oracle_accepts(wire), "accepted an invalid request"
    assert WanVideoRequest.from_wire(request.to_wire()) == request
