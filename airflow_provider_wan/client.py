"""Runware REST client: a sync and an async twin sharing URL, headers, timeouts and one retry policy.

No Airflow here: :class:`~airflow_provider_wan.hooks.runware.RunwareHook` turns a connection into a
:class:`ClientConfig`. Request bodies and answer parsing are shared functions; the twins differ only in how
they send and sleep.

Retry policy (one place, :class:`RetryPolicy`): 408/429/5xx and transport errors are retried with
exponential backoff and full jitter, bounded in attempts and total time. A ``Retry-After`` is waited in
full when it fits in the remaining time budget; when it does not, the call gives up at once.
400/401/402/403 are never retried. Re-sending a ``videoInference`` POST is safe only because it carries the
same client-chosen ``taskUUID``: a second arrival is answered ``conflictTaskUUID``, which
:meth:`RunwareClient.submit_video` reports as "already submitted" instead of raising.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_wan.connection import DEFAULT_BASE_URL
from airflow_provider_wan.errors import (
    InvalidRequestError,
    RunwareError,
    RunwareTransportError,
)
from airflow_provider_wan.results import Envelope, TaskState, group_by_task, unattributed_errors

if TYPE_CHECKING:
    from airflow_provider_wan.models import WanVideoRequest

log = logging.getLogger(__name__)


RETRYABLE_HTTP = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = "airflow-provider-wan"


class Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for transient HTTP failures: full jitter, Retry-After honoured, bounded.

    ``max_delay`` caps only our own backoff guesses. A server's ``Retry-After`` is waited in full when it
    fits in what is left of ``max_total_seconds``; when it does not, retrying sooner would only burn
    attempts against a server that said no, so the call gives up at once (see :meth:`retry_after_too_long`).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_seconds: float = 120.0

    def delay_for(self, attempt: int, error: RunwareError, elapsed: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise ``error``."""
        if not is_retryable_http(error) or attempt >= self.max_attempts:
            return None
        remaining = self.max_total_seconds - elapsed
        delay = random.uniform(0, min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))
        retry_after = retry_after_of(error)
        if retry_after is not None:
            if retry_after > remaining:
                return None
            # At least what the server asked; the jitter never pushes it past the budget.
            delay = max(retry_after, min(delay, remaining))
        if delay > remaining:
            return None
        return delay

    def retry_after_too_long(self, attempt: int, error: RunwareError, elapsed: float) -> float | None:
        """The server's ``Retry-After`` when it alone made :meth:`delay_for` give up, else None."""
        retry_after = retry_after_of(error)
        if retry_after is None or not is_retryable_http(error) or attempt >= self.max_attempts:
            return None
        return retry_after if retry_after > self.max_total_seconds - elapsed else None


def retry_after_of(error: RunwareError) -> float | None:
    """The ``Retry-After`` (seconds) the server sent with ``error``, if any."""
    value = error.details.get("retry_after")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def is_retryable_http(error: RunwareError) -> bool:
    """Request-level retry rule: the transport failed, or the status is 408/429/5xx."""
    if isinstance(error, RunwareTransportError):
        return True
    return error.http_status is not None and (error.http_status in RETRYABLE_HTTP or error.http_status >= 500)


@dataclass(frozen=True)
class ClientConfig:
    """Everything needed to talk to Runware; the key is a :class:`Secret`."""

    api_key: Secret
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_connections: int = 20

    def __post_init__(self) -> None:
        if not self.api_key:
            raise RunwareError(
                "No Runware API key: set the connection's password (API Key) field",
                code="missingApiKey",
                category="auth",
                retryable=False,
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise RunwareError(
                f"Base URL must start with http:// or https://, got {self.base_url!r}",
                code="invalidBaseUrl",
                category="validation",
                parameter="host",
                retryable=False,
            )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": {
                "Authorization": f"Bearer {self.api_key.reveal()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            "timeout": httpx.Timeout(self.timeout, connect=self.connect_timeout),
            "limits": httpx.Limits(
                max_connections=self.max_connections, max_keepalive_connections=self.max_connections
            ),
            "follow_redirects": False,
        }

    @property
    def credential_fingerprint(self) -> str:
        """A stable, non-reversible id of (URL, key) to share pollers without holding the key in names."""
        import hashlib

        return hashlib.sha256(f"{self.base_url}\x00{self.api_key.reveal()}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SubmitResult:
    """The acknowledgment of a submit. ``already_submitted``: an earlier send had been accepted."""

    task_uuid: str
    already_submitted: bool = False


@dataclass(frozen=True)
class MediaUpload:
    media_uuid: str
    media_url: str | None = None


# ---------------------------------------------------------------------------------------------------
# Shared request building and answer parsing (pure functions; both twins use them)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def decode_response(response: httpx.Response, task_types: str) -> Envelope:
    """Turn an HTTP answer into an envelope, or raise the request-level error it carries."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = Envelope.parse(body)
    if status < 400:
        if body is None:
            raise RunwareTransportError(
                f"Runware answered {status} with a body that is not JSON ({task_types})",
                http_status=status,
                category="transport",
            )
        return envelope
    if status in RETRYABLE_HTTP or status >= 500:
        first = envelope.errors[0] if envelope.errors else {}
        error = (
            RunwareError.from_wire(first, http_status=status)
            if first
            else RunwareError(f"Runware answered HTTP {status} ({task_types})", http_status=status)
        )
        retry_after = _retry_after_seconds(response)
        if retry_after is not None:
            error.details["retry_after"] = retry_after
        raise error
    if body is None or not (envelope.errors or envelope.data):
        raise RunwareError(f"Runware answered HTTP {status} ({task_types})", http_status=status)
    if status in (401, 402, 403) and envelope.errors:
        # Key or balance problems concern the whole request, never one task: stop here.
        raise RunwareError.from_wire(envelope.errors[0], http_status=status)
    return envelope


def parse_submit(envelope: Envelope, http_status: int, task_uuid: str) -> SubmitResult:
    for item in envelope.data:
        if item.get("taskUUID") == task_uuid:
            return SubmitResult(task_uuid=task_uuid)
    for err in envelope.errors:
        error = RunwareError.from_wire(err, http_status=http_status, task_uuid=task_uuid)
        if error.code == "conflictTaskUUID":
            return SubmitResult(task_uuid=task_uuid, already_submitted=True)
        raise error
    raise RunwareTransportError(
        "Runware's answer to the submit holds neither an acknowledgment nor an error",
        task_uuid=task_uuid,
        http_status=http_status,
    )


def parse_responses(envelope: Envelope, http_status: int, task_uuids: Sequence[str]) -> dict[str, TaskState]:
    states = group_by_task(envelope, task_uuids, http_status=http_status)
    stray = unattributed_errors(envelope, task_uuids, http_status)
    if stray and not any(s.seen for s in states.values()):
        raise stray[0]
    return states


def parse_single(envelope: Envelope, http_status: int, task_uuid: str, task_types: str) -> Mapping[str, Any]:
    for item in envelope.data:
        if item.get("taskUUID") == task_uuid:
            return item
    if envelope.errors:
        raise RunwareError.from_wire(envelope.errors[0], http_status=http_status, task_uuid=task_uuid)
    raise RunwareTransportError(f"Runware's answer to {task_types} holds no item", task_uuid=task_uuid)


def media_payload(media: bytes | str) -> str:
    """Bytes go as base64; strings (URL, data URI, base64) go as they are."""
    if isinstance(media, bytes):
        return base64.b64encode(media).decode("ascii")
    if not media:
        raise InvalidRequestError("media is empty", parameter="media")
    return media


def _task_types(tasks: Sequence[Mapping[str, Any]]) -> str:
    names = sorted({str(t.get("taskType")) for t in tasks})
    return ",".join(names)


# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API call: the task array to POST and how to read the answer. Both twins send the same calls."""

    tasks: list[dict[str, Any]]
    parse: Callable[[Envelope, int], Any]

    @property
    def task_types(self) -> str:
        return _task_types(self.tasks)


def submit_call(request: WanVideoRequest, task_uuid: str) -> Call:
    return Call(
        [request.to_wire(task_uuid=task_uuid)], lambda env, status: parse_submit(env, status, task_uuid)
    )


def get_responses_call(task_uuids: Sequence[str]) -> Call:
    unique = list(dict.fromkeys(task_uuids))
    tasks = [{"taskType": "getResponse", "taskUUID": u} for u in unique]
    return Call(tasks, lambda env, status: parse_responses(env, status, unique))


def task_details_call(task_uuid: str) -> Call:
    tasks = [{"taskType": "getTaskDetails", "taskUUID": task_uuid}]
    return Call(tasks, lambda env, status: parse_single(env, status, task_uuid, "getTaskDetails"))


def upload_media_call(media: bytes | str, task_uuid: str | None = None) -> Call:
    """``mediaStorage`` upload; pass a deterministic ``task_uuid`` to make a resend detectable."""
    task_uuid = task_uuid or str(uuid.uuid4())
    tasks = [
        {
            "taskType": "mediaStorage",
            "taskUUID": task_uuid,
            "operation": "upload",
            "media": media_payload(media),
        }
    ]
    return Call(tasks, lambda env, status: parse_media(env, status, task_uuid))


def delete_media_call(media_uuid: str) -> Call:
    task_uuid = str(uuid.uuid4())
    tasks = [
        {"taskType": "mediaStorage", "taskUUID": task_uuid, "operation": "delete", "mediaUUID": media_uuid}
    ]
    return Call(tasks, lambda env, status: parse_single(env, status, task_uuid, "mediaStorage"))


def parse_media(envelope: Envelope, status: int, task_uuid: str) -> MediaUpload:
    item = parse_single(envelope, status, task_uuid, "mediaStorage")
    media_uuid = item.get("mediaUUID") or item.get("imageUUID")
    if not isinstance(media_uuid, str):
        raise RunwareTransportError("mediaStorage answer holds no mediaUUID", task_uuid=task_uuid)
    media_url = item.get("mediaURL") or item.get("imageURL")
    return MediaUpload(media_uuid=media_uuid, media_url=media_url if isinstance(media_url, str) else None)


def transport_error(exc: httpx.HTTPError, task_types: str) -> RunwareTransportError:
    # httpx exception texts never hold headers; keep only the class and a short message anyway.
    return RunwareTransportError(
        f"{type(exc).__name__} talking to Runware ({task_types}): {str(exc)[:200]}", category="transport"
    )


class Attempts:
    """The retry bookkeeping of one call, shared by both twins (they differ only in how they sleep)."""

    def __init__(self, policy: RetryPolicy, task_types: str) -> None:
        self.policy = policy
        self.task_types = task_types
        self.started = time.monotonic()
        self.attempt = 0

    def after_failure(self, exc: httpx.HTTPError | RunwareError) -> float:
        """Seconds to wait before the next attempt; raises the error when the policy gives up."""
        self.attempt += 1
        error = transport_error(exc, self.task_types) if isinstance(exc, httpx.HTTPError) else exc
        elapsed = time.monotonic() - self.started
        delay = self.policy.delay_for(self.attempt, error, elapsed)
        if delay is None:
            asked = self.policy.retry_after_too_long(self.attempt, error, elapsed)
            if asked is not None:
                remaining = max(0.0, self.policy.max_total_seconds - elapsed)
                error.message = (
                    f"{error.message} (the server asked to wait {asked:g} s before retrying, more than the "
                    f"{remaining:.0f} s left of the retry budget, retry_max_seconds="
                    f"{self.policy.max_total_seconds:g}: not retried)"
                )
                error.args = (error.message,)
            raise error
        log.info(
            "Runware %s attempt %d failed (%s); retrying in %.1fs",
            self.task_types,
            self.attempt,
            error,
            delay,
        )
        return delay


class RunwareClient:
    """Synchronous client with one long-lived ``httpx.Client``; use as a context manager."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._http = httpx.Client(base_url="", transport=transport, **config.client_kwargs())
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def __enter__(self) -> RunwareClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def post_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> tuple[int, Envelope]:
        """POST a task array with the retry policy; returns (HTTP status, envelope)."""
        attempts = Attempts(self.config.retry, _task_types(tasks))
        while True:
            try:
                response = self._http.post(self.config.base_url, json=list(tasks))
                return response.status_code, decode_response(response, attempts.task_types)
            except (httpx.HTTPError, RunwareError) as exc:
                self._sleep(attempts.after_failure(exc))

    def call(self, call: Call) -> Any:
        status, envelope = self.post_tasks(call.tasks)
        return call.parse(envelope, status)

    def submit_video(self, request: WanVideoRequest, task_uuid: str) -> SubmitResult:
        result: SubmitResult = self.call(submit_call(request, task_uuid))
        return result

    def get_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = self.call(get_responses_call(task_uuids)) if task_uuids else {}
        return states

    def get_task_details(self, task_uuid: str) -> Mapping[str, Any]:
        details: Mapping[str, Any] = self.call(task_details_call(task_uuid))
        return details

    def upload_media(self, media: bytes | str, task_uuid: str | None = None) -> MediaUpload:
        upload: MediaUpload = self.call(upload_media_call(media, task_uuid))
        return upload

    def delete_media(self, media_uuid: str) -> None:
        self.call(delete_media_call(media_uuid))


class AsyncRunwareClient:
    """Asynchronous twin with one long-lived ``httpx.AsyncClient``; use as an async context manager."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._http = httpx.AsyncClient(base_url="", transport=transport, **config.client_kwargs())
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    async def __aenter__(self) -> AsyncRunwareClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def post_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> tuple[int, Envelope]:
        """POST a task array with the retry policy; returns (HTTP status, envelope)."""
        attempts = Attempts(self.config.retry, _task_types(tasks))
        while True:
            try:
                response = await self._http.post(self.config.base_url, json=list(tasks))
                return response.status_code, decode_response(response, attempts.task_types)
            except (httpx.HTTPError, RunwareError) as exc:
                await self._sleep(attempts.after_failure(exc))

    async def call(self, call: Call) -> Any:
        status, envelope = await self.post_tasks(call.tasks)
        return call.parse(envelope, status)

    async def submit_video(self, request: WanVideoRequest, task_uuid: str) -> SubmitResult:
        result: SubmitResult = await self.call(submit_call(request, task_uuid))
        return result

    async def get_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = await self.call(get_responses_call(task_uuids)) if task_uuids else {}
        return states

    async def get_task_details(self, task_uuid: str) -> Mapping[str, Any]:
        details: Mapping[str, Any] = await self.call(task_details_call(task_uuid))
        return details

    async def upload_media(self, media: bytes | str, task_uuid: str | None = None) -> MediaUpload:
        upload: MediaUpload = await self.call(upload_media_call(media, task_uuid))
        return upload
