"""Checks of operator and sensor arguments (not request parameters): one place for both classes.

Each raises :class:`~airflow_provider_wan.errors.InvalidRequestError` naming the argument, so a bad value
fails at parse time (constructor) or before any HTTP request (once rendered), never after a paid submit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from airflow_provider_wan.errors import InvalidRequestError


def is_unset(value: object) -> bool:
    """Nothing given: ``None``, or what a template renders from nothing ("", "None")."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "None"))


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
    """:func:`finite_number`, at least 0 (or above 0 without ``zero_ok``)."""
    number = finite_number(parameter, value)
    if number < 0 or (number == 0 and not zero_ok):
        raise InvalidRequestError(
            f"must be {'>= 0' if zero_ok else '> 0'} {unit}, got {number:g}", parameter=parameter
        )
    return number


def optional_non_negative(parameter: str, value: object, *, unit: str = "seconds") -> float | None:
    """:func:`non_negative`, or None when unset (``None``, or a template that rendered nothing)."""
    return None if is_unset(value) else non_negative(parameter, value, unit=unit)
