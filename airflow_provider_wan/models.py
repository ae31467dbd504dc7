"""The validated Wan2.7 ``videoInference`` request: snake_case in Python, camelCase JSON on the wire.

:class:`WanVideoRequest` enforces every rule of the Wan2.7 model page *before* any HTTP request, so a bad
request fails in milliseconds with an :class:`~airflow_provider_wan.errors.InvalidRequestError` naming the
offending **wire** parameter (``positivePrompt``, ``inputs.frameImages[1].frame`` ...).

* Field rules are pydantic constraints; each field's alias is its wire path (``inputs.referenceImages``).
  The wire form is ``model_dump(by_alias=True, exclude_none=True)`` with the groups nested, plus the
  task envelope (:meth:`WanVideoRequest.to_wire`); :meth:`WanVideoRequest.from_wire` is
  ``model_validate`` by alias.
* Cross-field rules run after the fields, in model-page order: prompt required without frame images,
  frameImages xor width/height, size preset, resolution tier, duration with references, frameImages vs
  references, shotType needs references. Unknown keys are reported before anything else.
* Resolution vs width/height: without ``frame_images``, ``width``/``height`` are required and must be one
  of the ten presets (:data:`SIZE_PRESETS`), which fix the tier; ``resolution`` may only repeat it. With
  ``frame_images`` the aspect ratio follows the image and ``resolution`` picks the tier (default 1080p).
  :attr:`WanVideoRequest.tier` applies this policy; pricing relies on it.
* Typing: Python construction (``WanVideoRequest(...)``, ``model_validate``, :meth:`~WanVideoRequest.
  from_any`) is lax because Airflow templates render strings (``"5"`` -> 5, ``"true"`` -> True, ``"mp4"``
  -> ``"MP4"``); :meth:`~WanVideoRequest.from_wire` is strict JSON typing, like the API.
* Media references (paths, ``s3://``, data URIs...) are accepted unresolved from Python; the wire accepts
  only what Runware takes. :attr:`~WanVideoRequest.unresolved_media` lists what must be resolved first.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal, cast
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_core import PydanticCustomError
from typing_extensions import Self

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.media.formats import MediaKind
from airflow_provider_wan.media.references import UNSUPPORTED_SCHEME, Reference, classify_reference, reference
from airflow_provider_wan.media.references import is_uuid as is_uuid
from airflow_provider_wan.presets import ALLOWED_SIZES as ALLOWED_SIZES
from airflow_provider_wan.presets import SIZE_PRESETS as SIZE_PRESETS
from airflow_provider_wan.presets import SizePreset as SizePreset
from airflow_provider_wan.presets import Tier as Tier
from airflow_provider_wan.presets import preset_for_size as preset_for_size

MODEL_ID: Final = "alibaba:wan@2.7"
TASK_TYPE: Final = "videoInference"
DELIVERY_METHOD: Final = "async"  # the only delivery method Wan2.7 accepts

OutputType = Literal["URL"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]
ShotType = Literal["single", "multi"]
SafetyMode = Literal["none", "fast", "full"]
FramePosition = Literal["first", "last", 0, -1]
ResolvedPosition = Literal["first", "last"]
FRAME_VALUES: Final[tuple[FramePosition, ...]] = ("first", "last", 0, -1)

NUMBER_RESULTS_MAX: Final = 20
DURATION_MAX_WITH_REFERENCES: Final = 10
DURATION_MIN: Final = 2
# (min, max) of the ranged parameters, from the model page: the Field constraints and their errors.
_RANGES: Final[Mapping[str, tuple[int, int | None]]] = {
    "duration": (DURATION_MIN, 15),
    "seed": (0, 2_147_483_647),
    "numberResults": (1, NUMBER_RESULTS_MAX),
    "outputQuality": (20, 99),
    "ttl": (60, None),
}


def _range(parameter: str) -> Any:
    low, high = _RANGES[parameter]
    return Field(None, alias=parameter, ge=low, le=high)


_UUID4_RE: Final = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)
_LAX_INT_RE: Final = re.compile(r"^[+-]?\d+$")
_LAX_BOOLS: Final = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_GROUPS: Final = ("inputs", "settings", "safety")
_ENVELOPE: Final = {"taskType": TASK_TYPE, "model": MODEL_ID, "deliveryMethod": DELIVERY_METHOD}
_OUR_CODES: Final = frozenset(
    {"invalidParameter", "missingParameter", "incompatibleParameters", "unsupportedDuration"}
)


def is_uuid4(value: object) -> bool:
    """Canonical UUID string with version 4 and RFC 4122 variant, as Runware requires for taskUUID."""
    return isinstance(value, str) and _UUID4_RE.match(value) is not None


def truncate_for_log(value: str, limit: int = 64) -> str:
    """``value`` itself, or its prefix plus ``...(N chars)`` when longer than ``limit`` (base64 payloads)."""
    return value if len(value) <= limit else f"{value[:40]}...({len(value)} chars)"


def _shown(value: Any) -> str:
    return repr(truncate_for_log(value)) if isinstance(value, str) else repr(value)


def _type_name(value: Any) -> str:
    """JSON name of a value's type for error messages (never the value: it may be megabytes)."""
    for kind, name in ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number")):
        if isinstance(value, kind):
            return name
    for kinds, name in (((str,), "string"), ((Mapping,), "object"), ((list, tuple), "array")):
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def _rule(
    parameter: str | None, message: str, code: str = "invalidParameter", **ctx: Any
) -> PydanticCustomError:
    """A violation (naming its wire parameter, else the field's) that :func:`request_error` converts."""
    return PydanticCustomError(code, message, {"parameter": parameter, **ctx} if parameter else ctx or None)


def parse_request_text(text: str) -> Any:
    """The value a string ``request`` holds: JSON, else a Python literal (the caller checks it is a dict).

    A templated ``request="{{ ti.xcom_pull('prep') }}"`` renders a dict as its Python repr unless the DAG
    sets ``render_template_as_native_obj=True``. :func:`ast.literal_eval` reads literals only, never
    names, calls or attributes, so a string cannot run code.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the decoder goes
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InvalidRequestError(
            "a string request must be a JSON object or a Python dict literal", parameter="request"
        ) from None


# ----------------------------------------------------------------------------------------------------
# Field types. Strict() keeps pydantic from coercing; the before-validators do the lax conversions of
# templated Python input, and nothing in wire mode (from_wire passes context {"strict": True}).
# ----------------------------------------------------------------------------------------------------


def _strict(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("strict"))


def _lax_int(value: Any, info: ValidationInfo) -> Any:
    if _strict(info) or isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _LAX_INT_RE.match(value.strip()):
        return int(value.strip())
    return value


def _lax_bool(value: Any, info: ValidationInfo) -> Any:
    if not _strict(info) and isinstance(value, str):
        return _LAX_BOOLS.get(value.strip().lower(), value)
    return value


def _choice(allowed: Sequence[Any]) -> Callable[[Any, ValidationInfo], Any]:
    """Exact match on the wire; case-folded (and "0"/"-1" as numbers) for templated Python input."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if type(value) in (str, int) and value in allowed:
            return value
        if isinstance(value, str) and not _strict(info):
            folded = value.strip().lower()
            for choice in allowed:
                if str(choice).lower() == folded:
                    return choice
        raise _rule(None, f"unsupported value {_shown(value)}", allowed=list(allowed))

    return check


def _http_url(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
            ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            ok = False
        if not ok or any(ch.isspace() for ch in value):
            raise _rule(None, f"must be an absolute http(s) URL, got {_shown(value)}")
    return value


def _media(kind: MediaKind) -> Callable[[Any, ValidationInfo], Any]:
    """A media reference: any accepted form from Python; on the wire videos/audio are UUIDs or URLs."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or not value:
            got = f", got {_type_name(value)}" if not isinstance(value, str) else ""
            raise _rule(None, f"must be a non-empty media reference (UUID, URL, data URI, path, s3://){got}")
        strict, form = _strict(info), classify_reference(value, kind)
        if kind == "image" and strict:  # Runware takes any string here (base64 has no marker)
            return value
        if form == "url":
            return _http_url(value)
        if strict and form != "uuid":
            raise _rule(None, f"a {kind} must be a UUID or an http(s) URL, got {_shown(value)}")
        if form == "unsupported":
            raise _rule(None, f"{UNSUPPORTED_SCHEME}; got {_shown(value)}")
        return value

    return check


StrictInt = Annotated[int, Strict(), BeforeValidator(_lax_int)]
StrictBool = Annotated[bool, Strict(), BeforeValidator(_lax_bool)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
ImageRef = Annotated[str, BeforeValidator(_media("image"))]
VideoRef = Annotated[str, BeforeValidator(_media("video"))]
AudioRef = Annotated[str, BeforeValidator(_media("audio"))]


TierField = Annotated[Tier, BeforeValidator(_choice(("720p", "1080p")))]
OutputTypeField = Annotated[OutputType, BeforeValidator(_choice(("URL",)))]
OutputFormatField = Annotated[OutputFormat, BeforeValidator(_choice(("MP4", "WEBM", "MOV")))]
ShotTypeField = Annotated[ShotType, BeforeValidator(_choice(("single", "multi")))]
SafetyModeField = Annotated[SafetyMode, BeforeValidator(_choice(("none", "fast", "full")))]
FrameField = Annotated[FramePosition, BeforeValidator(_choice(FRAME_VALUES))]


# ----------------------------------------------------------------------------------------------------
# Errors: pydantic's ValidationError -> InvalidRequestError naming the wire parameter, in one place.
# ----------------------------------------------------------------------------------------------------

_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "is required",
    "string_type": "must be a string, got {type}",
    "bool_type": "must be a boolean, got {type}",
    "list_type": "must be an array, got {type}",
    "model_type": "must be an object, got {type}",
    "dict_type": "must be an object, got {type}",
    "string_too_short": "must be at least {min_length} characters, got {length}",
    "string_too_long": "must be at most {max_length} characters, got {length}",
    "too_short": "must contain at least {min_length} item(s), got {length}",
    "too_long": "must contain at most {max_length} item(s), got {length}",
}


class _Meta(ModelMetaclass):
    """Converts errors of ``Model(...)`` calls (a metaclass, not a custom ``__init__``: pydantic routes
    ``model_validate`` through a custom ``__init__``, which would drop the wire mode's context)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            raise request_error(exc, cast("type[_WanModel]", cls)) from None


def request_error(exc: ValidationError, model: type[_WanModel]) -> InvalidRequestError:
    """The first violation (unknown keys first, then in field order) as an :class:`InvalidRequestError`
    naming the wire parameter: the one place pydantic's errors become ours."""
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    path = _wire_path(loc, model, translate=kind != "extra_forbidden" or len(loc) > 1)
    parameter, allowed = ctx.pop("parameter", None) or path, ctx.pop("allowed", None)
    code, message, details = (kind if kind in _OUR_CODES else "invalidParameter"), error["msg"], None
    if kind == "extra_forbidden":
        group = parameter.rpartition(".")[0]
        code, message = "unknownParameter", "unknown parameter"
        allowed = sorted(p.split(".")[-1] for p in WIRE_PATHS.values() if p.startswith(group + "."))
        if group.startswith("inputs.frameImages"):
            allowed = ["frame", "image"]
        elif not group:
            allowed = list(WIRE_PATHS)
            if loc[0] in _WIRE_ONLY_KEYS:
                message += " (that is a wire name: use the snake_case field or WanVideoRequest.from_wire())"
    elif kind == "missing":
        code, message = "missingParameter", "is required"
    elif kind in ("greater_than_equal", "less_than_equal"):
        low, high = _RANGES[parameter]
        details = {"min": low, "max": high}
        message = (
            f"must be {f'between {low} and {high}' if high is not None else f'at least {low}'}, got {value}"
        )
    elif kind.startswith("int_"):
        message = f"must be an integer, got {_type_name(value)}"
    elif kind in _MESSAGES:
        length = len(value) if isinstance(value, (str, list, tuple)) else None
        message = _MESSAGES[kind].format(type=_type_name(value), length=length, **ctx)
        allowed = [True, False] if kind == "bool_type" else allowed
    return InvalidRequestError(
        message, parameter=parameter, allowed_values=allowed, code=code, details=details
    )


def _wire_path(loc: Sequence[int | str], model: type[_WanModel], *, translate: bool) -> str:
    """``("frame_images", 0, "frame")`` -> ``inputs.frameImages[0].frame`` (wire-mode locs are aliases)."""
    path = model.wire_prefix
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = WIRE_PATHS.get(part, part) if index == 0 and translate and model is WanVideoRequest else part
        # An empty or odd key is named by its repr, so the parameter is never blank.
        name = name if name and name.strip() == name else repr(name)
        path += f".{name}" if path and not path.endswith(".") else name
    return path or "request"


class _WanModel(BaseModel, metaclass=_Meta):
    """Frozen, extra="forbid", snake_case names from Python, wire aliases only via ``from_wire``."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=False)
    wire_prefix: ClassVar[str] = ""

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise request_error(exc, cls) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise request_error(exc, cls) from None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Unset fields are noise and long strings (base64 images) must never reach a task log in full.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                yield name, [truncate_for_log(v) if isinstance(v, str) else v for v in value]
            elif value is not None:
                yield name, truncate_for_log(value) if isinstance(value, str) else value


class FrameImage(_WanModel):
    """A key frame: ``image`` (UUID, URL, data URI, base64, path or ``s3://``) and optional ``frame``.

    ``frame`` is ``"first"``/``0`` or ``"last"``/``-1``; when omitted the position follows the model
    page's automatic rule (see :attr:`WanVideoRequest.frame_positions`).
    """

    wire_prefix: ClassVar[str] = "inputs.frameImages."

    image: ImageRef
    frame: FrameField | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any, info: ValidationInfo) -> Any:
        """A bare string from Python is the image of an automatic frame."""
        if isinstance(data, str) and not _strict(info):
            return {"image": data}
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if not (k == "frame" and v is None)}
        return data

    @property
    def position(self) -> ResolvedPosition | None:
        """``"first"``/``"last"`` for an explicit ``frame``, ``None`` when automatic."""
        return None if self.frame is None else ("first" if self.frame in ("first", 0) else "last")

    def to_wire(self) -> dict[str, Any]:
        """``{"image": ...}`` plus ``"frame"`` when given."""
        return self.model_dump(exclude_none=True)


class WanVideoRequest(_WanModel):
    """A Wan2.7 ``videoInference`` request (``alibaba:wan@2.7``), validated against the model page.

    All fields are optional snake_case counterparts of wire parameters (their aliases, see
    :data:`WIRE_PATHS`); ``include_cost`` defaults to ``True`` so that every result reports its cost.
    Construction raises :class:`~airflow_provider_wan.errors.InvalidRequestError` for any violation.
    Instances are immutable; :meth:`replace` is a re-validated modified copy.
    """

    positive_prompt: str | None = Field(None, alias="positivePrompt", min_length=1, max_length=5000)
    negative_prompt: str | None = Field(None, alias="negativePrompt", max_length=500)
    width: StrictInt | None = None
    height: StrictInt | None = None
    resolution: TierField | None = None
    duration: StrictInt | None = _range("duration")
    seed: StrictInt | None = _range("seed")
    number_results: StrictInt | None = _range("numberResults")
    output_type: OutputTypeField | None = Field(None, alias="outputType")
    output_format: OutputFormatField | None = Field(None, alias="outputFormat")
    output_quality: StrictInt | None = _range("outputQuality")
    webhook_url: HttpUrl | None = Field(None, alias="webhookURL")
    upload_endpoint: HttpUrl | None = Field(None, alias="uploadEndpoint")
    ttl: StrictInt | None = _range("ttl")
    include_cost: StrictBool = Field(True, alias="includeCost")
    reference_images: list[ImageRef] | None = Field(None, alias="inputs.referenceImages", min_length=1)
    frame_images: list[FrameImage] | None = Field(
        None, alias="inputs.frameImages", min_length=1, max_length=2
    )
    reference_videos: list[VideoRef] | None = Field(None, alias="inputs.referenceVideos", min_length=1)
    audio: AudioRef | None = Field(None, alias="inputs.audio")
    generate_audio: StrictBool | None = Field(None, alias="settings.audio")
    prompt_enhancer: StrictBool | None = Field(None, alias="settings.promptEnhancer")
    shot_type: ShotTypeField | None = Field(None, alias="settings.shotType")
    check_content: StrictBool | None = Field(None, alias="safety.checkContent")
    safety_mode: SafetyModeField | None = Field(None, alias="safety.mode")

    # -- wire form -----------------------------------------------------------------------------------

    @model_validator(mode="wrap")
    @classmethod
    def _flatten(
        cls, data: Any, handler: ModelWrapValidatorHandler[WanVideoRequest], info: ValidationInfo
    ) -> Any:
        """Drop nulls (absent); in wire mode flatten the groups to their dotted aliases and check the
        envelope, reporting its errors after unknown keys and before everything else."""
        if isinstance(data, WanVideoRequest):
            return handler(data)
        if not isinstance(data, Mapping):
            raise _rule("request", f"must be an object of request parameters, got {_type_name(data)}")
        wire = bool(info.context and info.context.get("wire"))
        known = {*WIRE_PATHS.values(), *_GROUPS, *_ENVELOPE, "taskUUID"} if wire else set(WIRE_PATHS)
        out: dict[Any, Any] = {}
        deferred: list[PydanticCustomError] = []
        for key, value in data.items():
            if value is None and key in known:
                continue
            if not wire:
                out[key] = value
            elif key in _ENVELOPE or key == "taskUUID":
                expected = _ENVELOPE.get(key)
                if key == "taskUUID" and not is_uuid4(value):
                    deferred.append(_rule(key, "must be a UUID version 4 string"))
                elif expected is not None and value != expected:
                    deferred.append(_rule(key, f"must be {expected!r}", allowed=[expected]))
            elif isinstance(key, str) and "." in key:
                out[repr(key)] = value  # a dotted alias is ours, never a wire key
            elif key in _GROUPS and not isinstance(value, Mapping):
                deferred.append(_rule(key, f"must be an object, got {_type_name(value)}"))
            elif key in _GROUPS:
                for sub, sub_value in value.items():
                    name = f"{key}.{sub}" if isinstance(sub, str) and sub else f"{key}.{sub!r}"
                    if sub_value is not None or name not in known:
                        out[name] = sub_value
            else:
                out[key] = value
        try:
            result = handler(out)
        except ValidationError as exc:
            if deferred and not any(e["type"] == "extra_forbidden" for e in exc.errors()):
                raise deferred[0] from None
            raise
        if deferred:
            raise deferred[0]
        return result

    @model_serializer(mode="wrap")
    def _nest(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        flat: dict[str, Any] = handler(self)
        if not info.by_alias:
            return flat
        out: dict[str, Any] = {}
        for key, value in flat.items():
            group, dot, sub = key.partition(".")
            if dot:
                out.setdefault(group, {})[sub] = value
            else:
                out[key] = value
        return out

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]:
        """The camelCase JSON task for ``POST /v1``: envelope, then every set parameter, groups nested."""
        out: dict[str, Any] = {"taskType": TASK_TYPE}
        if task_uuid is not None:
            if not is_uuid4(task_uuid):
                raise InvalidRequestError(
                    f"must be a UUID version 4 string, got {_shown(task_uuid)}", parameter="taskUUID"
                )
            out["taskUUID"] = task_uuid
        body = self.model_dump(by_alias=True, exclude_none=True)
        out.update(model=MODEL_ID, deliveryMethod=DELIVERY_METHOD, includeCost=body.pop("includeCost"))
        return {**out, **body}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], *, strict: bool = True) -> WanVideoRequest:
        """Parse a camelCase task (as :meth:`to_wire` produces): ``model_validate`` by alias.

        Envelope keys are optional and checked when present (``taskUUID`` must be a UUID v4; it is not
        stored). JSON ``null`` means absent. ``strict=False`` is lax typing, for templated user input.
        """
        if not isinstance(wire, Mapping):
            raise InvalidRequestError(f"must be a JSON object, got {_type_name(wire)}", parameter="request")
        context = {"wire": True, "strict": strict}
        return cls.model_validate(wire, strict=strict or None, by_alias=True, by_name=False, context=context)

    @classmethod
    def from_any(cls, data: WanVideoRequest | Mapping[str, Any] | str) -> WanVideoRequest:
        """A request from whatever a user put in an operator's templated ``request`` argument.

        An instance (returned as is), a snake_case dict, a wire dict (recognised by any camelCase-only
        key; lax typing since templates render strings), a JSON string of either, or the Python repr of
        a dict (what Jinja renders from an XCom dict; see :func:`parse_request_text`).
        """
        if isinstance(data, WanVideoRequest):
            return data
        if isinstance(data, str):
            data = parse_request_text(data)
        if not isinstance(data, Mapping):
            raise InvalidRequestError(
                f"must be an object of request parameters, got {_type_name(data)}", parameter="request"
            )
        if any(not isinstance(key, str) for key in data):
            raise InvalidRequestError("parameter names must be strings", parameter="request")
        if any(key in _WIRE_ONLY_KEYS for key in data):
            return cls.from_wire(data, strict=False)
        return cls.model_validate(data)

    def replace(self, **changes: Any) -> WanVideoRequest:
        """A re-validated copy with some fields changed (``None`` unsets a field)."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical wire JSON (sorted keys, compact, no taskUUID).

        Equal requests have equal fingerprints however they were built; the operator computes it once,
        from the user's request before media resolution (uploads and presigned URLs differ per attempt).
        """
        canonical = json.dumps(self.to_wire(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # -- cross-field rules, in model-page order -------------------------------------------------------

    @model_validator(mode="after")
    def _rules(self) -> WanVideoRequest:
        _frame_positions(self.frame_images or [])  # two frames at one position: a field error, reported first
        has_frames = self.frame_images is not None
        width, height = self.width, self.height
        if not has_frames and self.positive_prompt is None:
            raise _rule(
                "positivePrompt", "is required when inputs.frameImages is not given", "missingParameter"
            )
        if has_frames and (width is not None or height is not None):
            raise _rule(
                "width" if width is not None else "height",
                "provide exactly one of inputs.frameImages or width/height: with frame images the aspect "
                "ratio follows the image and resolution picks the tier",
                "incompatibleParameters",
            )
        if not has_frames and (width is None or height is None):
            what = "provide exactly one of inputs.frameImages or width/height (one of the supported sizes)"
            if width is not None or height is not None:
                what = "width and height must be given together"
            missing = "height" if width is not None else "width"
            raise _rule(missing, what, "missingParameter", allowed=list(ALLOWED_SIZES))
        preset = self.size_preset
        if not has_frames and preset is None:
            raise _rule(
                "width", f"{width}x{height} is not a supported Wan2.7 size", allowed=list(ALLOWED_SIZES)
            )
        if preset is not None and self.resolution not in (None, preset.tier):
            raise _rule(
                "resolution",
                f"resolution {self.resolution} contradicts the {preset.size} size, which is {preset.tier}",
                "incompatibleParameters",
                allowed=[preset.tier],
            )
        if self.has_references and (self.duration or 0) > DURATION_MAX_WITH_REFERENCES:
            raise _rule(
                "duration",
                f"must be at most {DURATION_MAX_WITH_REFERENCES} when inputs.referenceImages or "
                f"inputs.referenceVideos is given, got {self.duration}",
                "unsupportedDuration",
                allowed=list(range(DURATION_MIN, DURATION_MAX_WITH_REFERENCES + 1)),
            )
        if has_frames and self.has_references:
            other = "inputs.referenceImages" if self.reference_images else "inputs.referenceVideos"
            raise _rule(
                "inputs.frameImages",
                f"inputs.frameImages cannot be used together with {other}",
                "incompatibleParameters",
            )
        if self.shot_type is not None and not self.has_references:
            raise _rule(
                "settings.shotType",
                "requires inputs.referenceImages or inputs.referenceVideos",
                "incompatibleParameters",
            )
        return self

    # -- convenience ----------------------------------------------------------------------------------

    @property
    def effective_duration(self) -> int:
        """Seconds per output video (server default 5)."""
        return 5 if self.duration is None else self.duration

    @property
    def effective_number_results(self) -> int:
        """Videos this task produces (server default 1)."""
        return 1 if self.number_results is None else self.number_results

    @property
    def output_seconds(self) -> int:
        """Billed output seconds: duration x numberResults."""
        return self.effective_duration * self.effective_number_results

    @property
    def size_preset(self) -> SizePreset | None:
        """The preset of ``width``/``height``, or ``None`` for image-to-video."""
        return None if self.width is None or self.height is None else preset_for_size(self.width, self.height)

    @property
    def tier(self) -> Tier:
        """Output/billing tier: the preset's if width/height are set, else ``resolution`` (default 1080p)."""
        preset = self.size_preset
        return preset.tier if preset is not None else self.resolution or "1080p"

    @property
    def effective_output_format(self) -> OutputFormat:
        """Container of the outputs (server default MP4)."""
        return self.output_format or "MP4"

    @property
    def has_references(self) -> bool:
        """Whether reference images or reference videos are given (limits duration to 10 s)."""
        return bool(self.reference_images or self.reference_videos)

    @property
    def frame_positions(self) -> tuple[ResolvedPosition, ...]:
        """Resolved position of each frame image, in order (empty without frame images)."""
        return _frame_positions(self.frame_images or [])

    @property
    def media_references(self) -> tuple[Reference, ...]:
        """Every media reference with its wire path, kind and form, in wire order."""
        slots = [
            *(
                (f"inputs.referenceImages[{i}]", "image", v)
                for i, v in enumerate(self.reference_images or [])
            ),
            *(
                (f"inputs.frameImages[{i}].image", "image", f.image)
                for i, f in enumerate(self.frame_images or [])
            ),
            *(
                (f"inputs.referenceVideos[{i}]", "video", v)
                for i, v in enumerate(self.reference_videos or [])
            ),
            *([("inputs.audio", "audio", self.audio)] if self.audio is not None else []),
        ]
        return tuple(reference(path, cast(MediaKind, kind), value) for path, kind, value in slots)

    @property
    def unresolved_media(self) -> tuple[Reference, ...]:
        """References Runware cannot take as they are (paths, ``s3://``, inline video/audio): resolve
        them (:mod:`airflow_provider_wan.media.uploads`) before submitting; empty means submittable."""
        return tuple(ref for ref in self.media_references if ref.unresolved)

    def with_media(self, resolved: Mapping[str, str]) -> WanVideoRequest:
        """A copy with references replaced by ``resolved`` (wire path -> value), not re-validated: the
        values come from our resolution of an already validated request, not from a user."""

        def swap(path: str, values: list[str] | None) -> list[str] | None:
            return None if values is None else [resolved.get(f"{path}[{i}]", v) for i, v in enumerate(values)]

        frames = [
            f.model_copy(update={"image": resolved.get(f"inputs.frameImages[{i}].image", f.image)})
            for i, f in enumerate(self.frame_images or [])
        ]
        update = {
            "reference_images": swap("inputs.referenceImages", self.reference_images),
            "frame_images": frames or self.frame_images,
            "reference_videos": swap("inputs.referenceVideos", self.reference_videos),
            "audio": None if self.audio is None else resolved.get("inputs.audio", self.audio),
        }
        return self.model_copy(update=update)


def _frame_positions(items: Sequence[FrameImage]) -> tuple[ResolvedPosition, ...]:
    """Explicit frames keep their position; the others take the free ones (1 image: first; 2: first, last)."""
    explicit: dict[ResolvedPosition, int] = {}
    for index, item in enumerate(items):
        position = item.position
        if position is not None and position in explicit:
            raise _rule(
                f"inputs.frameImages[{index}].frame",
                f"frame position {position!r} is already taken by inputs.frameImages[{explicit[position]}]; "
                "frame positions must be distinct ('first' == 0, 'last' == -1)",
                allowed=list(FRAME_VALUES),
            )
        if position is not None:
            explicit[position] = index
    free: list[ResolvedPosition] = [p for p in ("first", "last") if p not in explicit]
    return tuple(item.position or free.pop(0) for item in items)


#: Field name -> dotted wire path (``"reference_images"`` -> ``"inputs.referenceImages"``).
WIRE_PATHS: Final[Mapping[str, str]] = MappingProxyType(
    {name: f.alias or name for name, f in WanVideoRequest.model_fields.items()}
)
#: The snake_case request parameters, in wire order (the operator's request keyword arguments).
FIELD_NAMES: Final[tuple[str, ...]] = tuple(WIRE_PATHS)
# Wire keys that can never be a snake_case field name: their presence marks a dict as wire JSON.
_WIRE_ONLY_KEYS: Final = frozenset(
    {p.split(".")[0] for p in WIRE_PATHS.values()} | set(_ENVELOPE) | {"taskUUID"}
) - set(WIRE_PATHS)


def tier_of_size(width: int, height: int) -> Tier:
    """``"720p"`` or ``"1080p"`` for a preset size; :class:`InvalidRequestError` for any other size."""
    preset = preset_for_size(width, height)
    if preset is None:
        raise InvalidRequestError(
            f"{width}x{height} is not a supported Wan2.7 size",
            parameter="width",
            allowed_values=ALLOWED_SIZES,
        )
    return preset.tier
