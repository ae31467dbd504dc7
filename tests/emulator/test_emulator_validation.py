"""The pure videoInference validator against every rule of the Wan2.7 model page."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_wan.emulator.model import PRESETS
from airflow_provider_wan.emulator.validation import frame_positions, validate_video_inference

from .helpers import DROP, video_task

PRESET_NAMES = [f"{w}x{h}" for (w, h) in PRESETS]
REF_UUID = "aac49721-1964-481a-ae78-8a4e29b91402"
REF_UUID_2 = "3ad204c3-a9de-4963-8a1a-c3911e3afafe"


def only_error(task: Any) -> dict[str, Any]:
    errors = validate_video_inference(task)
    assert len(errors) == 1, errors
    return errors[0]


def test_minimal_valid_task() -> None:
    assert validate_video_inference(video_task()) == []


def test_fully_loaded_valid_task() -> None:
    task = video_task(
        deliveryMethod="async",
        outputType="URL",
        outputFormat="WEBM",
        outputQuality=95,
        webhookURL="https://hooks.example.com/runware?token=abc",
        uploadEndpoint="https://bucket.s3.amazonaws.com/out.mp4?X-Amz-Signature=x",
        ttl=60,
        includeCost=True,
        numberResults=20,
        safety={"checkContent": True, "mode": "full"},
        negativePrompt="",
        resolution="720p",
        duration=10,
        seed=2147483647,
        inputs={
            "referenceImages": [REF_UUID, "https://x.test/a.png"],
            "referenceVideos": [REF_UUID_2],
            "audio": REF_UUID,
        },
        settings={"audio": False, "promptEnhancer": True, "shotType": "multi"},
    )
    assert validate_video_inference(task) == []


@pytest.mark.parametrize(("width", "height"), list(PRESETS))
def test_all_ten_presets_accepted(width: int, height: int) -> None:
    tier = PRESETS[(width, height)]
    assert validate_video_inference(video_task(width=width, height=height)) == []
    assert validate_video_inference(video_task(width=width, height=height, resolution=tier)) == []


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (1280, 721),
        (1279, 720),
        (1281, 720),
        (720, 720),
        (1920, 1088),
        (1080, 1080),
        (720, 1280 + 1),
        (0, 0),
        (-1280, 720),
    ],
)
def test_neighbouring_sizes_rejected(width: int, height: int) -> None:
    error = only_error(video_task(width=width, height=height))
    assert error["code"] == "unsupportedDimensions"
    assert error["parameter"] == "width"
    assert error["allowedValues"] == PRESET_NAMES


@pytest.mark.parametrize(
    ("size", "wrong"), [((1280, 720), "1080p"), ((1920, 1080), "720p"), ((1440, 1440), "720p")]
)
def test_resolution_must_name_the_preset_tier(size: tuple[int, int], wrong: str) -> None:
    error = only_error(video_task(width=size[0], height=size[1], resolution=wrong))
    assert (error["code"], error["parameter"]) == ("incompatibleParameters", "resolution")


LONG = "x" * 5001

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # envelope
    ("taskUUID missing", {"taskUUID": DROP}, "missingTaskUUID", "taskUUID"),
    ("taskUUID v1", {"taskUUID": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, "invalidTaskUUID", "taskUUID"),
    (
        "taskUUID bad variant",
        {"taskUUID": "24cd5dff-cb81-4db5-c506-b72a9425f9d1"},
        "invalidTaskUUID",
        "taskUUID",
    ),
    ("taskUUID no dashes", {"taskUUID": "24cd5dffcb814db58506b72a9425f9d1"}, "invalidTaskUUID", "taskUUID"),
    ("taskUUID not str", {"taskUUID": 12}, "invalidTaskUUID", "taskUUID"),
    ("unknown top-level", {"fps": 30}, "unknownParameter", "fps"),
    ("model missing", {"model": DROP}, "missingModel", "model"),
    ("model other", {"model": "alibaba:wan@2.6"}, "unsupportedModel", "model"),
    # api options
    ("deliveryMethod sync", {"deliveryMethod": "sync"}, "unsupportedDeliveryMethod", "deliveryMethod"),
    ("outputType base64", {"outputType": "base64Data"}, "unsupportedOutputType", "outputType"),
    ("outputFormat gif", {"outputFormat": "GIF"}, "unsupportedOutputFormat", "outputFormat"),
    ("outputFormat lowercase", {"outputFormat": "mp4"}, "unsupportedOutputFormat", "outputFormat"),
    ("outputQuality low", {"outputQuality": 19}, "invalidOutputQuality", "outputQuality"),
    ("outputQuality high", {"outputQuality": 100}, "invalidOutputQuality", "outputQuality"),
    ("outputQuality float", {"outputQuality": 50.0}, "invalidOutputQuality", "outputQuality"),
    ("webhookURL ftp", {"webhookURL": "ftp://x.test/h"}, "invalidWebhookURL", "webhookURL"),
    ("webhookURL relative", {"webhookURL": "/hook"}, "invalidWebhookURL", "webhookURL"),
    ("webhookURL spaces", {"webhookURL": "http://a b/"}, "invalidWebhookURL", "webhookURL"),
    ("uploadEndpoint no host", {"uploadEndpoint": "https:///x"}, "invalidUploadEndpoint", "uploadEndpoint"),
    ("ttl too small", {"ttl": 59}, "invalidTtl", "ttl"),
    ("ttl float", {"ttl": 60.0}, "invalidTtl", "ttl"),
    ("includeCost string", {"includeCost": "true"}, "invalidIncludeCost", "includeCost"),
    ("numberResults 0", {"numberResults": 0}, "invalidNumberResults", "numberResults"),
    ("numberResults 21", {"numberResults": 21}, "invalidNumberResults", "numberResults"),
    ("numberResults bool", {"numberResults": True}, "invalidNumberResults", "numberResults"),
    ("safety not object", {"safety": "full"}, "invalidSafety", "safety"),
    ("safety.mode", {"safety": {"mode": "slow"}}, "unsupportedMode", "safety.mode"),
    ("safety.checkContent", {"safety": {"checkContent": 1}}, "invalidCheckContent", "safety.checkContent"),
    ("safety unknown", {"safety": {"level": 2}}, "unknownParameter", "safety.level"),
    # prompts
    ("positivePrompt empty", {"positivePrompt": ""}, "invalidPositivePrompt", "positivePrompt"),
    ("positivePrompt long", {"positivePrompt": LONG}, "invalidPositivePrompt", "positivePrompt"),
    ("positivePrompt number", {"positivePrompt": 5}, "invalidPositivePrompt", "positivePrompt"),
    ("negativePrompt long", {"negativePrompt": "n" * 501}, "invalidNegativePrompt", "negativePrompt"),
    # dimensions, duration, seed
    ("width float", {"width": 1280.0}, "invalidWidth", "width"),
    ("height string", {"height": "720"}, "invalidHeight", "height"),
    ("resolution 4k", {"resolution": "4k"}, "unsupportedResolution", "resolution"),
    ("duration 1", {"duration": 1}, "unsupportedDuration", "duration"),
    ("duration 16", {"duration": 16}, "unsupportedDuration", "duration"),
    ("duration float", {"duration": 5.0}, "invalidDuration", "duration"),
    ("duration bool", {"duration": True}, "invalidDuration", "duration"),
    ("seed negative", {"seed": -1}, "invalidSeed", "seed"),
    ("seed too big", {"seed": 2147483648}, "invalidSeed", "seed"),
    # inputs
    ("inputs not object", {"inputs": []}, "invalidInputs", "inputs"),
    ("inputs unknown", {"inputs": {"maskImage": "x"}}, "unknownParameter", "inputs.maskImage"),
    (
        "referenceImages empty",
        {"inputs": {"referenceImages": []}},
        "invalidReferenceImages",
        "inputs.referenceImages",
    ),
    (
        "referenceImages item",
        {"inputs": {"referenceImages": [REF_UUID, ""]}},
        "invalidReferenceImages",
        "inputs.referenceImages[1]",
    ),
    (
        "referenceVideos data URI",
        {"inputs": {"referenceVideos": ["data:video/mp4;base64,AAAA"]}},
        "invalidReferenceVideos",
        "inputs.referenceVideos[0]",
    ),
    (
        "referenceVideos string",
        {"inputs": {"referenceVideos": REF_UUID}},
        "invalidReferenceVideos",
        "inputs.referenceVideos",
    ),
    ("audio base64", {"inputs": {"audio": "SUQzBAAAAAAA"}}, "invalidAudio", "inputs.audio"),
    # settings
    ("settings.audio", {"settings": {"audio": "yes"}}, "invalidAudio", "settings.audio"),
    (
        "settings.promptEnhancer",
        {"settings": {"promptEnhancer": 0}},
        "invalidPromptEnhancer",
        "settings.promptEnhancer",
    ),
    (
        "settings.shotType value",
        {"settings": {"shotType": "double"}},
        "unsupportedShotType",
        "settings.shotType",
    ),
    ("settings unknown", {"settings": {"cfg": 1}}, "unknownParameter", "settings.cfg"),
]


@pytest.mark.parametrize(("mutation", "code", "parameter"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_single_rule_rejections(mutation: dict[str, Any], code: str, parameter: str) -> None:
    error = only_error(video_task(**mutation))
    assert (error["code"], error["parameter"]) == (code, parameter)


def frames(*items: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": {"frameImages": list(items)}, "width": DROP, "height": DROP}


FRAME_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no items", frames(), "invalidFrameImages", "inputs.frameImages"),
    (
        "three items",
        frames({"image": "a"}, {"image": "b"}, {"image": "c"}),
        "invalidFrameImages",
        "inputs.frameImages",
    ),
    (
        "not a list",
        {"inputs": {"frameImages": {"image": "a"}}, "width": DROP, "height": DROP},
        "invalidFrameImages",
        "inputs.frameImages",
    ),
    ("item not object", frames("a"), "invalidFrameImages", "inputs.frameImages[0]"),  # type: ignore[arg-type]
    ("image missing", frames({"frame": "first"}), "missingImage", "inputs.frameImages[0].image"),
    ("image empty", frames({"image": ""}), "invalidImage", "inputs.frameImages[0].image"),
    (
        "unknown key",
        frames({"image": "a", "strength": 1}),
        "unknownParameter",
        "inputs.frameImages[0].strength",
    ),
    (
        "frame middle",
        frames({"image": "a", "frame": "middle"}),
        "unsupportedFrame",
        "inputs.frameImages[0].frame",
    ),
    ("frame 1", frames({"image": "a", "frame": 1}), "unsupportedFrame", "inputs.frameImages[0].frame"),
    (
        "frame false",
        frames({"image": "a", "frame": False}),
        "unsupportedFrame",
        "inputs.frameImages[0].frame",
    ),
    ("frame 0.0", frames({"image": "a", "frame": 0.0}), "unsupportedFrame", "inputs.frameImages[0].frame"),
    (
        "first twice",
        frames({"image": "a", "frame": "first"}, {"image": "b", "frame": 0}),
        "invalidFrame",
        "inputs.frameImages[1].frame",
    ),
    (
        "last twice",
        frames({"image": "a", "frame": -1}, {"image": "b", "frame": "last"}),
        "invalidFrame",
        "inputs.frameImages[1].frame",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "code", "parameter"), [c[1:] for c in FRAME_CASES], ids=[c[0] for c in FRAME_CASES]
)
def test_frame_image_rules(mutation: dict[str, Any], code: str, parameter: str) -> None:
    error = only_error(video_task(**mutation))
    assert (error["code"], error["parameter"]) == (code, parameter)


@pytest.mark.parametrize(
    ("items", "positions"),
    [
        ([{"image": "a"}], ["first"]),
        ([{"image": "a", "frame": "last"}], ["last"]),
        ([{"image": "a"}, {"image": "b"}], ["first", "last"]),
        ([{"image": "a", "frame": -1}, {"image": "b"}], ["last", "first"]),
        ([{"image": "a"}, {"image": "b", "frame": 0}], ["last", "first"]),
        ([{"image": "a", "frame": "first"}, {"image": "b", "frame": "last"}], ["first", "last"]),
    ],
)
def test_valid_frame_positions(items: list[dict[str, Any]], positions: list[str]) -> None:
    task = video_task(**frames(*items), positivePrompt=DROP)
    assert validate_video_inference(task) == []
    assert frame_positions(items) == positions


CROSS_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no prompt, no frames", {"positivePrompt": DROP}, "missingPositivePrompt", "positivePrompt"),
    ("null prompt, no frames", {"positivePrompt": None}, "missingPositivePrompt", "positivePrompt"),
    (
        "frames and width",
        {"inputs": {"frameImages": [{"image": "a"}]}, "height": DROP},
        "incompatibleParameters",
        "width",
    ),
    (
        "frames and height",
        {"inputs": {"frameImages": [{"image": "a"}]}, "width": DROP},
        "incompatibleParameters",
        "height",
    ),
    ("frames and both", {"inputs": {"frameImages": [{"image": "a"}]}}, "incompatibleParameters", "width"),
    ("neither", {"width": DROP, "height": DROP}, "missingWidth", "width"),
    ("width only", {"height": DROP}, "missingHeight", "height"),
    ("height only", {"width": DROP}, "missingWidth", "width"),
    (
        "frames + referenceImages",
        {
            **frames({"image": "a"}),
            "inputs": {"frameImages": [{"image": "a"}], "referenceImages": [REF_UUID]},
        },
        "incompatibleParameters",
        "inputs.frameImages",
    ),
    (
        "frames + referenceVideos",
        {
            **frames({"image": "a"}),
            "inputs": {"frameImages": [{"image": "a"}], "referenceVideos": [REF_UUID]},
        },
        "incompatibleParameters",
        "inputs.frameImages",
    ),
    (
        "refImages + 11 s",
        {"duration": 11, "inputs": {"referenceImages": [REF_UUID]}},
        "unsupportedDuration",
        "duration",
    ),
    (
        "refVideos + 15 s",
        {"duration": 15, "inputs": {"referenceVideos": [REF_UUID]}},
        "unsupportedDuration",
        "duration",
    ),
    ("shotType alone", {"settings": {"shotType": "single"}}, "incompatibleParameters", "settings.shotType"),
    (
        "shotType with frames",
        {**frames({"image": "a"}), "settings": {"shotType": "multi"}},
        "incompatibleParameters",
        "settings.shotType",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "code", "parameter"), [c[1:] for c in CROSS_CASES], ids=[c[0] for c in CROSS_CASES]
)
def test_cross_field_rules(mutation: dict[str, Any], code: str, parameter: str) -> None:
    error = only_error(video_task(**mutation))
    assert (error["code"], error["parameter"]) == (code, parameter)


def test_duration_with_references_reports_allowed_values() -> None:
    error = only_error(video_task(duration=12, inputs={"referenceImages": [REF_UUID]}))
    assert error["allowedValues"] == list(range(2, 11))
    assert "min" not in error and "max" not in error  # the documented example has allowedValues only
    plain = only_error(video_task(duration=16))
    assert plain["allowedValues"] == list(range(2, 16))


@pytest.mark.parametrize(
    "mutation",
    [
        {"duration": 10, "inputs": {"referenceImages": [REF_UUID]}},
        {"duration": 15},
        {"inputs": {"referenceVideos": ["http://127.0.0.1:9/v.mp4"]}, "settings": {"shotType": "single"}},
        {"positivePrompt": DROP, **frames({"image": "data:image/png;base64,iVBORw0KGgo="})},
        {"positivePrompt": "p", "resolution": "720p", **frames({"image": REF_UUID})},
        {"seed": None, "negativePrompt": None, "inputs": None, "settings": {"audio": None}, "ttl": None},
        {"seed": 0, "duration": 2, "negativePrompt": "n" * 500, "positivePrompt": "p" * 5000},
        {"taskUUID": "24CD5DFF-CB81-4DB5-8506-B72A9425F9D1"},
    ],
)
def test_edge_values_accepted(mutation: dict[str, Any]) -> None:
    assert validate_video_inference(video_task(**mutation)) == []


def test_error_shape_is_runware_like() -> None:
    task = video_task(duration=12, inputs={"referenceImages": [REF_UUID]})
    error = only_error(task)
    assert error["code"] == "unsupportedDuration"
    assert error["message"]
    assert error["type"] == "float"  # as documented, although the model page says integer
    assert (
        error["documentation"] == "https://runware.ai/docs/en/video-inference/api-reference#request-duration"
    )
    assert error["taskUUID"] == task["taskUUID"]
    assert "taskType" not in error
    nested = only_error(video_task(**frames({"image": "a", "frame": "x"})))
    assert nested["documentation"].endswith("#request-inputs-frameimages-frame")


def test_first_error_only_in_a_fixed_order() -> None:
    # Unknown keys are reported before parameter values, parameter values before cross-field rules.
    task = video_task(zeta=1, alpha=2, duration=99, width=1)
    assert only_error(task)["parameter"] == "alpha"
    task = video_task(duration=99, width=1)
    assert only_error(task)["parameter"] == "duration"
    assert validate_video_inference(task) == validate_video_inference(dict(reversed(list(task.items()))))


@pytest.mark.parametrize("task", [None, [], "videoInference", 5, {"taskType": "imageInference"}])
def test_non_tasks(task: Any) -> None:
    assert len(validate_video_inference(task)) == 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
KEYS = [
    "width",
    "height",
    "duration",
    "seed",
    "resolution",
    "inputs",
    "settings",
    "positivePrompt",
    "numberResults",
]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4))
def test_validator_is_total_and_reports_at_most_one_error(mutation: dict[str, Any]) -> None:
    errors = validate_video_inference(video_task(**mutation))
    assert len(errors) <= 1
    for error in errors:
        assert isinstance(error["code"], str) and "taskType" not in error


def test_resolution_must_match_size_can_be_turned_off() -> None:
    # Not a model page rule (the billed tier would be ambiguous): on by default, a knob turns it off.
    task = video_task(resolution="1080p")  # 1280x720 is a 720p preset
    error = only_error(task)
    assert (error["code"], error["parameter"], error["allowedValues"]) == (
        "incompatibleParameters",
        "resolution",
        ["720p"],
    )
    assert validate_video_inference(task, resolution_must_match_size=False) == []
    # Everything else still applies with the rule off.
    bad = video_task(resolution="4k")
    assert only_error(bad)["code"] == "unsupportedResolution"
    assert (
        validate_video_inference(bad, resolution_must_match_size=False)[0]["code"] == "unsupportedResolution"
    )
