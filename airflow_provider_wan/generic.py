"""Requests we validate only structurally: any Runware video model, and extra wire fields for Wan.

``RunwareVideoRequest`` is a ``videoInference`` task for a model given by its AIR id: a JSON object with
``positivePrompt`` or ``inputs``; ``taskType``, ``model`` and ``deliveryMethod`` are ours. Runware checks
the rest and its errors come back as :class:`~airflow_provider_wan.errors.InvalidRequestError`.
``WithExtraFields`` adds wire fields to a validated request, as given (``extra_fields``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.fields import parse_request_text, shown, type_name
from airflow_provider_wan.idempotency import is_uuid4
from airflow_provider_wan.wan_family import WAN_FAMILY

TASK_TYPE: Final = "videoInference"
DELIVERY_METHOD: Final = "async"
#: Keys we set on every task: a request may repeat them only with the same value.
ENVELOPE_KEYS: Final = ("taskType", "model", "deliveryMethod", "taskUUID")
# An AIR id: ``provider:model@version`` (``alibaba:wan@2.7``, ``klingai:5@3``).
_AIR: Final = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+")


class Submittable(Protocol):
    """What the client sends: the wire task for a task UUID."""

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]: ...


class VideoSubmission(Submittable, Protocol):
    """What the operator submits and waits for: the wire task, and how many videos of what length."""

    @property
    def effective_number_results(self) -> int: ...
    @property
    def effective_duration(self) -> int: ...


def check_model(model: object) -> str:
    if not isinstance(model, str) or not _AIR.fullmatch(model):
        raise InvalidRequestError(
            f"must be a Runware AIR id such as 'alibaba:wan@2.7', got {shown(model)}", parameter="model"
        )
    return model


def canonical_hash(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def wire_object(value: object, parameter: str) -> dict[str, Any]:
    data = parse_request_text(value) if isinstance(value, str) else value
    if not isinstance(data, Mapping):
        raise InvalidRequestError(f"must be a JSON object, got {type_name(data)}", parameter=parameter)
    if any(not isinstance(key, str) for key in data):
        raise InvalidRequestError("parameter names must be strings", parameter=parameter)
    return dict(data)


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    """Every string nested in ``value``, with its wire path (``inputs.frameImages[0].image``)."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in _strings(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _strings(item, f"{where}[{i}]")]
    return []


@dataclass(frozen=True)
class RunwareVideoRequest:
    """A ``videoInference`` task for ``model``; ``body`` is the wire JSON without the envelope."""

    model: str
    body: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, model: object, request: object) -> RunwareVideoRequest:
        """Check ``request`` (a wire dict, or its JSON / Python repr) structurally for ``model``."""
        air = check_model(model)
        body = wire_object(request, "request")
        expected = {"taskType": TASK_TYPE, "model": air, "deliveryMethod": DELIVERY_METHOD}
        for key in ENVELOPE_KEYS:
            if key in body and body[key] != expected.get(key):
                what = "set by the operator" if key == "taskUUID" else f"must be {expected[key]!r} or absent"
                raise InvalidRequestError(f"{what}, got {shown(body[key])}", parameter=key)
            body.pop(key, None)
        prompt, inputs = body.get("positivePrompt"), body.get("inputs")
        if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
            raise InvalidRequestError("must be a non-empty string", parameter="positivePrompt")
        if inputs is not None and not isinstance(inputs, Mapping):
            raise InvalidRequestError(f"must be an object, got {type_name(inputs)}", parameter="inputs")
        if prompt is None and not inputs:
            raise InvalidRequestError("give positivePrompt or inputs", parameter="positivePrompt")
        for where, text in _strings(inputs or {}, "inputs"):
            if text.startswith("s3://"):  # we resolve s3:// (and local files) for Wan2.7 only
                raise InvalidRequestError(
                    "s3:// inputs are resolved for alibaba:wan@2.7 only: give an https URL (e.g. presigned) "
                    "or a Runware media UUID",
                    parameter=where,
                )
        number = body.get("numberResults")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
            raise InvalidRequestError(
                f"must be a positive integer, got {shown(number)}", parameter="numberResults"
            )
        family = WAN_FAMILY.get(air)
        if family is not None:  # a Wan model: its declared fields and ranges, as data
            family.check(body)
        body.setdefault("includeCost", True)  # every result reports its cost
        return cls(air, body)

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"taskType": TASK_TYPE}
        if task_uuid is not None:
            if not is_uuid4(task_uuid):
                raise InvalidRequestError("must be a UUID version 4 string", parameter="taskUUID")
            out["taskUUID"] = task_uuid
        return {**out, "model": self.model, "deliveryMethod": DELIVERY_METHOD, **self.body}

    def fingerprint(self) -> str:
        return canonical_hash(self.to_wire())

    @property
    def effective_number_results(self) -> int:
        number = self.body.get("numberResults")
        return number if isinstance(number, int) else 1

    @property
    def duration_seconds(self) -> float | None:
        """Seconds per video when the request says (Wan 3.0 sends durations as strings), else None."""
        value = self.body.get("duration")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            return float(value)
        except ValueError:
            return None

    @property
    def effective_duration(self) -> int:
        """Whole seconds per video for the poll cadence (5 when the request does not say)."""
        seconds = self.duration_seconds
        return 5 if seconds is None or not 0 < seconds < 3600 else math.ceil(seconds)

    @property
    def effective_output_format(self) -> str:
        value = self.body.get("outputFormat")
        return value if isinstance(value, str) and value else "MP4"


def check_extra_fields(extra: object, wire: Mapping[str, Any]) -> dict[str, Any]:
    """``extra_fields`` as a dict: string keys, none of ours, none the request already sets."""
    if extra is None:
        return {}
    fields_ = wire_object(extra, "extra_fields")
    for key in fields_:
        if key in ENVELOPE_KEYS or key in wire:
            raise InvalidRequestError(
                f"{key!r} is set by the request or the operator; extra_fields adds only new wire fields",
                parameter="extra_fields",
            )
    return fields_


@dataclass(frozen=True)
class WithExtraFields:
    """A validated request plus wire fields Runware added later, passed through as given."""

    request: VideoSubmission
    extra: Mapping[str, Any]

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]:
        return {**self.request.to_wire(task_uuid), **self.extra}

    @property
    def effective_number_results(self) -> int:
        return self.request.effective_number_results

    @property
    def effective_duration(self) -> int:
        return self.request.effective_duration


def fingerprint_with(fingerprint: str, extra: Mapping[str, Any]) -> str:
    """The request's fingerprint, extended by ``extra`` (unchanged without extra fields, so the task UUIDs
    of existing DAGs stay the same)."""
    return canonical_hash([fingerprint, dict(extra)]) if extra else fingerprint
