"""The Wan video models on Runware beside Wan2.7: their wire fields and value ranges, as data.

Read from Runware's Python SDK types (``runware-sdk`` 1.8.0, ``runware/types/task_map.py``:
``AlibabaWan26Params`` …); ``tests/test_runware_sdk.py`` compares this table with the installed SDK so
drift shows up. Wan 2.6 groups its extra options under ``providerSettings``, Wan 3.0 under ``settings``;
Wan 3.0 adds ``480p`` and takes durations as strings too. Wan2.7 itself is ``models.WanVideoRequest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.wire_names import MODEL_ID, WIRE_PATHS

# ``fields.shown`` is imported where a message needs it: ``fields`` builds pydantic types, and this module
# is imported while DAG files are parsed (the operator checks ``model=`` there).

#: Wire keys every Wan model on Runware takes (the envelope ``taskType``/``taskUUID``/``model``/
#: ``deliveryMethod`` aside).
COMMON_FIELDS: Final = frozenset(
    {"positivePrompt", "inputs", "width", "height", "resolution", "duration", "seed", "numberResults"}
    | {"outputType", "outputFormat", "outputQuality", "webhookURL", "uploadEndpoint", "ttl", "includeCost"}
    | {"safety", "routing"}
)


@dataclass(frozen=True)
class WanModel:
    """One Wan model's request as Runware's SDK declares it."""

    model: str
    fields: frozenset[str]
    resolutions: tuple[str, ...]
    durations: tuple[int, ...] | None  # None: any whole number of seconds
    string_durations: bool
    settings_group: str  # "providerSettings" (2.6) or "settings" (3.0)

    def check(self, body: Mapping[str, Any]) -> None:
        """Refuse keys the model does not take and values outside its declared ranges."""
        from airflow_provider_wan.fields import shown

        for key in body:
            if key not in self.fields:
                raise InvalidRequestError(
                    f"{self.model} takes no {key!r} (it takes {', '.join(sorted(self.fields))})",
                    parameter=key,
                    code="unsupportedParameter",
                )
        resolution = body.get("resolution")
        if resolution is not None and resolution not in self.resolutions:
            raise InvalidRequestError(
                f"must be one of {', '.join(self.resolutions)} for {self.model}, got {shown(resolution)}",
                parameter="resolution",
                allowed_values=list(self.resolutions),
            )
        if body.get("duration") is not None:
            self._check_duration(body["duration"])

    def _check_duration(self, value: Any) -> None:
        from airflow_provider_wan.fields import shown

        seconds = value
        if isinstance(value, str) and self.string_durations and value.strip().isdigit():
            seconds = int(value)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            kinds = "a whole number of seconds" + (
                " (or its string, e.g. '5')" if self.string_durations else ""
            )
            raise InvalidRequestError(f"must be {kinds}, got {shown(value)}", parameter="duration")
        if self.durations is not None and seconds not in self.durations:
            raise InvalidRequestError(
                f"must be one of {', '.join(map(str, self.durations))} for {self.model}, got {shown(value)}",
                parameter="duration",
                code="unsupportedDuration",
                allowed_values=list(self.durations),
            )


def _wan26(model: str, durations: tuple[int, ...] | None) -> WanModel:
    fields = COMMON_FIELDS | {"negativePrompt", "providerSettings"}
    return WanModel(model, fields, ("720p", "1080p"), durations, False, "providerSettings")


def _wan30(model: str) -> WanModel:
    return WanModel(model, COMMON_FIELDS | {"settings"}, ("480p", "720p", "1080p"), None, True, "settings")


#: AIR id -> declared request, for the Wan video models other than Wan2.7.
WAN_FAMILY: Final[Mapping[str, WanModel]] = MappingProxyType(
    {
        m.model: m
        for m in (
            _wan26("alibaba:wan@2.6", (5, 10, 15)),
            _wan26("alibaba:wan@2.6-flash", None),
            _wan30("alibaba:wan@3.0"),
            _wan30("alibaba:wan@3.0-prime"),
        )
    }
)

#: Every Wan video model ``WanVideoOperator(model=...)`` takes.
WAN_MODELS: Final[tuple[str, ...]] = (MODEL_ID, *WAN_FAMILY)
# Wire paths whose value is a number or a flag: a rendered template gives them as text ("5", "True").
_INT_PATHS: Final = frozenset({"width", "height", "seed", "numberResults", "outputQuality", "ttl"})
_BOOL_PATHS: Final = frozenset({"includeCost", "settings.audio", "settings.promptEnhancer"})


def check_wan_model(model: object) -> str:
    if model not in WAN_MODELS:
        from airflow_provider_wan.fields import shown

        raise InvalidRequestError(
            f"must be a Wan video model on Runware, got {shown(model)} (RunwareVideoOperator takes any "
            "other model)",
            parameter="model",
            allowed_values=list(WAN_MODELS),
        )
    return str(model)


def family_wire(spec: WanModel, request: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The wire request for ``spec``: ``request`` (wire keys, or the operator's snake_case names) overridden
    by the keyword arguments ``values`` (snake_case). ``settings.*`` options go under 2.6's
    ``providerSettings``; templated numbers and flags are read from their text."""
    from airflow_provider_wan.fields import shown

    body: dict[str, Any] = {}
    for name, value in [*request.items(), *values.items()]:
        generic = WIRE_PATHS.get(name, name)
        path = generic
        if generic.startswith("settings.") and spec.settings_group != "settings":
            path = f"{spec.settings_group}.{generic.partition('.')[2]}"
        *groups, leaf = path.split(".")
        target = body
        for group in groups:
            existing = target.get(group, {})
            if not isinstance(existing, Mapping):
                raise InvalidRequestError(f"must be an object, got {shown(existing)}", parameter=group)
            target[group] = dict(existing)  # a copy: the operator's own request is never changed
            target = target[group]
        target[leaf] = _from_text(spec, generic, value)
    return body


def _from_text(spec: WanModel, path: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    numeric = path in _INT_PATHS or (path == "duration" and not spec.string_durations)
    if numeric and text.lstrip("-").isdigit():
        return int(text)
    if path in _BOOL_PATHS and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value
