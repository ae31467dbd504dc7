"""Cost estimate of a Wan2.7 request before it is submitted: output (``duration x numberResults``) and
input video seconds at the tier's rate (model page), in Decimal rounded half-up to 4 decimals as Runware
reports costs (720p x 2 s is ``0.2``). Other models' prices are unknown here (:func:`estimate_any` answers
``None``): a budgeted task then fails closed unless the user gives ``estimated_cost_usd``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import MODEL_ID, Tier, WanVideoRequest

#: USD per billed video second, by output tier.
PRICE_PER_SECOND: Final[dict[Tier, float]] = {"720p": 0.10, "1080p": 0.15}

_QUANTUM: Final = Decimal("0.0001")


@dataclass(frozen=True)
class CostEstimate:
    """An itemised estimate; amounts in USD rounded to 4 decimals."""

    total_usd: float
    output_usd: float
    input_usd: float
    tier: Tier
    rate_per_second: float
    output_seconds: int
    input_seconds: float

    def describe(self) -> str:
        """One line for a task log, e.g. ``estimated cost $0.30: 2 s output at 1080p x $0.15/s``."""
        text = (
            f"estimated cost {_usd(self.total_usd)}: {self.output_seconds} s output"
            f" at {self.tier} x {_usd(self.rate_per_second)}/s"
        )
        if self.input_seconds:
            text += f" + {self.input_seconds:g} s input video ({_usd(self.input_usd)})"
        return text


def estimate(request: WanVideoRequest, input_video_seconds: float = 0.0) -> CostEstimate:
    """Itemised cost of ``request``; ``input_video_seconds`` is the total length of its input videos."""
    seconds_in, tier = _input_seconds(input_video_seconds), request.tier
    # str() first: Decimal(0.15) would carry the binary float error into the result.
    rate = Decimal(str(PRICE_PER_SECOND[tier]))
    output_usd, input_usd = rate * request.output_seconds, rate * seconds_in
    return CostEstimate(
        total_usd=_round(output_usd + input_usd),
        output_usd=_round(output_usd),
        input_usd=_round(input_usd),
        tier=tier,
        rate_per_second=PRICE_PER_SECOND[tier],
        output_seconds=request.output_seconds,
        input_seconds=float(seconds_in),
    )


def _input_seconds(value: Any) -> Decimal:
    # bool is an int to Python but never a duration; NaN/inf would poison every sum downstream.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"input_video_seconds must be a number, got {type(value).__name__}")
    seconds = value if isinstance(value, Decimal) else Decimal(str(value))
    if not seconds.is_finite():
        raise ValueError(f"input_video_seconds must be finite, got {value}")
    if seconds < 0:
        raise ValueError(f"input_video_seconds must be >= 0, got {value}")
    return seconds


def _round(amount: Decimal) -> float:
    return float(amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP))


def _usd(amount: float) -> str:
    """``$0.30``, ``$1.875``: at least 2 decimals, at most 4, no float noise."""
    text = f"{amount:.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def estimate_any(model: str, body: Mapping[str, Any]) -> float | None:
    """Estimated USD of a wire request for ``model``, or ``None`` when its price is unknown here. Known:
    Wan2.7 without input videos (their seconds are billed too, and unknown before probing)."""
    if model != MODEL_ID:
        return None
    try:
        request = WanVideoRequest.from_wire(body, strict=False)
    except InvalidRequestError:
        return None  # Runware will say what is wrong; the price of an invalid request is unknown
    if request.reference_videos:
        return None
    return estimate(request).total_usd
