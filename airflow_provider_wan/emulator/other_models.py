"""Models other than Wan2.7: generic ``videoInference`` checks, and the Wan family's field sets and ranges.

The family's data is the emulator's own reading of Runware's Python SDK types (``runware-sdk``,
``runware/types/task_map.py``); a test compares it with the installed SDK. Other AIR ids get the checks
every video model shares. Such jobs are rendered and charged as Wan2.7 at 720p, or 1080p when asked
(480p counts as 720p): the emulator knows no other price.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import model
from .errors import ErrorDict
from .inputs import MediaFacts
from .jobs import JobPlan
from .validation import check_enum, check_task_uuid, check_unknown_keys, fail, present, run_check

AIR: Final = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+")
DURATION_LIMIT: Final = 60  # generic sanity bound, in seconds
NUMBER_RESULTS_MAX: Final = 20


@dataclass(frozen=True)
class FamilyModel:
    """One Wan model: its top-level keys (envelope excluded), resolutions, durations and settings group."""

    keys: frozenset[str]
    resolutions: tuple[str, ...]
    durations: tuple[int, ...] | None  # None: any whole number of seconds
    string_durations: bool  # Wan 3.0 also takes durations such as "5"


_SHARED = frozenset(
    {"positivePrompt", "width", "height", "resolution", "duration", "seed", "inputs", "routing"}
    | {"numberResults", "ttl", "outputType", "outputFormat", "outputQuality", "safety", "includeCost"}
    | {"webhookURL", "uploadEndpoint"}
)
_WAN26 = frozenset({*_SHARED, "negativePrompt", "providerSettings"})
_WAN30 = frozenset({*_SHARED, "settings"})
FAMILY: Final[Mapping[str, FamilyModel]] = {
    "alibaba:wan@2.6": FamilyModel(_WAN26, ("720p", "1080p"), (5, 10, 15), False),
    "alibaba:wan@2.6-flash": FamilyModel(_WAN26, ("720p", "1080p"), None, False),
    "alibaba:wan@3.0": FamilyModel(_WAN30, ("480p", "720p", "1080p"), None, True),
    "alibaba:wan@3.0-prime": FamilyModel(_WAN30, ("480p", "720p", "1080p"), None, True),
}
_ENVELOPE = frozenset({"taskType", "taskUUID", "model", "deliveryMethod"})


def is_other_model(task: Any) -> bool:
    """A task for a model other than Wan2.7 (checked here, not by the Wan2.7 validator)."""
    return isinstance(task, dict) and isinstance(task.get("model"), str) and task["model"] != model.MODEL_ID


def validate_other_model(task: dict[str, Any]) -> list[ErrorDict]:
    error = run_check(lambda: _check(task))
    if error is None:
        return []
    if isinstance(task.get("taskUUID"), str):
        error["taskUUID"] = task["taskUUID"]
    return [error]


def _invalid(parameter: str, message: str) -> None:
    fail("invalidParameter", f"Invalid value for {parameter}: {message}", parameter)


def _check(task: dict[str, Any]) -> None:
    check_task_uuid(task)
    air = task["model"]
    if not AIR.fullmatch(air):
        _invalid("model", "must be an AIR id such as 'alibaba:wan@2.7'.")
    family = FAMILY.get(air)
    if family is not None:
        check_unknown_keys(task, family.keys | _ENVELOPE, "")
    if task.get("deliveryMethod") != "async":
        check_enum(task.get("deliveryMethod"), "deliveryMethod", ("async",))
    prompt, inputs = task.get("positivePrompt"), task.get("inputs")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        _invalid("positivePrompt", "must be a non-empty string.")
    if inputs is not None and not isinstance(inputs, dict):
        _invalid("inputs", "must be an object.")
    if prompt is None and not inputs:
        fail("missingPositivePrompt", "Missing required parameter: positivePrompt.", "positivePrompt")
    if present(task, "numberResults") and not _int_in(task["numberResults"], 1, NUMBER_RESULTS_MAX):
        _invalid("numberResults", f"must be an integer from 1 to {NUMBER_RESULTS_MAX}.")
    for key in ("width", "height"):
        if present(task, key) and not _int_in(task[key], 64, 4096):
            _invalid(key, "must be an integer from 64 to 4096.")
    if present(task, "outputFormat"):
        check_enum(task["outputFormat"], "outputFormat", tuple(model.CONTAINERS))
    if family is not None and present(task, "resolution"):
        check_enum(task["resolution"], "resolution", family.resolutions)
    if present(task, "duration"):
        _check_duration(task["duration"], family)
    _check_inputs(inputs or {})


def _int_in(value: Any, lo: int, hi: int) -> bool:
    return type(value) is int and lo <= value <= hi


def _check_duration(value: Any, family: FamilyModel | None) -> None:
    strings = family is None or family.string_durations
    if isinstance(value, str) and strings:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            _invalid("duration", "must be a number of seconds.")
        value = int(number) if number == int(number) else number
    whole = type(value) is int
    if not whole and (family is not None or type(value) is not float):
        _invalid("duration", "must be a whole number of seconds" + (" (or its string)." if strings else "."))
    if family is not None and family.durations is not None and value not in family.durations:
        allowed = ", ".join(str(d) for d in family.durations)
        fail(
            "unsupportedDuration",
            f"Invalid value for duration: must be one of {allowed}.",
            "duration",
            allowed=list(family.durations),
        )
    if not 0 < value <= DURATION_LIMIT:
        _invalid("duration", f"must be more than 0 and at most {DURATION_LIMIT}.")


def _check_inputs(inputs: Mapping[str, Any]) -> None:
    # Only the shapes the emulator reads (it fetches these media); other inputs pass through.
    for key in ("referenceImages", "referenceVideos"):
        value = inputs.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            _invalid(f"inputs.{key}", "must be an array of strings.")
    frames = inputs.get("frameImages")
    if frames is not None:
        if not isinstance(frames, list) or not 1 <= len(frames) <= 2:
            _invalid("inputs.frameImages", "must be an array of 1 or 2 objects.")
        for index, item in enumerate(frames):
            if not isinstance(item, dict) or not isinstance(item.get("image"), str):
                _invalid(f"inputs.frameImages[{index}].image", "must be a string.")
            if item.get("frame") not in (None, "first", "last"):
                check_enum(item["frame"], f"inputs.frameImages[{index}].frame", ("first", "last"))
    if inputs.get("audio") is not None and not isinstance(inputs["audio"], str):
        _invalid("inputs.audio", "must be a string.")


def plan_other(task: dict[str, Any], facts: MediaFacts) -> JobPlan:
    """Rendered and charged as Wan2.7 (720p unless 1080p is asked), in the requested aspect ratio."""
    width, height = task.get("width"), task.get("height")
    if isinstance(width, int) and isinstance(height, int):
        aspect: float | None = width / height
    else:
        size = facts.first_frame_size
        aspect = size[0] / size[1] if size else None
    tier = "1080p" if task.get("resolution") == "1080p" else "720p"
    width, height = model.closest_preset(tier, aspect)
    duration = task.get("duration")
    return JobPlan(
        width=width,
        height=height,
        tier=tier,
        duration=math.ceil(float(duration)) if duration is not None else model.DEFAULT_DURATION,
        output_format=task.get("outputFormat") or "MP4",
        audio=True,
        number_results=task.get("numberResults") or 1,
        input_video_seconds=round(facts.input_video_seconds, 3),
    )
