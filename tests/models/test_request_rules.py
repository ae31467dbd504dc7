"""Every Wan2.7 rule of the model page: accepting and rejecting cases, codes and allowed values."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.models import (
    ALLOWED_SIZES,
    WanVideoRequest,
)
from tests.models.support import (
    AUDIO_URL,
    DATA_URI,
    I2V,
    IMAGE_URL,
    INCOMPATIBLE,
    INVALID,
    MISSING,
    PRESIGNED,
    R2V,
    T2V,
    TASK_UUID,
    UUID_A,
    UUID_B,
    V2V,
    VIDEO_URL,
    wire_of,
    without,
)

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
        "reference-videos-ftp",
        {**T2V, "reference_videos": [UUID_A, "ftp://example.com/v.mp4"]},
        "inputs.referenceVideos[1]",
        INVALID,
    ),
    ("reference-videos-int", {**T2V, "reference_videos": [42]}, "inputs.referenceVideos[0]", INVALID),
    ("audio-empty", {**T2V, "audio": ""}, "inputs.audio", INVALID),
    ("audio-not-string", {**T2V, "audio": 42}, "inputs.audio", INVALID),
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


# Python input may hold media references Runware cannot take (paths, s3://, inline video/audio): they are
# accepted unresolved and resolved before the submit. The wire form (what Runware takes) refuses them.
UNRESOLVED: list[tuple[str, dict[str, Any], str, str]] = [
    ("reference-videos-path", {**T2V, "reference_videos": ["clip.mp4"]}, "inputs.referenceVideos[0]", "file"),
    (
        "reference-videos-data-uri",
        {**T2V, "reference_videos": [DATA_URI]},
        "inputs.referenceVideos[0]",
        "data_uri",
    ),
    (
        "reference-videos-s3",
        {**T2V, "reference_videos": [UUID_A, "s3://b/v.mp4"]},
        "inputs.referenceVideos[1]",
        "s3",
    ),
    ("audio-filename", {**T2V, "audio": "voice.mp3"}, "inputs.audio", "file"),
    ("audio-truncated-uuid", {**T2V, "audio": UUID_A[:-1]}, "inputs.audio", "file"),
    ("audio-file-uri", {**T2V, "audio": "file:///data/voice.wav"}, "inputs.audio", "file"),
]


@pytest.mark.parametrize(
    ("kwargs", "parameter", "form"), [c[1:] for c in UNRESOLVED], ids=[c[0] for c in UNRESOLVED]
)
def test_unresolved_media_from_python_and_refused_on_the_wire(
    kwargs: dict[str, Any], parameter: str, form: str
) -> None:
    request = WanVideoRequest(**kwargs)
    assert WanVideoRequest.from_any(kwargs) == request
    assert [(ref.parameter, ref.form) for ref in request.unresolved_media] == [(parameter, form)]
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_wire(wire_of(kwargs))
    assert (info.value.parameter, info.value.code) == (parameter, INVALID)
    assert "UUID or an http(s) URL" in info.value.message


@pytest.mark.parametrize("value", ["gs://bucket/a.wav", "ftp://host/a.wav"])
def test_unsupported_schemes_are_refused_from_python(value: str) -> None:
    for kwargs, parameter in (
        ({**T2V, "audio": value}, "inputs.audio"),
        ({**T2V, "reference_images": [value]}, "inputs.referenceImages[0]"),
        ({"frame_images": [value]}, "inputs.frameImages[0].image"),
    ):
        with pytest.raises(InvalidRequestError, match="unsupported scheme") as info:
            WanVideoRequest(**kwargs)
        assert info.value.parameter == parameter


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
    assert str(info.value).count("allowed") == 1  # the list is printed once, not in the message too


def test_unknown_parameter_lists_the_allowed_names_once() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**T2V, bogus=1)
    assert (info.value.parameter, info.value.code) == ("bogus", "unknownParameter")
    assert str(info.value).count("positive_prompt") == 1
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest.from_wire({**wire_of(T2V), "settings": {"fps": 30}})
    assert info.value.allowed_values == ["audio", "promptEnhancer", "shotType"]
    assert str(info.value).count("promptEnhancer") == 1


def test_range_errors_carry_min_and_max() -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**{**T2V, "seed": -1})
    assert info.value.details == {"min": 0, "max": 2147483647}
    assert "between 0 and 2147483647" in info.value.message
