"""Cost estimates: the model page's examples, numberResults, input video seconds, float hygiene."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_wan.models import SIZE_PRESETS, WanVideoRequest
from airflow_provider_wan.pricing import PRICE_PER_SECOND, CostEstimate, estimate

UUID_A = "aac49721-1964-481a-ae78-8a4e29b91402"
S720: dict[str, Any] = {"positive_prompt": "x", "width": 1280, "height": 720}
S1080: dict[str, Any] = {"positive_prompt": "x", "width": 1920, "height": 1080}


def test_price_table() -> None:
    assert PRICE_PER_SECOND == {"720p": 0.10, "1080p": 0.15}
    assert PRICE_PER_SECOND["720p"] == 0.10
    assert PRICE_PER_SECOND["1080p"] == 0.15


@pytest.mark.parametrize(
    ("kwargs", "input_seconds", "expected"),
    [
        # Model page: "720p . 2 seconds: $0.2", "1080p . 2 seconds: $0.3"
        ({**S720, "duration": 2}, 0, 0.2),
        ({**S1080, "duration": 2}, 0, 0.3),
        # default duration 5 s, default 1 result
        (S720, 0, 0.5),
        (S1080, 0, 0.75),
        # numberResults multiplies the output
        ({**S720, "duration": 4, "number_results": 3}, 0, 1.2),
        ({**S1080, "duration": 15, "number_results": 20}, 0, 45.0),
        # input video seconds, billed once per task at the output tier
        ({**S1080, "reference_videos": [UUID_A], "duration": 5}, 7.5, 1.875),
        ({**S720, "reference_videos": [UUID_A], "duration": 10, "number_results": 2}, 12, 3.2),
        ({**S720, "duration": 3}, 0.0, 0.3),  # 0.1 * 3 is 0.30000000000000004 in floats
        ({**S720, "duration": 7}, 0, 0.7),  # 0.1 * 7 is 0.7000000000000001 in floats
        ({**S1080, "duration": 2}, 0.00001, 0.3),  # rounded to 4 decimals
        ({**S1080, "duration": 2}, 0.0003, 0.3),  # 0.300045 -> 0.3
        ({**S1080, "duration": 2}, 0.001, 0.3002),  # 0.30015 -> 0.3002: half up
        ({**S1080, "duration": 2}, Decimal("1.5"), 0.525),
        # tier of image-to-video comes from resolution, default 1080p
        ({"frame_images": [UUID_A], "duration": 2}, 0, 0.3),
        ({"frame_images": [UUID_A], "duration": 2, "resolution": "720p"}, 0, 0.2),
    ],
)
def test_estimate_total(kwargs: dict[str, Any], input_seconds: Any, expected: float) -> None:
    request = WanVideoRequest(**kwargs)
    assert estimate(request, input_seconds).total_usd == expected


@pytest.mark.parametrize("preset", list(SIZE_PRESETS.values()), ids=lambda p: p.name)
def test_every_preset_is_billed_at_its_tier(preset: Any) -> None:
    request = WanVideoRequest(positive_prompt="x", width=preset.width, height=preset.height, duration=2)
    assert request.tier == preset.tier
    assert estimate(request).total_usd == {"720p": 0.2, "1080p": 0.3}[preset.tier]


def test_estimate_is_itemised() -> None:
    request = WanVideoRequest(**S1080, reference_videos=[UUID_A], duration=4, number_results=2)
    result = estimate(request, input_video_seconds=6)
    assert result == CostEstimate(
        total_usd=2.1,
        output_usd=1.2,
        input_usd=0.9,
        tier="1080p",
        rate_per_second=0.15,
        output_seconds=8,
        input_seconds=6.0,
    )
    text = result.describe()
    assert "$2.10" in text and "8 s output" in text and "1080p" in text and "$0.15/s" in text
    assert "6 s input" in text and "$0.90" in text


def test_describe_without_input() -> None:
    text = estimate(WanVideoRequest(**S720, duration=2)).describe()
    assert text == "estimated cost $0.20: 2 s output at 720p x $0.10/s"
    assert "input" not in text


def test_describe_keeps_four_decimals() -> None:
    assert "$1.875" in estimate(WanVideoRequest(**S1080, duration=5), 7.5).describe()


@pytest.mark.parametrize(
    "bad", [-0.001, -5, math.nan, math.inf, -math.inf, True, "3", None, Decimal("NaN"), Decimal("-1")]
)
def test_input_seconds_must_be_a_non_negative_number(bad: Any) -> None:
    with pytest.raises(ValueError, match="input_video_seconds"):
        estimate(WanVideoRequest(**S720), bad)


@given(
    duration=st.integers(2, 15),
    number_results=st.integers(1, 20),
    tenths=st.integers(0, 10_000),
    hd=st.booleans(),
)
def test_formula(duration: int, number_results: int, tenths: int, hd: bool) -> None:
    size = S1080 if hd else S720
    request = WanVideoRequest(**size, duration=duration, number_results=number_results)
    seconds = tenths / 10
    rate = Decimal("0.15") if hd else Decimal("0.10")
    exact = rate * (duration * number_results + Decimal(str(seconds)))
    assert estimate(request, seconds).total_usd == float(exact.quantize(Decimal("0.0001")))
    # never float noise: at most 4 decimals in the shortest repr
    assert len(repr(estimate(request, seconds).total_usd).partition(".")[2]) <= 4
