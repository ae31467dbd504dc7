"""Checks of operator and sensor arguments (not request parameters): each raises ``InvalidRequestError``
naming the argument, at parse time or before any HTTP request, never after a paid submit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.idempotency import is_uuid4
from airflow_provider_wan.presets import SIZE_PRESETS, SizePreset

if TYPE_CHECKING:
    from airflow.sdk import Asset

# A generation takes minutes; a longer wait is a typo (and timedelta overflows long before "inf").
MAX_GENERATION_TIMEOUT = timedelta(days=7)


def check_choice(parameter: str, value: object, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequestError(
            f"unknown value {value!r}", parameter=parameter, allowed_values=list(allowed)
        )


def finite_number(parameter: str, value: object) -> float:
    """A finite number from a number or numeric string (bool refused: ``True`` is no duration)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidRequestError(f"must be a number, got {type(value).__name__}", parameter=parameter)
    try:
        number = float(value)
    except ValueError:
        raise InvalidRequestError(f"must be a number, got {str(value)[:40]!r}", parameter=parameter) from None
    except OverflowError:  # a huge int
        number = math.inf
    if not math.isfinite(number):
        raise InvalidRequestError(f"must be a finite number, got {str(value)[:40]!r}", parameter=parameter)
    return number


def non_negative(parameter: str, value: object, *, zero_ok: bool = True, unit: str = "seconds") -> float:
    number = finite_number(parameter, value)
    if number < 0 or (number == 0 and not zero_ok):
        raise InvalidRequestError(
            f"must be {'>= 0' if zero_ok else '> 0'} {unit}, got {number:g}", parameter=parameter
        )
    return number


def optional_non_negative(parameter: str, value: object, *, unit: str = "seconds") -> float | None:
    """:func:`non_negative`, or None when unset (``None``, or a template that rendered "" or "None")."""
    unset = value is None or (isinstance(value, str) and value.strip() in ("", "None"))
    return None if unset else non_negative(parameter, value, unit=unit)


def check_size(value: object) -> SizePreset:
    preset = SIZE_PRESETS.get(str(value).strip())
    if preset is None:
        raise InvalidRequestError(
            f"unknown size preset {value!r}", parameter="size", allowed_values=list(SIZE_PRESETS)
        )
    return preset


def check_flags(**flags: object) -> None:
    """Each flag must be a real bool: the string "False" is truthy, so guessing would invert it."""
    for parameter, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidRequestError(
                f"must be True or False, got {type(value).__name__}", parameter=parameter
            )


def check_conn_id(parameter: str, value: object, *, optional: bool = False) -> None:
    if not (optional and value is None) and (not isinstance(value, str) or not value.strip()):
        raise InvalidRequestError(
            f"must be a non-empty connection id{' or None' if optional else ''}", parameter=parameter
        )


def check_task_uuid(value: object) -> str:
    if not isinstance(value, str) or not is_uuid4(value):
        raise InvalidRequestError(
            f"must be a Runware task UUID (lowercase, version 4), got {str(value)[:40]!r}",
            parameter="task_uuid",
        )
    return value


def check_generation_timeout(value: object) -> timedelta:
    seconds = (
        value.total_seconds() if isinstance(value, timedelta) else finite_number("generation_timeout", value)
    )
    if not 0 < seconds <= MAX_GENERATION_TIMEOUT.total_seconds():
        raise InvalidRequestError(
            f"must be > 0 seconds and at most {MAX_GENERATION_TIMEOUT.days} days, got {seconds:g} s",
            parameter="generation_timeout",
        )
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def check_poll(
    initial_delay: object, interval: object, max_interval: object
) -> tuple[float | None, float | None, float]:
    """The poll settings in seconds: ``None`` derives the first two from the request; 0 would spin."""
    return (
        None if initial_delay is None else non_negative("poll_initial_delay", initial_delay),
        None if interval is None else non_negative("poll_interval", interval, zero_ok=False),
        non_negative("poll_max_interval", max_interval, zero_ok=False),
    )


def with_asset(kwargs: dict[str, Any], s3_destination: object) -> dict[str, Any]:
    """The operator's keyword arguments with ``s3_destination``'s asset added to its outlets."""
    asset = destination_asset(s3_destination)
    if asset is not None:
        kwargs["outlets"] = [*(kwargs.pop("outlets", None) or []), asset]
    return kwargs


def destination_asset(s3_destination: object) -> Asset | None:
    """The asset of ``s3_destination``'s static prefix (none for "s3://my-{{ env }}/", not a wrong one);
    a non-templated destination is checked here."""
    from airflow.sdk import Asset

    from airflow_provider_wan.media.s3 import parse_s3_uri

    if s3_destination is None:
        return None
    if not isinstance(s3_destination, str):
        raise InvalidRequestError(
            f"must be an s3://bucket/prefix/ string, got {type(s3_destination).__name__}",
            parameter="s3_destination",
        )
    static = s3_destination.split("{{", 1)[0]
    if static == s3_destination:  # not templated: final now, so refuse it at parse time
        parse_s3_uri(s3_destination, parameter="s3_destination", require_key=False)
    bucket, slash, _ = (
        static.removeprefix("s3://").partition("/") if static.startswith("s3://") else ("", "", "")
    )
    if not bucket or not (slash or static == s3_destination):
        return None
    try:
        return Asset(uri=static)
    except ValueError as err:
        raise InvalidRequestError(f"not a valid asset URI: {err}", parameter="s3_destination") from None
