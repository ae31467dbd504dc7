"""Field types of the request model (lax for templated Python input, strict on the wire: ``from_wire``
passes the context ``{"wire": True, "strict": True}``) and the one place where pydantic's errors become
an ``InvalidRequestError``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, ClassVar, Final, cast
from urllib.parse import urlsplit

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, ValidationError, ValidationInfo
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_core import PydanticCustomError
from typing_extensions import Self

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.media.formats import MediaKind
from airflow_provider_wan.media.references import UNSUPPORTED_SCHEME, classify_reference

_LAX_INT_RE: Final = re.compile(r"^[+-]?\d+$")
_LAX_BOOLS: Final = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

# error type -> Runware code: pydantic's own types, and ours (from rule()) as they are; else invalidParameter
_CODES: Final = {"missing": "missingParameter", "extra_forbidden": "unknownParameter"} | {
    code: code for code in ("missingParameter", "incompatibleParameters", "unsupportedDuration")
}


def truncate_for_log(value: str, limit: int = 64) -> str:
    """``value`` itself, or its prefix plus ``...(N chars)`` when longer than ``limit`` (base64 payloads)."""
    return value if len(value) <= limit else f"{value[:40]}...({len(value)} chars)"


def shown(value: Any) -> str:
    return repr(truncate_for_log(value)) if isinstance(value, str) else repr(value)


def type_name(value: Any) -> str:
    """JSON name of a value's type for error messages (never the value: it may be megabytes)."""
    for kind, name in ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number")):
        if isinstance(value, kind):
            return name
    for kinds, name in (((str,), "string"), ((Mapping,), "object"), ((list, tuple), "array")):
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def rule(
    parameter: str | None, message: str, code: str = "invalidParameter", **ctx: Any
) -> PydanticCustomError:
    """A violation (naming its wire parameter, else the field's) that :func:`request_error` converts."""
    return PydanticCustomError(code, message, {"parameter": parameter, **ctx} if parameter else ctx or None)


def parse_request_text(text: str) -> Any:
    """JSON, else a Python literal: Jinja renders an XCom dict as its repr (without native rendering).
    :func:`ast.literal_eval` reads literals only, so a string cannot run code."""
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


def is_strict(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("strict"))


def _lax_int(value: Any, info: ValidationInfo) -> Any:
    if is_strict(info) or isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _LAX_INT_RE.match(value.strip()):
        return int(value.strip())
    return value


def _lax_bool(value: Any, info: ValidationInfo) -> Any:
    if not is_strict(info) and isinstance(value, str):
        return _LAX_BOOLS.get(value.strip().lower(), value)
    return value


def choice(allowed: Sequence[Any]) -> Callable[[Any, ValidationInfo], Any]:
    """Exact match on the wire; case-folded (and "0"/"-1" as numbers) for templated Python input."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if type(value) in (str, int) and value in allowed:
            return value
        if isinstance(value, str) and not is_strict(info):
            folded = value.strip().lower()
            for choice in allowed:
                if str(choice).lower() == folded:
                    return choice
        raise rule(None, f"unsupported value {shown(value)}", allowed=list(allowed))

    return check


def _http_url(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
            ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            ok = False
        if not ok or any(ch.isspace() for ch in value):
            raise rule(None, f"must be an absolute http(s) URL, got {shown(value)}")
    return value


def _media(kind: MediaKind) -> Callable[[Any, ValidationInfo], Any]:
    """A media reference: any accepted form from Python; on the wire videos/audio are UUIDs or URLs."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or not value:
            got = f", got {type_name(value)}" if not isinstance(value, str) else ""
            raise rule(None, f"must be a non-empty media reference (UUID, URL, data URI, path, s3://){got}")
        strict, form = is_strict(info), classify_reference(value, kind)
        if kind == "image" and strict:  # Runware takes any string here (base64 has no marker)
            return value
        if form == "url":
            return _http_url(value)
        if strict and form != "uuid":
            raise rule(None, f"a {kind} must be a UUID or an http(s) URL, got {shown(value)}")
        if form == "unsupported":
            raise rule(None, f"{UNSUPPORTED_SCHEME}; got {shown(value)}")
        return value

    return check


StrictInt = Annotated[int, Strict(), BeforeValidator(_lax_int)]
StrictBool = Annotated[bool, Strict(), BeforeValidator(_lax_bool)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
ImageRef = Annotated[str, BeforeValidator(_media("image"))]
VideoRef = Annotated[str, BeforeValidator(_media("video"))]
AudioRef = Annotated[str, BeforeValidator(_media("audio"))]

# pydantic error type -> our message (formatted with the error's ctx, the input's JSON type and length)
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


@contextmanager
def _converted(model: type[WanModel]) -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:
        raise request_error(exc, model) from None


class _Meta(ModelMetaclass):
    # Private base: no public hook converts Model(...) errors; a custom __init__ loses validate's context.
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        with _converted(cast("type[WanModel]", cls)):
            return super().__call__(*args, **kwargs)


def request_error(exc: ValidationError, model: type[WanModel]) -> InvalidRequestError:
    """The first violation (unknown keys first, then in field order) as an :class:`InvalidRequestError`
    naming the wire parameter: the one place pydantic's errors become ours."""
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    path = _wire_path(loc, model, translate=kind != "extra_forbidden" or len(loc) > 1)
    parameter, allowed = ctx.pop("parameter", None) or path, ctx.pop("allowed", None)
    code, message, details = _CODES.get(kind, "invalidParameter"), error["msg"], None
    if kind == "extra_forbidden":
        group, wire = parameter.rpartition(".")[0], model.wire_paths()
        message = "unknown parameter" + (model.unknown_key_hint(loc[0]) if not group else "")
        allowed = (
            sorted(p.split(".")[-1] for p in wire.values() if p.startswith(group + "."))
            if group
            else list(wire)
        )
    elif kind in ("greater_than_equal", "less_than_equal"):
        low, high = model.bounds(str(loc[0]))
        details = {"min": low, "max": high}
        message = (
            f"must be {f'between {low} and {high}' if high is not None else f'at least {low}'}, got {value}"
        )
    elif kind.startswith("int_"):
        message = f"must be an integer, got {type_name(value)}"
    elif kind in _MESSAGES:
        length = len(value) if isinstance(value, (str, list, tuple)) else None
        message = _MESSAGES[kind].format(type=type_name(value), length=length, **ctx)
        allowed = [True, False] if kind == "bool_type" else allowed
    return InvalidRequestError(
        message, parameter=parameter, allowed_values=allowed or None, code=code, details=details
    )


def _wire_path(loc: Sequence[int | str], model: type[WanModel], *, translate: bool) -> str:
    """``("frame_images", 0, "frame")`` -> ``inputs.frameImages[0].frame`` (wire-mode locs are aliases)."""
    path = model.wire_prefix
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = model.wire_paths().get(part, part) if index == 0 and translate else part
        # An empty or odd key is named by its repr, so the parameter is never blank.
        name = name if name and name.strip() == name else repr(name)
        path += f".{name}" if path and not path.endswith(".") else name
    return path or "request"


class WanModel(BaseModel, metaclass=_Meta):
    """Frozen, extra="forbid", snake_case names from Python, wire aliases only via ``from_wire``."""

    # defer_build: the validators are built on first use, in the task, not while the DAG file is parsed.
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=False, defer_build=True
    )
    wire_prefix: ClassVar[str] = ""  # where the model sits on the wire, for the errors of its own fields

    @classmethod
    def wire_paths(cls) -> dict[str, str]:
        """Field name -> wire path (its alias)."""
        return {name: field.alias or name for name, field in cls.model_fields.items()}

    @classmethod
    def unknown_key_hint(cls, key: object) -> str:
        return ""

    @classmethod
    def bounds(cls, key: str) -> tuple[int | None, int | None]:
        """(min, max) of a ranged field, by name or wire path."""
        names = {path: name for name, path in cls.wire_paths().items()}
        field = cls.model_fields.get(names.get(key, key))
        metadata = field.metadata if field is not None else []
        low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
        high = next((m.le for m in metadata if isinstance(m, Le)), None)
        return cast("int | None", low), cast("int | None", high)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        with _converted(cls):
            return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        with _converted(cls):
            return super().model_validate_json(json_data, *args, **kwargs)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Unset fields are noise and long strings (base64 images) must never reach a task log in full.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                yield name, [truncate_for_log(v) if isinstance(v, str) else v for v in value]
            elif value is not None:
                yield name, truncate_for_log(value) if isinstance(value, str) else value
