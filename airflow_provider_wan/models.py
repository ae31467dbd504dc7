"""The validated Wan2.7 ``videoInference`` request: snake_case in Python, camelCase JSON on the wire.

:class:`WanVideoRequest` enforces every rule of the Wan2.7 model page *before* any HTTP request, so a
bad request fails in milliseconds with an :class:`~airflow_provider_wan.errors.InvalidRequestError`
naming the offending **wire** parameter (``positivePrompt``, ``inputs.frameImages[1].frame`` ...)
instead of costing a round trip (or money).

Resolution vs width/height
--------------------------
Wan2.7 renders at two tiers, 720p and 1080p, in a fixed set of sizes (:data:`SIZE_PRESETS`).

* **Text-to-video and reference-to-video** (no ``frame_images``): ``width`` and ``height`` are
  required, together, and must be one of the 10 presets. The preset fixes both the aspect ratio and the
  tier. ``resolution`` is optional and redundant; if given it must name the preset's tier
  (``resolution="720p"`` with ``1920x1080`` is rejected with code ``incompatibleParameters``).
* **Image-to-video** (``frame_images`` given): ``width``/``height`` are forbidden because the aspect
  ratio follows the input frame image; ``resolution`` picks the tier (default ``1080p``).

:attr:`WanVideoRequest.tier` applies exactly this policy; pricing (``pricing.py``) and the emulator
rely on it.

Validation order
----------------
Deterministic, so that the first reported violation is predictable: (1) unknown keys at any level,
(2) per-field type/range checks in field declaration order, (3) cross-field rules in the order of the
model page (prompt required, frameImages xor width/height, size preset, resolution tier, duration with
references, frameImages vs references, shotType needs references).

Typing modes
------------
Python construction (``WanVideoRequest(...)``, ``model_validate``, :meth:`WanVideoRequest.from_any`) is
*lax* because Airflow templates render strings: ``"5"`` becomes ``5``, ``"true"`` becomes ``True``,
``"mp4"`` becomes ``"MP4"``. :meth:`WanVideoRequest.from_wire` is *strict* JSON typing, like the API:
integers must be JSON integers, booleans JSON booleans, enum values exact.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, NoReturn, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from typing_extensions import Self

from airflow_provider_wan.errors import InvalidRequestError

__all__ = [
    "ALLOWED_SIZES",
    "DEFAULT_DURATION",
    "DEFAULT_NUMBER_RESULTS",
    "DEFAULT_OUTPUT_FORMAT",
    "DEFAULT_RESOLUTION",
    "DELIVERY_METHOD",
    "DURATION_MAX",
    "DURATION_MAX_WITH_REFERENCES",
    "DURATION_MIN",
    "FRAME_VALUES",
    "MODEL_ID",
    "OUTPUT_FORMATS",
    "RESOLUTIONS",
    "SAFETY_MODES",
    "SHOT_TYPES",
    "SIZE_PRESETS",
    "TASK_TYPE",
    "WIRE_PATHS",
    "FrameImage",
    "FramePosition",
    "SizePreset",
    "Tier",
    "WanVideoRequest",
    "is_uuid",
    "is_uuid4",
    "parse_request_text",
    "preset_for_size",
    "tier_of_size",
    "truncate_for_log",
]

MODEL_ID: Final = "alibaba:wan@2.7"
TASK_TYPE: Final = "videoInference"
DELIVERY_METHOD: Final = "async"  # the only delivery method Wan2.7 accepts

Tier = Literal["720p", "1080p"]
OutputType = Literal["URL"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]
ShotType = Literal["single", "multi"]
SafetyMode = Literal["none", "fast", "full"]
FramePosition = Literal["first", "last", 0, -1]
ResolvedPosition = Literal["first", "last"]

RESOLUTIONS: Final[tuple[Tier, ...]] = ("720p", "1080p")
OUTPUT_TYPES: Final[tuple[OutputType, ...]] = ("URL",)
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = ("MP4", "WEBM", "MOV")
SHOT_TYPES: Final[tuple[ShotType, ...]] = ("single", "multi")
SAFETY_MODES: Final[tuple[SafetyMode, ...]] = ("none", "fast", "full")
FRAME_VALUES: Final[tuple[FramePosition, ...]] = ("first", "last", 0, -1)

# Ranges from the model page.
POSITIVE_PROMPT_MAX: Final = 5000
NEGATIVE_PROMPT_MAX: Final = 500
DURATION_MIN: Final = 2
DURATION_MAX: Final = 15
DURATION_MAX_WITH_REFERENCES: Final = 10
SEED_MAX: Final = 2_147_483_647
NUMBER_RESULTS_MAX: Final = 20
OUTPUT_QUALITY_MIN: Final = 20
OUTPUT_QUALITY_MAX: Final = 99
TTL_MIN: Final = 60
FRAME_IMAGES_MAX: Final = 2

# Server-side defaults, used by the ``effective_*`` properties and pricing.
DEFAULT_DURATION: Final = 5
DEFAULT_NUMBER_RESULTS: Final = 1
DEFAULT_RESOLUTION: Final[Tier] = "1080p"
DEFAULT_OUTPUT_FORMAT: Final[OutputFormat] = "MP4"


@dataclass(frozen=True)
class SizePreset:
    """One of the 10 output sizes Wan2.7 supports (model page, "dimension combinations")."""

    name: str
    width: int
    height: int
    tier: Tier
    aspect: str

    @property
    def size(self) -> str:
        """``"1280x720"``: the form used in error messages and ``allowed_values``."""
        return f"{self.width}x{self.height}"


_PRESET_LIST: Final[tuple[SizePreset, ...]] = (
    SizePreset("720p_16_9", 1280, 720, "720p", "16:9"),
    SizePreset("720p_9_16", 720, 1280, "720p", "9:16"),
    SizePreset("720p_1_1", 960, 960, "720p", "1:1"),
    SizePreset("720p_4_3", 1088, 832, "720p", "~4:3"),
    SizePreset("720p_3_4", 832, 1088, "720p", "~3:4"),
    SizePreset("1080p_16_9", 1920, 1080, "1080p", "16:9"),
    SizePreset("1080p_9_16", 1080, 1920, "1080p", "9:16"),
    SizePreset("1080p_1_1", 1440, 1440, "1080p", "1:1"),
    SizePreset("1080p_4_3", 1632, 1248, "1080p", "~4:3"),
    SizePreset("1080p_3_4", 1248, 1632, "1080p", "~3:4"),
)
#: The 10 presets by name (``"720p_16_9"`` ... ``"1080p_3_4"``), in model-page order. Read-only.
SIZE_PRESETS: Final[Mapping[str, SizePreset]] = MappingProxyType({p.name: p for p in _PRESET_LIST})
_PRESET_BY_SIZE: Final[Mapping[tuple[int, int], SizePreset]] = MappingProxyType(
    {(p.width, p.height): p for p in _PRESET_LIST}
)
#: ``("1280x720", "720x1280", ...)``: the ``allowed_values`` of a size error.
ALLOWED_SIZES: Final[tuple[str, ...]] = tuple(p.size for p in _PRESET_LIST)


def preset_for_size(width: int, height: int) -> SizePreset | None:
    """The preset with exactly these dimensions, or ``None``."""
    return _PRESET_BY_SIZE.get((width, height))


def tier_of_size(width: int, height: int) -> Tier:
    """``"720p"`` or ``"1080p"`` for a preset size; :class:`InvalidRequestError` for any other size."""
    preset = preset_for_size(width, height)
    if preset is None:
        _fail("width", f"{width}x{height} is not a supported Wan2.7 size", allowed=ALLOWED_SIZES)
    return preset.tier


# Field name -> wire path. The single source of truth for to_wire(), from_wire() and error paths;
# its order is the validation order and the key order of to_wire().
_WIRE: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "positive_prompt": ("positivePrompt",),
        "negative_prompt": ("negativePrompt",),
        "width": ("width",),
        "height": ("height",),
        "resolution": ("resolution",),
        "duration": ("duration",),
        "seed": ("seed",),
        "number_results": ("numberResults",),
        "output_type": ("outputType",),
        "output_format": ("outputFormat",),
        "output_quality": ("outputQuality",),
        "webhook_url": ("webhookURL",),
        "upload_endpoint": ("uploadEndpoint",),
        "ttl": ("ttl",),
        "include_cost": ("includeCost",),
        "reference_images": ("inputs", "referenceImages"),
        "frame_images": ("inputs", "frameImages"),
        "reference_videos": ("inputs", "referenceVideos"),
        "audio": ("inputs", "audio"),
        "generate_audio": ("settings", "audio"),
        "prompt_enhancer": ("settings", "promptEnhancer"),
        "shot_type": ("settings", "shotType"),
        "check_content": ("safety", "checkContent"),
        "safety_mode": ("safety", "mode"),
    }
)
#: Field name -> dotted wire path (``"reference_images"`` -> ``"inputs.referenceImages"``).
WIRE_PATHS: Final[Mapping[str, str]] = MappingProxyType({k: ".".join(v) for k, v in _WIRE.items()})
_FIELD_BY_WIRE: Final[Mapping[tuple[str, ...], str]] = MappingProxyType({v: k for k, v in _WIRE.items()})
_GROUPS: Final[tuple[str, ...]] = ("inputs", "settings", "safety")
_GROUP_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {g: frozenset(path[1] for path in _WIRE.values() if path[0] == g) for g in _GROUPS}
)
_META_KEYS: Final[frozenset[str]] = frozenset({"taskType", "taskUUID", "model", "deliveryMethod"})
_TOP_WIRE_KEYS: Final[frozenset[str]] = frozenset(
    {path[0] for path in _WIRE.values() if len(path) == 1} | set(_GROUPS) | _META_KEYS
)
_FRAME_KEYS: Final[frozenset[str]] = frozenset({"image", "frame"})
# Wire keys that can never be a snake_case field name: their presence marks a dict as wire JSON.
_WIRE_ONLY_KEYS: Final[frozenset[str]] = _TOP_WIRE_KEYS - set(_WIRE)

_UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_UUID4_RE: Final = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)
_LAX_INT_RE: Final = re.compile(r"^[+-]?\d+$")
_LAX_BOOLS: Final[Mapping[str, bool]] = MappingProxyType(
    {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
)

# from_wire() switches the validators below to strict JSON typing for the duration of one construction.
# A ContextVar (not pydantic's validation context) because pydantic routes model_validate through our
# custom __init__, which drops the context; a ContextVar is also safe across threads and asyncio tasks.
_STRICT: ContextVar[bool] = ContextVar("wan_strict_wire_typing", default=False)

_LOG_MAX_CHARS: Final = 64
_LOG_PREFIX_CHARS: Final = 40


def is_uuid(value: object) -> bool:
    """Canonical 8-4-4-4-12 hex UUID string, any version (media UUIDs)."""
    return isinstance(value, str) and _UUID_RE.match(value) is not None


def is_uuid4(value: object) -> bool:
    """Canonical UUID string with version 4 and RFC 4122 variant, as Runware requires for taskUUID."""
    return isinstance(value, str) and _UUID4_RE.match(value) is not None


def _is_http_url(value: str) -> bool:
    """Absolute ``http(s)://host...`` URL without whitespace."""
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def truncate_for_log(value: str, limit: int = _LOG_MAX_CHARS) -> str:
    """``value`` itself, or its prefix plus ``...(N chars)`` when longer than ``limit`` (base64 payloads)."""
    if len(value) <= limit:
        return value
    return f"{value[:_LOG_PREFIX_CHARS]}...({len(value)} chars)"


def _shown(value: Any) -> str:
    return repr(truncate_for_log(value)) if isinstance(value, str) else repr(value)


def _fail(
    parameter: str,
    message: str,
    *,
    allowed: Sequence[Any] | None = None,
    code: str = "invalidParameter",
    **details: Any,
) -> NoReturn:
    raise InvalidRequestError(
        message, parameter=parameter, allowed_values=allowed, code=code, details=details or None
    )


def parse_request_text(text: str) -> Any:
    """The value a string ``request`` holds: JSON, else a Python literal (the caller checks it is a dict).

    A templated ``request="{{ ti.xcom_pull('prep') }}"`` renders a dict as its Python repr
    (``{'positive_prompt': 'x', 'generate_audio': True}``) unless the DAG sets
    ``render_template_as_native_obj=True``, so JSON alone would refuse it. :func:`ast.literal_eval` reads
    literals only (strings, numbers, lists, tuples, dicts, sets, booleans, ``None``): never names, calls
    or attributes, so a string cannot run code.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the decoder goes
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        _fail("request", "a string request must be a JSON object or a Python dict literal")


def _type_name(value: Any) -> str:
    """JSON-ish name of a value's type for error messages (never the value: it may be megabytes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


# ----------------------------------------------------------------------------------------------------
# Scalar coercion: one function per JSON type, strict (wire) or lax (Python/Airflow templates).
# ----------------------------------------------------------------------------------------------------


def _as_str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        _fail(param, f"must be a string, got {_type_name(value)}")
    return value


def _as_int(value: Any, param: str, strict: bool) -> int:
    # bool is an int subclass in Python but never a valid JSON integer here, in either mode.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not strict:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _LAX_INT_RE.match(value.strip()):
            return int(value.strip())
    _fail(param, f"must be an integer, got {_type_name(value)}")


def _as_bool(value: Any, param: str, strict: bool) -> bool:
    if isinstance(value, bool):
        return value
    if not strict and isinstance(value, str) and value.strip().lower() in _LAX_BOOLS:
        return _LAX_BOOLS[value.strip().lower()]
    _fail(param, f"must be a boolean, got {_type_name(value)}", allowed=[True, False])


def _as_choice(value: Any, param: str, allowed: Sequence[str], strict: bool) -> str:
    if isinstance(value, str):
        if value in allowed:
            return value
        if not strict:  # "mp4" from a template means "MP4"
            folded = value.strip().lower()
            for choice in allowed:
                if choice.lower() == folded:
                    return choice
        _fail(param, f"must be one of {', '.join(allowed)}", allowed=allowed)
    _fail(param, f"must be a string, one of {', '.join(allowed)}; got {_type_name(value)}", allowed=allowed)


def _as_list(value: Any, param: str, strict: bool) -> list[Any]:
    if isinstance(value, list) or (not strict and isinstance(value, tuple)):
        return list(value)
    _fail(param, f"must be an array, got {_type_name(value)}")


def _in_range(value: int, param: str, low: int, high: int | None) -> int:
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        _fail(param, f"must be {bounds}, got {value}", min=low, max=high)
    return value


def _as_frame(value: Any, param: str, strict: bool) -> FramePosition:
    allowed_text = "first, last, 0 or -1"
    if isinstance(value, str):
        if value in ("first", "last"):
            return cast(FramePosition, value)
        if not strict:
            folded = value.strip().lower()
            if folded in ("first", "last"):
                return cast(FramePosition, folded)
            if folded in ("0", "-1"):
                return cast(FramePosition, int(folded))
    elif isinstance(value, int) and not isinstance(value, bool) and value in (0, -1):
        return cast(FramePosition, value)
    _fail(param, f"must be {allowed_text}", allowed=FRAME_VALUES)


def _resolve_position(frame: FramePosition) -> ResolvedPosition:
    return "first" if frame in ("first", 0) else "last"


def _check_unknown_keys(data: Mapping[Any, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            # An empty or non-string key is named by its repr, so the parameter is never blank.
            where = f"{prefix}{key}" if isinstance(key, str) and key else f"{prefix}{key!r}"
            _fail(
                where,
                f"unknown parameter; allowed here: {', '.join(sorted(allowed))}",
                allowed=sorted(allowed),
                code="unknownParameter",
            )


def _frame_fields(item: Any, path: str, strict: bool) -> tuple[str, FramePosition | None]:
    """(image, frame) of one ``frameImages`` item: a FrameImage, a dict, or (lax) a plain string."""
    if isinstance(item, FrameImage):
        return item.image, item.frame
    if isinstance(item, str) and not strict:
        image: Any = item
        frame: Any = None
    elif isinstance(item, Mapping):
        _check_unknown_keys(item, _FRAME_KEYS, f"{path}.")
        image, frame = item.get("image"), item.get("frame")
    else:
        _fail(path, f"must be an object {{image, frame}}, got {_type_name(item)}")
    if image is None:
        _fail(f"{path}.image", "is required (UUID, URL, data URI or base64)", code="missingParameter")
    if not _as_str(image, f"{path}.image"):
        _fail(f"{path}.image", "must be a non-empty string (UUID, URL, data URI or base64)")
    return image, None if frame is None else _as_frame(frame, f"{path}.frame", strict)


def _media_ref(value: Any, param: str, what: str) -> str:
    text = _as_str(value, param)
    if not (is_uuid(text) or _is_http_url(text)):
        _fail(param, f"{what} must be a UUID or an http(s) URL, got {_shown(text)}")
    return text


def _http_url(value: Any, param: str) -> str:
    text = _as_str(value, param)
    if not _is_http_url(text):
        _fail(param, f"must be an absolute http(s) URL, got {_shown(text)}")
    return text


# ----------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------


class _WanModel(BaseModel):
    """Frozen, extra="forbid", and raising :class:`InvalidRequestError` instead of ValidationError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Prefix for the wire path of this model's fields in errors that pydantic itself reports.
    _wire_prefix: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        # pydantic routes model_validate / model_validate_json / model_validate_strings through a custom
        # __init__, so this one conversion covers every entry point.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _convert_validation_error(exc, type(self)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        # Belt and braces should a pydantic release stop routing validation through __init__.
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _convert_validation_error(exc, cls) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise _convert_validation_error(exc, cls) from None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Unset fields are noise and long strings (base64 images) must never reach a task log in full.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, list):
                yield name, _Raw("[" + ", ".join(_shown(v) for v in value) + "]")
            elif isinstance(value, str):
                yield name, _Raw(_shown(value))
            else:
                yield name, value


class _Raw:
    """A pre-rendered repr for ``__repr_args__``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _convert_validation_error(exc: ValidationError, model: type[BaseModel]) -> InvalidRequestError:
    """Our validators' InvalidRequestError (wrapped by pydantic as a value_error), or a wire-path copy."""
    errors = exc.errors()
    for error in errors:
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, InvalidRequestError):
            return original
    # Only reachable if a value slips past our own checks: map pydantic's loc to a wire path.
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    path = ""
    for part in first.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = str(part)
            if not path:
                name = WIRE_PATHS.get(name, name) if model is WanVideoRequest else name
                prefix = getattr(model, "_wire_prefix", "")
                path = f"{prefix}{name}"
            else:
                path += f".{name}"
    return InvalidRequestError(str(first.get("msg", "invalid value")), parameter=path or "request")


class FrameImage(_WanModel):
    """A key frame: ``image`` (UUID, URL, data URI or base64) and optional ``frame`` position.

    ``frame`` is ``"first"``/``0`` or ``"last"``/``-1``; when omitted, the position follows the model
    page's automatic rule (see :attr:`WanVideoRequest.frame_positions`).
    """

    _wire_prefix: ClassVar[str] = "inputs.frameImages."

    image: str
    frame: FramePosition | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, FrameImage):
            return data
        image, frame = _frame_fields(data, "inputs.frameImages", _STRICT.get())
        return {"image": image, "frame": frame}

    @property
    def position(self) -> ResolvedPosition | None:
        """``"first"``/``"last"`` for an explicit ``frame``, ``None`` when automatic."""
        return None if self.frame is None else _resolve_position(self.frame)

    def to_wire(self) -> dict[str, Any]:
        """``{"image": ...}`` plus ``"frame"`` when given."""
        out: dict[str, Any] = {"image": self.image}
        if self.frame is not None:
            out["frame"] = self.frame
        return out


class WanVideoRequest(_WanModel):
    """A Wan2.7 ``videoInference`` request (``alibaba:wan@2.7``), validated against the model page.

    All fields are optional snake_case counterparts of wire parameters (:data:`WIRE_PATHS`);
    ``include_cost`` defaults to ``True`` so that every result reports what it cost.
    Construction raises :class:`~airflow_provider_wan.errors.InvalidRequestError` for any violation,
    with ``parameter`` set to the wire path.

    Resolution vs width/height: ``width``/``height`` (one of :data:`SIZE_PRESETS`) are required unless
    ``frame_images`` is given; with ``frame_images`` they are forbidden and ``resolution`` picks the tier
    (the aspect ratio follows the frame image). ``resolution`` may accompany ``width``/``height`` only if
    it names the preset's tier. :attr:`tier` implements this; see the module docstring.

    Instances are immutable; use :meth:`replace` for a re-validated modified copy (``model_copy`` does
    not validate).
    """

    positive_prompt: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    resolution: Tier | None = None
    duration: int | None = None
    seed: int | None = None
    number_results: int | None = None
    output_type: OutputType | None = None
    output_format: OutputFormat | None = None
    output_quality: int | None = None
    webhook_url: str | None = None
    upload_endpoint: str | None = None
    ttl: int | None = None
    include_cost: bool = True
    reference_images: list[str] | None = None
    frame_images: list[FrameImage] | None = None
    reference_videos: list[str] | None = None
    audio: str | None = None
    generate_audio: bool | None = None
    prompt_enhancer: bool | None = None
    shot_type: ShotType | None = None
    check_content: bool | None = None
    safety_mode: SafetyMode | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, WanVideoRequest):
            return data
        if not isinstance(data, Mapping):
            _fail("request", f"must be an object of request parameters, got {_type_name(data)}")
        return _normalize(data, _STRICT.get())

    # ------------------------------------------------------------------------------------------------
    # Wire format
    # ------------------------------------------------------------------------------------------------

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]:
        """The camelCase JSON task for ``POST /v1`` (one element of the request array).

        ``taskUUID`` is included only when given (it must then be a UUID v4); unset fields are omitted;
        ``inputs`` / ``settings`` / ``safety`` appear only when they have content.
        """
        out: dict[str, Any] = {"taskType": TASK_TYPE}
        if task_uuid is not None:
            if not is_uuid4(task_uuid):
                _fail("taskUUID", f"must be a UUID version 4 string, got {_shown(task_uuid)}")
            out["taskUUID"] = task_uuid
        out["model"] = MODEL_ID
        out["deliveryMethod"] = DELIVERY_METHOD
        out["includeCost"] = self.include_cost
        for name, path in _WIRE.items():
            value = getattr(self, name)
            if value is None or name == "include_cost":
                continue
            if name == "frame_images":
                value = [item.to_wire() for item in value]
            elif isinstance(value, list):
                value = list(value)  # never hand out our own (shared) list
            if len(path) == 1:
                out[path[0]] = value
            else:
                out.setdefault(path[0], {})[path[1]] = value
        return out

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], *, strict: bool = True) -> WanVideoRequest:
        """Parse a camelCase task dict (as :meth:`to_wire` produces / the API receives).

        ``taskType``, ``model``, ``deliveryMethod`` and ``taskUUID`` are optional and checked when
        present (``taskUUID`` must be a UUID v4; it is not stored). JSON ``null`` means absent.
        Unknown keys at any level raise code ``unknownParameter``. ``strict=True`` (default) enforces
        JSON typing; :meth:`from_any` passes ``strict=False`` for templated user input.
        """
        if not isinstance(wire, Mapping):
            _fail("request", f"must be a JSON object, got {_type_name(wire)}")
        # (1) unknown keys at every level first.
        _check_unknown_keys(wire, _TOP_WIRE_KEYS, "")
        for group in _GROUPS:
            body = wire.get(group)
            if isinstance(body, Mapping):
                _check_unknown_keys(body, _GROUP_KEYS[group], f"{group}.")
        inputs = wire.get("inputs")
        frames = inputs.get("frameImages") if isinstance(inputs, Mapping) else None
        if isinstance(frames, list | tuple):
            for index, item in enumerate(frames):
                if isinstance(item, Mapping):
                    _check_unknown_keys(item, _FRAME_KEYS, f"inputs.frameImages[{index}].")
        # (2) the task envelope.
        _check_envelope(wire)
        # (3) flatten to snake_case fields; null means absent.
        fields: dict[str, Any] = {}
        for key, value in wire.items():
            if key in _META_KEYS or value is None:
                continue
            if key in _GROUPS:
                if not isinstance(value, Mapping):
                    _fail(key, f"must be an object, got {_type_name(value)}")
                for sub_key, sub_value in value.items():
                    if sub_value is not None:
                        fields[_FIELD_BY_WIRE[(key, sub_key)]] = sub_value
            else:
                fields[_FIELD_BY_WIRE[(key,)]] = value
        token = _STRICT.set(strict)
        try:
            return cls(**fields)
        finally:
            _STRICT.reset(token)

    @classmethod
    def from_any(cls, data: WanVideoRequest | Mapping[str, Any] | str) -> WanVideoRequest:
        """A request from whatever a user put in an operator's templated ``request`` argument.

        Accepts an instance (returned as is), a snake_case kwargs dict, a wire dict (recognised by
        ``taskType`` or any camelCase-only key such as ``positivePrompt`` or ``inputs``; parsed with lax
        typing since templates render strings), or a JSON string of either, or the Python repr of a dict
        (what Jinja renders from an XCom dict; see :func:`parse_request_text`).
        """
        if isinstance(data, WanVideoRequest):
            return data
        if isinstance(data, str):
            data = parse_request_text(data)
        if not isinstance(data, Mapping):
            _fail("request", f"must be an object of request parameters, got {_type_name(data)}")
        if any(key in _WIRE_ONLY_KEYS for key in data):
            return cls.from_wire(data, strict=False)
        for key in data:
            if not isinstance(key, str):
                _fail("request", f"parameter names must be strings, got {_type_name(key)}")
        return cls(**data)

    def replace(self, **changes: Any) -> WanVideoRequest:
        """A re-validated copy with some fields changed (``None`` unsets a field)."""
        values: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)(**values)

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical wire JSON (sorted keys, compact, no taskUUID).

        Equal requests have equal fingerprints however they were built; used for deterministic task
        UUIDs (idempotency) and to notice a changed request on retry.
        """
        canonical = json.dumps(self.to_wire(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------------------------------------
    # Convenience
    # ------------------------------------------------------------------------------------------------

    @property
    def effective_duration(self) -> int:
        """Seconds per output video (server default 5)."""
        return DEFAULT_DURATION if self.duration is None else self.duration

    @property
    def effective_number_results(self) -> int:
        """Videos this task produces (server default 1)."""
        return DEFAULT_NUMBER_RESULTS if self.number_results is None else self.number_results

    @property
    def output_seconds(self) -> int:
        """Billed output seconds: duration x numberResults."""
        return self.effective_duration * self.effective_number_results

    @property
    def size_preset(self) -> SizePreset | None:
        """The preset of ``width``/``height``, or ``None`` for image-to-video."""
        if self.width is None or self.height is None:
            return None
        return preset_for_size(self.width, self.height)

    @property
    def tier(self) -> Tier:
        """Output/billing tier: the preset's if width/height are set, else ``resolution`` (default 1080p)."""
        preset = self.size_preset
        if preset is not None:
            return preset.tier
        return self.resolution or DEFAULT_RESOLUTION

    @property
    def effective_output_format(self) -> OutputFormat:
        """Container of the outputs (server default MP4)."""
        return self.output_format or DEFAULT_OUTPUT_FORMAT

    @property
    def has_references(self) -> bool:
        """Whether reference images or reference videos are given (limits duration to 10 s)."""
        return bool(self.reference_images or self.reference_videos)

    @property
    def frame_positions(self) -> tuple[ResolvedPosition, ...]:
        """Resolved position of each frame image, in order (empty without frame images)."""
        return _frame_positions(self.frame_images or [])


def _frame_positions(items: Sequence[FrameImage]) -> tuple[ResolvedPosition, ...]:
    """Explicit frames keep their position; the others take the free ones (1 image: first; 2: first, last).

    Raises when two frames claim the same position (``"first"`` == ``0``, ``"last"`` == ``-1``).
    """
    explicit: dict[ResolvedPosition, int] = {}
    for index, item in enumerate(items):
        position = item.position
        if position is None:
            continue
        if position in explicit:
            _fail(
                f"inputs.frameImages[{index}].frame",
                f"frame position {position!r} is already taken by inputs.frameImages[{explicit[position]}]; "
                "frame positions must be distinct ('first' == 0, 'last' == -1)",
                allowed=FRAME_VALUES,
            )
        explicit[position] = index
    free: list[ResolvedPosition] = [p for p in ("first", "last") if p not in explicit]
    resolved: list[ResolvedPosition] = []
    for item in items:
        position = item.position
        resolved.append(position if position is not None else free.pop(0))
    return tuple(resolved)


def _check_envelope(wire: Mapping[str, Any]) -> None:
    """taskType / model / deliveryMethod / taskUUID of a wire task, when present."""
    task_type = wire.get("taskType")
    if task_type is not None and task_type != TASK_TYPE:
        _fail("taskType", f"must be {TASK_TYPE!r}", allowed=[TASK_TYPE])
    model = wire.get("model")
    if model is not None and model != MODEL_ID:
        _fail("model", f"must be {MODEL_ID!r} for this request model", allowed=[MODEL_ID])
    delivery = wire.get("deliveryMethod")
    if delivery is not None and delivery != DELIVERY_METHOD:
        _fail("deliveryMethod", "Wan2.7 supports asynchronous delivery only", allowed=[DELIVERY_METHOD])
    task_uuid = wire.get("taskUUID")
    if task_uuid is not None and not is_uuid4(task_uuid):
        _fail("taskUUID", "must be a UUID version 4 string")


def _normalize(data: Mapping[str, Any], strict: bool) -> dict[str, Any]:
    """Check every Wan2.7 rule on snake_case input; return clean, correctly typed field values."""
    # (1) unknown keys, including inside frame image objects.
    for key in data:
        if key not in _WIRE:
            hint = ""
            if isinstance(key, str) and key in _TOP_WIRE_KEYS:
                hint = " (that is a wire name: use the snake_case field or WanVideoRequest.from_wire())"
            _fail(
                key if isinstance(key, str) and key else repr(key),
                f"unknown parameter{hint}; allowed: {', '.join(_WIRE)}",
                allowed=list(_WIRE),
                code="unknownParameter",
            )
    frames_raw = data.get("frame_images")
    if isinstance(frames_raw, list | tuple):
        for index, item in enumerate(frames_raw):
            if isinstance(item, Mapping):
                _check_unknown_keys(item, _FRAME_KEYS, f"inputs.frameImages[{index}].")

    # (2) per-field checks, in declaration order. None means absent.
    v: dict[str, Any] = {k: val for k, val in data.items() if val is not None}
    out: dict[str, Any] = {}
    p = WIRE_PATHS

    if "positive_prompt" in v:
        text = _as_str(v["positive_prompt"], p["positive_prompt"])
        if not 1 <= len(text) <= POSITIVE_PROMPT_MAX:
            _fail(p["positive_prompt"], f"must be 1 to {POSITIVE_PROMPT_MAX} characters, got {len(text)}")
        out["positive_prompt"] = text
    if "negative_prompt" in v:
        text = _as_str(v["negative_prompt"], p["negative_prompt"])
        if len(text) > NEGATIVE_PROMPT_MAX:
            _fail(p["negative_prompt"], f"must be at most {NEGATIVE_PROMPT_MAX} characters, got {len(text)}")
        out["negative_prompt"] = text
    for name in ("width", "height"):
        if name in v:
            out[name] = _as_int(v[name], p[name], strict)
    if "resolution" in v:
        out["resolution"] = _as_choice(v["resolution"], p["resolution"], RESOLUTIONS, strict)
    if "duration" in v:
        out["duration"] = _in_range(
            _as_int(v["duration"], p["duration"], strict), p["duration"], DURATION_MIN, DURATION_MAX
        )
    if "seed" in v:
        out["seed"] = _in_range(_as_int(v["seed"], p["seed"], strict), p["seed"], 0, SEED_MAX)
    if "number_results" in v:
        out["number_results"] = _in_range(
            _as_int(v["number_results"], p["number_results"], strict),
            p["number_results"],
            1,
            NUMBER_RESULTS_MAX,
        )
    if "output_type" in v:
        out["output_type"] = _as_choice(v["output_type"], p["output_type"], OUTPUT_TYPES, strict)
    if "output_format" in v:
        out["output_format"] = _as_choice(v["output_format"], p["output_format"], OUTPUT_FORMATS, strict)
    if "output_quality" in v:
        out["output_quality"] = _in_range(
            _as_int(v["output_quality"], p["output_quality"], strict),
            p["output_quality"],
            OUTPUT_QUALITY_MIN,
            OUTPUT_QUALITY_MAX,
        )
    for name in ("webhook_url", "upload_endpoint"):
        if name in v:
            out[name] = _http_url(v[name], p[name])
    if "ttl" in v:
        out["ttl"] = _in_range(_as_int(v["ttl"], p["ttl"], strict), p["ttl"], TTL_MIN, None)
    if "include_cost" in v:
        out["include_cost"] = _as_bool(v["include_cost"], p["include_cost"], strict)
    if "reference_images" in v:
        images = _as_list(v["reference_images"], p["reference_images"], strict)
        if not images:
            _fail(p["reference_images"], "must contain at least one image (UUID, URL, data URI or base64)")
        for index, image in enumerate(images):
            path = f"{p['reference_images']}[{index}]"
            if not _as_str(image, path):
                _fail(path, "must be a non-empty string (UUID, URL, data URI or base64)")
        out["reference_images"] = images
    frames: list[FrameImage] | None = None
    if "frame_images" in v:
        items = _as_list(v["frame_images"], p["frame_images"], strict)
        if not 1 <= len(items) <= FRAME_IMAGES_MAX:
            _fail(p["frame_images"], f"must contain 1 or 2 frame images, got {len(items)}")
        frames = []
        for index, item in enumerate(items):
            image, frame = _frame_fields(item, f"{p['frame_images']}[{index}]", strict)
            frames.append(item if isinstance(item, FrameImage) else FrameImage(image=image, frame=frame))
        _frame_positions(frames)  # raises on two frames at the same position
        out["frame_images"] = frames
    if "reference_videos" in v:
        videos = _as_list(v["reference_videos"], p["reference_videos"], strict)
        if not videos:
            _fail(p["reference_videos"], "must contain at least one video (UUID or http(s) URL)")
        out["reference_videos"] = [
            _media_ref(video, f"{p['reference_videos']}[{index}]", "a reference video")
            for index, video in enumerate(videos)
        ]
    if "audio" in v:
        out["audio"] = _media_ref(v["audio"], p["audio"], "the input audio")
    for name in ("generate_audio", "prompt_enhancer"):
        if name in v:
            out[name] = _as_bool(v[name], p[name], strict)
    if "shot_type" in v:
        out["shot_type"] = _as_choice(v["shot_type"], p["shot_type"], SHOT_TYPES, strict)
    if "check_content" in v:
        out["check_content"] = _as_bool(v["check_content"], p["check_content"], strict)
    if "safety_mode" in v:
        out["safety_mode"] = _as_choice(v["safety_mode"], p["safety_mode"], SAFETY_MODES, strict)

    # (3) cross-field rules, in model-page order.
    has_frames = frames is not None
    has_refs = "reference_images" in out or "reference_videos" in out
    width, height = out.get("width"), out.get("height")
    if not has_frames and "positive_prompt" not in out:
        _fail(
            p["positive_prompt"], "is required when inputs.frameImages is not given", code="missingParameter"
        )
    preset: SizePreset | None = None
    if has_frames:
        if width is not None or height is not None:
            _fail(
                "width" if width is not None else "height",
                "provide exactly one of inputs.frameImages or width/height: with frame images the aspect "
                "ratio follows the image and resolution picks the tier",
                code="incompatibleParameters",
            )
    elif width is None and height is None:
        _fail(
            "width",
            "provide exactly one of inputs.frameImages or width/height (one of the supported sizes)",
            allowed=ALLOWED_SIZES,
            code="missingParameter",
        )
    elif width is None or height is None:
        missing = "height" if width is not None else "width"
        _fail(
            missing, "width and height must be given together", allowed=ALLOWED_SIZES, code="missingParameter"
        )
    else:
        preset = preset_for_size(width, height)
        if preset is None:
            _fail("width", f"{width}x{height} is not a supported Wan2.7 size", allowed=ALLOWED_SIZES)
    resolution = out.get("resolution")
    if preset is not None and resolution is not None and resolution != preset.tier:
        _fail(
            p["resolution"],
            f"resolution {resolution} contradicts the {preset.size} size, which is {preset.tier}",
            allowed=[preset.tier],
            code="incompatibleParameters",
        )
    duration = out.get("duration")
    if has_refs and duration is not None and duration > DURATION_MAX_WITH_REFERENCES:
        _fail(
            p["duration"],
            f"must be at most {DURATION_MAX_WITH_REFERENCES} when inputs.referenceImages or "
            f"inputs.referenceVideos is given, got {duration}",
            allowed=list(range(DURATION_MIN, DURATION_MAX_WITH_REFERENCES + 1)),
            code="unsupportedDuration",
        )
    if has_frames:
        for other in ("reference_images", "reference_videos"):
            if other in out:
                _fail(
                    p["frame_images"],
                    f"inputs.frameImages cannot be used together with {p[other]}",
                    code="incompatibleParameters",
                )
    if "shot_type" in out and not has_refs:
        _fail(
            p["shot_type"],
            "requires inputs.referenceImages or inputs.referenceVideos",
            code="incompatibleParameters",
        )
    return out
