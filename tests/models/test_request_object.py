"""The request object: frozen, replace(), convenience properties, logs, fingerprint, media references."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    SIZE_PRESETS,
    FrameImage,
    WanVideoRequest,
)
from tests.models.support import (
    DATA_URI,
    I2V,
    R2V,
    T2V,
    TASK_UUID,
    UUID_A,
    UUID_B,
    V2V,
    VIDEO_URL,
    wire_of,
)

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
        WanVideoRequest.from_wire(wire_of({**T2V, "audio": BIG}))
    assert info.value.parameter == "inputs.audio"
    assert len(str(info.value)) < 400
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(**{**T2V, "webhook_url": BIG})
    assert info.value.parameter == "webhookURL" and f"({len(BIG)} chars)" in str(info.value)
    assert len(str(info.value)) < 400


# ----------------------------------------------------------------------------------------------------
# Media references: accepted unresolved, listed, replaced without re-validation
# ----------------------------------------------------------------------------------------------------


def test_media_references_and_unresolved_media() -> None:
    request = WanVideoRequest(
        **T2V,
        reference_images=[UUID_A, "/data/face.png", DATA_URI],
        reference_videos=["s3://b/c.mp4", VIDEO_URL],
    )
    refs = [(r.parameter, r.kind, r.form) for r in request.media_references]
    assert refs == [
        ("inputs.referenceImages[0]", "image", "uuid"),
        ("inputs.referenceImages[1]", "image", "file"),
        ("inputs.referenceImages[2]", "image", "data_uri"),
        ("inputs.referenceVideos[0]", "video", "s3"),
        ("inputs.referenceVideos[1]", "video", "url"),
    ]
    # an inline image goes to Runware as it is; a path and an S3 object must be resolved first
    assert [r.parameter for r in request.unresolved_media] == [
        "inputs.referenceImages[1]",
        "inputs.referenceVideos[0]",
    ]
    assert WanVideoRequest(**R2V).unresolved_media == ()
    assert [
        r.form for r in WanVideoRequest(frame_images=["s3://b/f.png"], audio="/a.wav").unresolved_media
    ] == [
        "s3",
        "file",
    ]


def test_with_media_is_a_copy_with_references_replaced() -> None:
    request = WanVideoRequest(
        frame_images=[{"image": "/data/f.png", "frame": "last"}], audio="s3://b/a.wav", seed=3
    )
    resolved = request.with_media({"inputs.frameImages[0].image": DATA_URI, "inputs.audio": UUID_B})
    assert resolved.frame_images == [FrameImage(image=DATA_URI, frame="last")]
    assert resolved.audio == UUID_B and resolved.seed == 3 and resolved.unresolved_media == ()
    assert request.audio == "s3://b/a.wav"  # the user's request is unchanged
    assert WanVideoRequest.from_wire(resolved.to_wire()) == resolved
    # the fingerprint is the user's request, computed before resolution
    assert resolved.fingerprint() != request.fingerprint()


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
