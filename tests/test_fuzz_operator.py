"""Bad-input fuzz: random operator arguments never raise anything but the documented validation error.

Covers what users actually pass — template-rendered strings, wrong types, out-of-range numbers, odd media
references — through ``WanVideoOperator(...)`` (non-templated arguments are checked there),
``validate_arguments()`` (rendered templated arguments) and ``build_request()``: all run before any request.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import SIZE_PRESETS, WanVideoRequest
from airflow_provider_wan.operators.video import WanVideoOperator

EXAMPLES = int(os.environ.get("WAN_FUZZ_EXAMPLES", "600"))

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**33), 2**33),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
numberish = st.one_of(st.integers(-5, 30), st.sampled_from(["5", "2", " 7 ", "5.0", "abc", "", "1e3"]), junk)
boolish = st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes", "0", "maybe"]), junk)
refs = st.one_of(
    st.lists(
        st.sampled_from(
            [
                "aac49721-1964-481a-ae78-8a4e29b91402",
                "https://cdn.example.com/a.png",
                "data:image/png;base64,iVBORw0KGgo=",
                "s3://bucket/key.png",
                "/tmp/nowhere.png",
                "",
                "ftp://x",
            ]
        ),
        max_size=3,
    ),
    junk,
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "positive_prompt": st.one_of(st.text(max_size=40), st.just("x" * 5001), junk),
    "negative_prompt": st.one_of(st.text(max_size=10), st.just("n" * 501), junk),
    "size": st.one_of(st.sampled_from([*SIZE_PRESETS, "4k", ""]), junk),
    "width": numberish,
    "height": numberish,
    "resolution": st.one_of(st.sampled_from(["720p", "1080p", "480p"]), junk),
    "duration": numberish,
    "seed": numberish,
    "number_results": numberish,
    "output_format": st.one_of(st.sampled_from(["MP4", "webm", "GIF"]), junk),
    "output_quality": numberish,
    "ttl": numberish,
    "reference_images": refs,
    "frame_images": st.one_of(
        refs, st.lists(st.dictionaries(st.sampled_from(["image", "frame", "x"]), junk))
    ),
    "reference_videos": refs,
    "audio": st.one_of(st.sampled_from(["https://a.example/v.mp3", "voice.wav", ""]), junk),
    "generate_audio": boolish,
    "prompt_enhancer": boolish,
    "shot_type": st.one_of(st.sampled_from(["single", "multi", "triple"]), junk),
    "check_content": boolish,
    "safety_mode": st.one_of(st.sampled_from(["none", "fast", "full", "max"]), junk),
    "webhook_url": st.one_of(st.sampled_from(["https://h.example/x", "nope"]), junk),
    "request": st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["positivePrompt", "width", "duration"]), junk),
        # what Jinja renders from an XCom value: a Python repr (or any text)
        st.dictionaries(st.sampled_from(["positive_prompt", "width", "height", "audio"]), junk).map(repr),
        st.one_of(junk, st.text(max_size=40)).map(repr),
        st.text(max_size=40),
    ),
}


secondsish = st.one_of(
    numberish, st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["inf", "nan", "-1", "1e400"])
)
# Arguments that are not request fields: behaviour of the operator itself (waiting, S3, budget, identity).
SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "generation_timeout": st.one_of(
        secondsish, st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=30))
    ),
    "poll_initial_delay": secondsish,
    "poll_interval": secondsish,
    "poll_max_interval": secondsish,
    "delivery": st.one_of(st.sampled_from(["stream", "upload_endpoint", "bogus", "STREAM"]), junk),
    "s3_input_mode": st.one_of(st.sampled_from(["upload", "presigned_url", "bogus"]), junk),
    "s3_destination": st.one_of(
        st.sampled_from(["s3://bucket/prefix/", "s3://bucket", "nope", "s3://", "", "None", "s3:///key"]),
        junk,
    ),
    "aws_conn_id": st.one_of(st.sampled_from(["aws_default", "", "  "]), junk),
    "runware_conn_id": st.one_of(st.sampled_from(["runware_default", ""]), junk),
    "task_uuid": st.one_of(
        st.sampled_from(
            ["aac49721-1964-481a-ae78-8a4e29b91402", "AAC49721-1964-481A-AE78-8A4E29B91402", "nope", ""]
        ),
        junk,
    ),
    "idempotency_key": junk,
    "max_cost_usd": st.one_of(secondsish, st.just("None")),
    "input_video_seconds": st.one_of(secondsish, st.just("None")),
    "deferrable": boolish,
    "wait_for_completion": boolish,
    "allow_partial_results": boolish,
    "fail_on_nsfw": boolish,
    "include_cost": boolish,
}


@st.composite
def operator_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for name, strategy in FIELDS.items():
        if draw(st.integers(0, 3)) == 0:
            kwargs[name] = draw(strategy)
    for name, strategy in SETTINGS.items():
        if draw(st.integers(0, 5)) == 0:
            kwargs[name] = draw(strategy)
    if draw(st.booleans()):
        kwargs.setdefault("positive_prompt", "a lighthouse in a storm")
        kwargs.setdefault("size", "720p_16_9")
    return kwargs


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operator_kwargs())
@example({"request": "{'':0}"})  # found by the soak's 5,000-example run: a blank parameter name
def test_operator_arguments_raise_only_validation_errors(kwargs: dict[str, Any]) -> None:
    try:
        op = WanVideoOperator(task_id="fuzz", **kwargs)
        op.validate_arguments()
        request = op.build_request()
    except InvalidRequestError as err:
        assert err.parameter, err  # always names the parameter
        assert str(err)
        return
    assert isinstance(request, WanVideoRequest)
    request.to_wire()  # a request that validates always serializes


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(WanVideoRequest.model_fields)), junk, max_size=6))
def test_model_raises_only_validation_errors(values: dict[str, Any]) -> None:
    try:
        WanVideoRequest(**values)
    except InvalidRequestError as err:
        assert err.parameter
