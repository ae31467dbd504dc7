"""Pure validation of a ``videoInference`` task against the Wan2.7 model page.

``validate_video_inference(task)`` returns a list holding at most one Runware-shaped error (the
real API reports the first problem per task), or an empty list when the task is valid. It touches
no state, no network and no disk, so property tests can compare it with the provider's model.

Checks run in a fixed order so the reported error is deterministic:

1. the envelope: task is an object, ``taskType``, ``taskUUID`` (UUID v4), unknown top-level keys
   (alphabetically), ``model``;
2. each parameter's own type and range, in the order of ``_PARAMETER_CHECKS`` below, including
   the structure of ``safety``, ``inputs`` and ``settings`` (unknown nested keys included);
3. the cross-field rules: positivePrompt required without frameImages; exactly one of
   frameImages or width/height; the preset table; resolution vs preset tier (unless turned off);
   frameImages exclusivity; duration with references; shotType needs references.

JSON types are strict: an integer must be a JSON integer (not ``5.0``, not ``true``), a boolean a
JSON boolean. ``null`` for an optional parameter means the parameter is absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from . import model
from .errors import ErrorDict, make_error

TASK_TYPE = "videoInference"

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
UUID_ANY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)

TOP_LEVEL_KEYS = frozenset(
    {
        "taskType",
        "taskUUID",
        "model",
        "deliveryMethod",
        "outputType",
        "outputFormat",
        "outputQuality",
        "webhookURL",
        "uploadEndpoint",
        "ttl",
        "includeCost",
        "numberResults",
        "safety",
        "positivePrompt",
        "negativePrompt",
        "width",
        "height",
        "resolution",
        "duration",
        "seed",
        "inputs",
        "settings",
        "routing",  # in the SDK's AlibabaWan27Params (an object of routing preferences)
    }
)
SAFETY_KEYS = frozenset({"checkContent", "mode"})
INPUT_KEYS = frozenset({"referenceImages", "frameImages", "referenceVideos", "audio"})
SETTINGS_KEYS = frozenset({"audio", "promptEnhancer", "shotType"})
FRAME_IMAGE_KEYS = frozenset({"image", "frame"})

FRAME_VALUES: tuple[str | int, ...] = ("first", "last", 0, -1)
_FIRST = "first"
_LAST = "last"


class _Invalid(Exception):
    """Carries the first error out of the nested checks."""

    def __init__(self, error: ErrorDict) -> None:
        super().__init__(error["code"])
        self.error = error


def _leaf(parameter: str) -> str:
    """``inputs.frameImages[1].frame`` -> ``Frame`` (used to build codes like invalidFrame)."""
    last = parameter.rsplit(".", 1)[-1]
    last = re.sub(r"\[\d+\]$", "", last)
    return last[:1].upper() + last[1:]


def _fail(
    code: str,
    message: str,
    parameter: str | None,
    *,
    type_: str | None = None,
    allowed: Sequence[Any] | None = None,
    min_: int | None = None,
    max_: int | None = None,
) -> NoReturn:
    raise _Invalid(
        make_error(
            code,
            message,
            parameter=parameter,
            type_=type_,
            allowed_values=allowed,
            min_=min_,
            max_=max_,
        )
    )


def _invalid(parameter: str, message: str, **kwargs: Any) -> NoReturn:
    _fail("invalid" + _leaf(parameter), message, parameter, **kwargs)


def _present(container: Mapping[str, Any], key: str) -> bool:
    """Present means given and not null (null means "absent" for optional parameters)."""
    return container.get(key) is not None


def is_int(value: Any) -> bool:
    return type(value) is int  # bool is a subclass of int and must not count


def is_http_url(value: Any) -> bool:
    """An absolute http(s) URI with a host and no whitespace."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and UUID_ANY.match(value) is not None


def is_uuid_v4(value: Any) -> bool:
    return isinstance(value, str) and UUID_V4.match(value) is not None


# --- single-value checks -------------------------------------------------------------------------


def _check_int(value: Any, parameter: str, lo: int | None, hi: int | None) -> None:
    if not is_int(value):
        _invalid(parameter, f"Invalid value for {parameter}: must be an integer.", type_="integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        _invalid(
            parameter,
            f"Invalid value for {parameter}: must be {bounds}.",
            type_="integer",
            min_=lo,
            max_=hi,
        )


def _check_bool(value: Any, parameter: str) -> None:
    if type(value) is not bool:
        _invalid(parameter, f"Invalid value for {parameter}: must be a boolean.", type_="boolean")


def _check_str(value: Any, parameter: str, lo: int, hi: int | None) -> None:
    if not isinstance(value, str):
        _invalid(parameter, f"Invalid value for {parameter}: must be a string.", type_="string")
    if len(value) < lo or (hi is not None and len(value) > hi):
        _invalid(
            parameter,
            f"Invalid length for {parameter}: must be between {lo} and {hi} characters.",
            type_="string",
            min_=lo,
            max_=hi,
        )


def _check_enum(value: Any, parameter: str, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        _fail(
            "unsupported" + _leaf(parameter),
            f"Invalid value for {parameter}. Allowed values: {', '.join(allowed)}.",
            parameter,
            type_="string",
            allowed=allowed,
        )


def _check_url(value: Any, parameter: str) -> None:
    if not is_http_url(value):
        _invalid(
            parameter, f"Invalid value for {parameter}: must be an absolute http(s) URI.", type_="string"
        )


def _check_object(value: Any, parameter: str, allowed_keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        _invalid(parameter, f"Invalid value for {parameter}: must be an object.", type_="object")
    _check_unknown_keys(value, allowed_keys, parameter + ".")
    return value


def _check_unknown_keys(obj: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in sorted(k for k in obj if k not in allowed):
        _fail("unknownParameter", f"Unknown parameter: {prefix}{key}.", f"{prefix}{key}")


def _check_nonempty_array(value: Any, parameter: str) -> list[Any]:
    if not isinstance(value, list):
        _invalid(parameter, f"Invalid value for {parameter}: must be an array.", type_="array")
    if not value:
        _invalid(parameter, f"Invalid value for {parameter}: must not be empty.", type_="array", min_=1)
    return value


# --- parameter checks, in reporting order --------------------------------------------------------


def _check_model(task: Mapping[str, Any]) -> None:
    if not _present(task, "model"):
        _fail("missingModel", "Missing required parameter: model.", "model", type_="string")
    value = task["model"]
    if not isinstance(value, str):
        _invalid("model", "Invalid value for model: must be a string.", type_="string")
    if value != model.MODEL_ID:
        _fail(
            "unsupportedModel",
            f"Unsupported model {value!r} for this emulator.",
            "model",
            type_="string",
            allowed=[model.MODEL_ID],
        )


def _check_prompts(task: Mapping[str, Any]) -> None:
    if _present(task, "positivePrompt"):
        _check_str(task["positivePrompt"], "positivePrompt", 1, model.POSITIVE_PROMPT_MAX)
    if _present(task, "negativePrompt"):
        _check_str(task["negativePrompt"], "negativePrompt", 0, model.NEGATIVE_PROMPT_MAX)


def _check_dimensions(task: Mapping[str, Any]) -> None:
    for key in ("width", "height"):
        if _present(task, key) and not is_int(task[key]):
            _invalid(key, f"Invalid value for {key}: must be an integer.", type_="integer")
    if _present(task, "resolution"):
        _check_enum(task["resolution"], "resolution", model.RESOLUTIONS)


def _check_duration(task: Mapping[str, Any]) -> None:
    if not _present(task, "duration"):
        return
    value = task["duration"]
    if not is_int(value):
        _invalid("duration", "Invalid value for duration: must be an integer.", type_="integer")
    if not model.DURATION_MIN <= value <= model.DURATION_MAX:
        _unsupported_duration(model.DURATION_MAX)


def _unsupported_duration(maximum: int) -> NoReturn:
    # Field for field Runware's documented example: "type": "float" (the API reference's type for
    # duration, although the model page says integer) and no min/max beside allowedValues.
    _fail(
        "unsupportedDuration",
        "Invalid value for duration parameter. This duration is not supported by the model architecture.",
        "duration",
        type_="float",
        allowed=list(range(model.DURATION_MIN, maximum + 1)),
    )


def _check_seed_and_count(task: Mapping[str, Any]) -> None:
    if _present(task, "seed"):
        _check_int(task["seed"], "seed", 0, model.SEED_MAX)
    if _present(task, "numberResults"):
        _check_int(task["numberResults"], "numberResults", 1, model.NUMBER_RESULTS_MAX)


def _check_api_options(task: Mapping[str, Any]) -> None:
    if _present(task, "deliveryMethod"):
        _check_enum(task["deliveryMethod"], "deliveryMethod", ("async",))
    if _present(task, "outputType"):
        _check_enum(task["outputType"], "outputType", ("URL",))
    if _present(task, "outputFormat"):
        _check_enum(task["outputFormat"], "outputFormat", model.OUTPUT_FORMATS)
    if _present(task, "outputQuality"):
        _check_int(task["outputQuality"], "outputQuality", model.OUTPUT_QUALITY_MIN, model.OUTPUT_QUALITY_MAX)
    for key in ("webhookURL", "uploadEndpoint"):
        if _present(task, key):
            _check_url(task[key], key)
    if _present(task, "ttl"):
        _check_int(task["ttl"], "ttl", model.TTL_MIN, None)
    if _present(task, "includeCost"):
        _check_bool(task["includeCost"], "includeCost")


def _check_safety(task: Mapping[str, Any]) -> None:
    if not _present(task, "safety"):
        return
    safety = _check_object(task["safety"], "safety", SAFETY_KEYS)
    if _present(safety, "checkContent"):
        _check_bool(safety["checkContent"], "safety.checkContent")
    if _present(safety, "mode"):
        _check_enum(safety["mode"], "safety.mode", ("none", "fast", "full"))


def frame_positions(frame_images: Sequence[Mapping[str, Any]]) -> list[str]:
    """Positions ("first"/"last") after the model page's automatic assignment.

    Explicit positions are kept; items without ``frame`` take the free positions in order
    (first, then last). Only meaningful for a structurally valid list of 1..2 items.
    """
    explicit: list[str | None] = []
    for item in frame_images:
        frame = item.get("frame")
        if frame is None:
            explicit.append(None)
        else:
            explicit.append(_FIRST if frame in (_FIRST, 0) else _LAST)
    free = [p for p in (_FIRST, _LAST) if p not in explicit]
    return [p if p is not None else (free.pop(0) if free else _LAST) for p in explicit]


def _check_frame_images(value: Any) -> None:
    base = "inputs.frameImages"
    if not isinstance(value, list):
        _invalid(base, f"Invalid value for {base}: must be an array.", type_="array")
    if not 1 <= len(value) <= 2:
        _invalid(base, f"Invalid value for {base}: must hold 1 or 2 items.", type_="array", min_=1, max_=2)
    seen: set[str] = set()
    for index, item in enumerate(value):
        path = f"{base}[{index}]"
        _check_object(item, path, FRAME_IMAGE_KEYS)
        if not _present(item, "image"):
            _fail(
                "missingImage", f"Missing required parameter: {path}.image.", f"{path}.image", type_="string"
            )
        image = item["image"]
        if not isinstance(image, str) or not image:
            _invalid(
                f"{path}.image",
                f"Invalid value for {path}.image: must be a non-empty string.",
                type_="string",
            )
        frame = item.get("frame")
        if frame is None:
            continue
        if not (
            (isinstance(frame, str) and frame in (_FIRST, _LAST)) or (is_int(frame) and frame in (0, -1))
        ):
            _fail(
                "unsupportedFrame",
                f"Invalid value for {path}.frame. Allowed values: first, last, 0, -1.",
                f"{path}.frame",
                allowed=FRAME_VALUES,
            )
        position = _FIRST if frame in (_FIRST, 0) else _LAST
        if position in seen:
            _invalid(
                f"{path}.frame",
                f"Invalid value for {path}.frame: two frame images target the {position} frame.",
                allowed=FRAME_VALUES,
            )
        seen.add(position)


def _check_media_list(value: Any, parameter: str, *, uuid_or_url_only: bool) -> None:
    items = _check_nonempty_array(value, parameter)
    for index, item in enumerate(items):
        path = f"{parameter}[{index}]"
        if not isinstance(item, str) or not item:
            _invalid(path, f"Invalid value for {path}: must be a non-empty string.", type_="string")
        if uuid_or_url_only and not (is_uuid(item) or is_http_url(item)):
            _invalid(
                path, f"Invalid value for {path}: must be a media UUID or an http(s) URL.", type_="string"
            )


def _check_inputs(task: Mapping[str, Any]) -> None:
    if not _present(task, "inputs"):
        return
    inputs = _check_object(task["inputs"], "inputs", INPUT_KEYS)
    if _present(inputs, "referenceImages"):
        _check_media_list(inputs["referenceImages"], "inputs.referenceImages", uuid_or_url_only=False)
    if _present(inputs, "frameImages"):
        _check_frame_images(inputs["frameImages"])
    if _present(inputs, "referenceVideos"):
        _check_media_list(inputs["referenceVideos"], "inputs.referenceVideos", uuid_or_url_only=True)
    if _present(inputs, "audio"):
        audio = inputs["audio"]
        if not (is_uuid(audio) or is_http_url(audio)):
            _invalid(
                "inputs.audio",
                "Invalid value for inputs.audio: must be a media UUID or an http(s) URL.",
                type_="string",
            )


def _check_settings(task: Mapping[str, Any]) -> None:
    if not _present(task, "settings"):
        return
    settings = _check_object(task["settings"], "settings", SETTINGS_KEYS)
    if _present(settings, "audio"):
        _check_bool(settings["audio"], "settings.audio")
    if _present(settings, "promptEnhancer"):
        _check_bool(settings["promptEnhancer"], "settings.promptEnhancer")
    if _present(settings, "shotType"):
        _check_enum(settings["shotType"], "settings.shotType", ("single", "multi"))


_PARAMETER_CHECKS: tuple[Callable[[Mapping[str, Any]], None], ...] = (
    _check_model,
    _check_prompts,
    _check_dimensions,
    _check_duration,
    _check_seed_and_count,
    _check_api_options,
    _check_safety,
    _check_inputs,
    _check_settings,
)


# --- cross-field rules ---------------------------------------------------------------------------


def _check_cross_field(task: Mapping[str, Any], resolution_must_match_size: bool) -> None:
    inputs: Mapping[str, Any] = task["inputs"] if _present(task, "inputs") else {}
    has_frames = _present(inputs, "frameImages")
    has_ref_images = _present(inputs, "referenceImages")
    has_ref_videos = _present(inputs, "referenceVideos")
    has_width, has_height = _present(task, "width"), _present(task, "height")

    if not has_frames and not _present(task, "positivePrompt"):
        _fail(
            "missingPositivePrompt",
            "Missing required parameter: positivePrompt (required when inputs.frameImages is not provided).",
            "positivePrompt",
            type_="string",
        )

    if has_frames and (has_width or has_height):
        key = "width" if has_width else "height"
        _fail(
            "incompatibleParameters",
            "Provide exactly one of inputs.frameImages or width/height, not both.",
            key,
            type_="integer",
        )
    if not has_frames and not (has_width and has_height):
        key = "height" if has_width else "width"
        _fail(
            "missing" + _leaf(key),
            f"Missing required parameter: {key}. Provide exactly one of inputs.frameImages or width/height.",
            key,
            type_="integer",
        )

    if has_width and has_height:
        tier = model.tier_of_size(task["width"], task["height"])
        if tier is None:
            _fail(
                "unsupportedDimensions",
                f"Unsupported dimensions {task['width']}x{task['height']}. Use one of the supported presets.",
                "width",
                type_="integer",
                allowed=model.PRESET_NAMES,
            )
        if resolution_must_match_size and _present(task, "resolution") and task["resolution"] != tier:
            _fail(
                "incompatibleParameters",
                f"resolution {task['resolution']!r} does not match the {tier} tier of "
                f"{task['width']}x{task['height']}.",
                "resolution",
                type_="string",
                allowed=[tier],
            )

    if has_frames and has_ref_images:
        _fail(
            "incompatibleParameters",
            "inputs.frameImages and inputs.referenceImages cannot be used together.",
            "inputs.frameImages",
            type_="array",
        )
    if has_frames and has_ref_videos:
        _fail(
            "incompatibleParameters",
            "inputs.frameImages and inputs.referenceVideos cannot be used together.",
            "inputs.frameImages",
            type_="array",
        )

    has_references = has_ref_images or has_ref_videos
    if (
        has_references
        and _present(task, "duration")
        and task["duration"] > model.DURATION_MAX_WITH_REFERENCES
    ):
        _unsupported_duration(model.DURATION_MAX_WITH_REFERENCES)

    settings: Mapping[str, Any] = task["settings"] if _present(task, "settings") else {}
    if _present(settings, "shotType") and not has_references:
        _fail(
            "incompatibleParameters",
            "settings.shotType requires inputs.referenceImages or inputs.referenceVideos.",
            "settings.shotType",
            type_="string",
        )


# --- entry points --------------------------------------------------------------------------------


def check_task_uuid(task: Mapping[str, Any]) -> None:
    """Raise ``_Invalid`` unless ``taskUUID`` is present and a UUID v4 string."""
    if not _present(task, "taskUUID"):
        _fail("missingTaskUUID", "Missing required parameter: taskUUID.", "taskUUID", type_="string")
    if not is_uuid_v4(task["taskUUID"]):
        _invalid("taskUUID", "Invalid value for taskUUID: must be a UUID v4 string.", type_="string")


def _validate(task: Any, resolution_must_match_size: bool) -> None:
    if not isinstance(task, dict):
        _fail("invalidTask", "Each task must be a JSON object.", None, type_="object")
    if not _present(task, "taskType"):
        _fail("missingTaskType", "Missing required parameter: taskType.", "taskType", type_="string")
    if task["taskType"] != TASK_TYPE:
        _fail(
            "unsupportedTaskType",
            "This validator only handles videoInference.",
            "taskType",
            allowed=[TASK_TYPE],
        )
    check_task_uuid(task)
    _check_unknown_keys(task, TOP_LEVEL_KEYS, "")
    for check in _PARAMETER_CHECKS:
        check(task)
    _check_cross_field(task, resolution_must_match_size)


def validate_video_inference(task: Any, *, resolution_must_match_size: bool = True) -> list[ErrorDict]:
    """Errors for one ``videoInference`` task: ``[]`` when valid, else exactly one error dict.

    Errors have the shape of Runware's documented submit error: no ``taskType``, ``taskUUID`` when
    the task has a string one. ``resolution_must_match_size=False`` drops the one rule that is not
    on the model page (``resolution`` naming another tier than width x height).
    """
    try:
        _validate(task, resolution_must_match_size)
    except _Invalid as invalid:
        error = invalid.error
        if isinstance(task, dict) and isinstance(task.get("taskUUID"), str):
            error["taskUUID"] = task["taskUUID"]
        return [error]
    return []


def run_check(check: Callable[[], None]) -> ErrorDict | None:
    """Run a check built from this module's helpers and return its error, if any (used by server)."""
    try:
        check()
    except _Invalid as invalid:
        return invalid.error
    return None


# Helpers the server reuses for its other task types (kept here so there is one JSON-type policy).
fail = _fail
check_unknown_keys = _check_unknown_keys
check_enum = _check_enum
present = _present
