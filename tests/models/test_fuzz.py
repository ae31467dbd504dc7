"""Property tests: random valid requests round-trip; random mutations match an independent rule oracle."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    WanVideoRequest,
)
from tests.models.support import (
    AUDIO_URL,
    DATA_URI,
    FRAME_CHOICES,
    IMAGE_URL,
    PAGE_SIZES,
    PRESIGNED,
    UUID_A,
    VIDEO_URL,
    WIRE_NAMES,
    expected_positions,
    wire_of,
)

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
        if isinstance(expected_positions(frames), int):
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
        if isinstance(expected_positions([item.get("frame") for item in frames]), int):
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


_FUZZ_TARGETS: list[tuple[str, ...]] = [tuple(path.split(".")) for path in WIRE_NAMES.values()]
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
