"""Emulator configuration: runtime knobs (changeable while running) and start-up settings.

``Knobs`` holds everything ``POST /_emulator/faults`` may change; ``EmulatorSettings`` adds what is
fixed for the life of the app. Both are flat so ``running_emulator(p_500=0.1, seed=3)`` and the CLI
flags map one-to-one onto fields.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_API_KEY = "runware-emulator-key"

# A DNS name: dot-separated labels of letters, digits, "-" and "_" (docker-compose service names).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def normalise_host(name: str) -> str:
    """Canonical form of a host name or IP literal: lower case, no trailing dot, no IPv6 brackets."""
    host = name.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def normalise_allowed_host(value: str) -> str:
    """One ``--allow-host`` entry: an exact host name or IP literal (no scheme, port, path or wildcard)."""
    host = normalise_host(value)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        raise ValueError(
            f"allowed host {value!r} must be a bare host name or IP address"
            " (no scheme, port, path or wildcard)"
        )
    return host


def _p(description: str) -> float:
    return Field(default=0.0, ge=0.0, le=1.0, description=description)


class Knobs(BaseModel):
    """Runtime-adjustable behaviour. Defaults describe an honest, fault-free server."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- timing of generations -----------------------------------------------------------------
    processing_seconds: float = Field(3.0, ge=0, le=86_400, description="Fixed part of the generation time.")
    seconds_per_output_second: float = Field(
        0.2, ge=0, le=3_600, description="Generation time added per second of requested duration."
    )
    jitter: float = Field(0.0, ge=0, le=1, description="Generation time varies by +- this fraction.")
    result_stagger_seconds: float = Field(
        0.0, ge=0, le=3_600, description="Result i of a numberResults>1 task completes i*this later."
    )
    report_progress: bool = Field(False, description="Add progress (0..99) to processing items.")
    pending_status: bool = Field(False, description='Report "pending" instead of "processing".')

    # --- outputs ---------------------------------------------------------------------------------
    media_scale: float = Field(
        1.0, gt=0, le=1, description="Encode outputs at this fraction of the size and fps (1.0 = honest)."
    )
    default_ttl: float = Field(3600.0, gt=0, description="Seconds a videoURL stays downloadable without ttl.")
    pad_bytes: int = Field(0, ge=0, description="Pad MP4 outputs to at least this many bytes (free box).")
    refresh_expired_urls: bool = Field(
        False,
        description="getResponse/getTaskDetails hand out a new signed videoURL (new token, new ttl) for an"
        " expired result; the old URL keeps answering 410.",
    )

    # --- per-request transport faults on POST /v1 ----------------------------------------------
    p_429: float = _p("Probability of answering 429 rateLimitExceeded.")
    p_500: float = _p("Probability of answering 500 internalServerError.")
    p_503: float = _p("Probability of answering 503 serviceUnavailable.")
    p_drop: float = _p("Probability of dropping the connection after the response headers.")
    p_slow: float = _p("Probability of delaying the answer by slow_seconds.")
    slow_seconds: float = Field(2.0, ge=0, le=600, description="Delay applied by p_slow.")
    retry_after: float | None = Field(None, ge=0, description="Retry-After header value on 429.")
    p_ack_lost: float = _p("Probability that an accepted videoInference's answer is lost (500 or drop).")
    ack_lost_mode: Literal["500", "drop", "random"] = Field(
        "random", description='How a lost acknowledgment shows: "500", "drop" or "random" (50/50).'
    )
    empty_errors_array: bool = Field(False, description='Always include "errors": [] in the envelope.')

    # --- generation outcomes -----------------------------------------------------------------------
    p_generation_fail: float = _p("Probability that one result fails with timeoutProvider.")
    failure_shape: Literal["errors", "nested"] = Field(
        "errors", description='"errors": flat item in errors[]; "nested": data[] item with error{}.'
    )
    generation_failure_status: int = Field(
        200, ge=200, le=599, description="HTTP status of a poll whose only content is a failed generation."
    )
    p_nsfw: float = _p("Probability that a result reports NSFWContent: true.")
    balance_usd: float | None = Field(None, description="Account balance; None = unlimited (402 when short).")
    resolution_must_match_size: bool = Field(
        True,
        description="Reject a resolution naming another tier than width x height (not on the model page:"
        " the billed tier would be ambiguous); off = the size's tier wins.",
    )

    # --- auth --------------------------------------------------------------------------------------
    forbidden_keys: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        (), description="Keys that authenticate but lack permission: their requests get 403 forbidden."
    )

    # --- deliveries ----------------------------------------------------------------------------------
    webhook_wrapped: bool = Field(False, description='POST {"data": [item]} instead of the flat item.')
    webhook_post_failures: bool = Field(True, description="Also POST failed results to webhookURL.")
    delivery_max_attempts: int = Field(
        8,
        ge=1,
        le=20,
        description="Attempts per webhook/upload delivery (8: retries after 0.25, 0.5, 1, 2, 4, 8, 8 s).",
    )


class EmulatorSettings(Knobs):
    """Start-up settings plus the initial knobs."""

    api_keys: tuple[str, ...] = Field((DEFAULT_API_KEY,), min_length=1, description="Accepted API keys.")
    seed: int | None = Field(None, description="Seed for every random choice; None = nondeterministic.")
    media_dir: str | None = Field(None, description="Where uploads live; None = a fresh temp dir.")
    video_cache_dir: str | None = Field(None, description="Encoded-output cache; None = shared temp dir.")
    public_url: str | None = Field(None, description="Base for media URLs; None = the request's base URL.")
    max_media_bytes: int = Field(512 * 1024 * 1024, gt=0, description="Cap on one uploaded/fetched medium.")
    max_request_bytes: int = Field(256 * 1024 * 1024, gt=0, description="Cap on one POST /v1 body.")
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Non-loopback hosts the emulator may contact (media URLs, uploadEndpoint, webhookURL),"
        " e.g. docker-compose service names; loopback is always allowed, everything else never contacted.",
    )

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _normalise_allowed_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_allowed_host(host) for host in value))

    def knobs(self) -> Knobs:
        return Knobs.model_validate(self.model_dump(include=set(Knobs.model_fields)))


KNOB_NAMES: frozenset[str] = frozenset(Knobs.model_fields)
