"""Frame images: automatic and explicit positions, and FrameImage on its own."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    FrameImage,
    WanVideoRequest,
)
from tests.models.support import (
    FRAME_CHOICES,
    T2V,
    UUID_A,
    UUID_B,
    expected_positions,
)

# ----------------------------------------------------------------------------------------------------
# Frame positions
# ----------------------------------------------------------------------------------------------------


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
    expected = expected_positions(frames)
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


def test_frame_image_model() -> None:
    assert FrameImage(image=UUID_A).model_dump(exclude_none=True) == {"image": UUID_A}
    assert FrameImage(image=UUID_A, frame=-1).model_dump(exclude_none=True) == {"image": UUID_A, "frame": -1}
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
