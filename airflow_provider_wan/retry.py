"""The one retry policy (tenacity) for API calls, S3 landing downloads and uploadEndpoint checks: retry
what ``RunwareError.retryable`` allows, full-jitter backoff within ``max_retries`` and ``retry_max_seconds``;
a ``Retry-After`` is waited in full when it fits in the time left, else the call fails at once saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.retry import retry_base

from airflow_provider_wan.errors import RunwareError

log = logging.getLogger(__name__)

# 425 Too Early and 408 come from CDNs and proxies as much as from Runware; every 5xx counts too.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RunwareError) and exc.retryable


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def retry_after_of(error: BaseException | None) -> float | None:
    """The ``Retry-After`` (seconds) a server sent with ``error``, if any."""
    value = error.details.get("retry_after") if isinstance(error, RunwareError) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RetryPolicy:
    """Retry numbers, named as the connection extras; ``max_retries`` counts every attempt, the first too."""

    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    retry_max_seconds: float = 120.0

    def retrying(
        self, what: str, *, sleep: Callable[[float], None] = time.sleep, retry: retry_base | None = None
    ) -> Retrying:
        """A tenacity ``Retrying`` for one operation (``what`` names it in logs); raises the last error."""
        return Retrying(sleep=sleep, **self._settings(what, retry))

    def async_retrying(
        self, what: str, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    ) -> AsyncRetrying:
        return AsyncRetrying(sleep=sleep, **self._settings(what, None))

    def _settings(self, what: str, retry: retry_base | None) -> dict[str, Any]:
        def before_sleep(state: RetryCallState) -> None:
            failure = (state.outcome.exception() if state.outcome else None) or "not ready"
            args = (what, state.attempt_number, failure, state.upcoming_sleep)
            log.info("%s attempt %d failed (%s); retrying in %.1fs", *args)

        return {
            "retry": retry or retry_if_exception(is_retryable),
            "wait": self.wait,
            "stop": stop_after_attempt(max(1, self.max_retries)) | stop_before_delay(self.retry_max_seconds),
            "before_sleep": before_sleep,
            "retry_error_callback": self.give_up,
            "reraise": True,
        }

    def wait(self, state: RetryCallState) -> float:
        """Full-jitter backoff; at least a server's ``Retry-After``, and jitter never past the budget."""
        backoff = wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_max)(state)
        asked = retry_after_of(state.outcome.exception() if state.outcome else None)
        if asked is None:
            return backoff
        return max(asked, min(backoff, self.retry_max_seconds - (state.seconds_since_start or 0.0)))

    def give_up(self, state: RetryCallState) -> Any:
        """Out of attempts or time: the last result, or the last error, saying so when Retry-After did it."""
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return state.outcome.result() if state.outcome else None
        asked = retry_after_of(error)
        remaining = max(0.0, self.retry_max_seconds - (state.seconds_since_start or 0.0))
        too_long = asked is not None and asked > remaining and state.attempt_number < self.max_retries
        if isinstance(error, RunwareError) and too_long:
            error.message = (
                f"{error.message} (the server asked to wait {asked:g} s before retrying, more than the "
                f"{remaining:.0f} s left of the retry budget, retry_max_seconds="
                f"{self.retry_max_seconds:g}: not retried)"
            )
            error.args = (error.message,)
        raise error
