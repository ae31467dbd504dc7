"""Python input: lax typing of templated values, unknown kwargs, from_any in every form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    FrameImage,
    WanVideoRequest,
)
from tests.models.support import (
    INVALID,
    R2V,
    T2V,
    T2V_WIRE,
    UUID_A,
    UUID_B,
)

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
