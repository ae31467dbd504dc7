"""Runware REST client (no Airflow): sync and async twins sharing :class:`ClientConfig`, the sans-IO
:class:`Call` and one retry policy. Re-sending a ``videoInference`` POST is safe because it carries the
same ``taskUUID``: a second arrival answers ``conflictTaskUUID``, reported as ``already_submitted``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import httpx
from pydantic import SecretStr

from airflow_provider_wan.connection import DEFAULT_BASE_URL
from airflow_provider_wan.errors import NON_FINITE, InvalidRequestError, RunwareError, RunwareTransportError
from airflow_provider_wan.media.downloads import DownloadPolicy
from airflow_provider_wan.results import Envelope, TaskState, group_by_task
from airflow_provider_wan.retry import RetryPolicy, retry_after_seconds, retryable_status

if TYPE_CHECKING:
    from airflow_provider_wan.generic import Submittable

T = TypeVar("T")

_USERINFO_RE: Final = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#]*@", re.IGNORECASE)
# Far above any real answer (200 getResponse items, or a getTaskDetails echoing inline media).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ClientConfig:
    """Everything needed to talk to Runware; the key is a ``SecretStr`` (never in repr or str)."""

    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_connections: int = 20
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # How result videos may be fetched; its URL schemes also decide which videoURLs an answer may carry.
    downloads: DownloadPolicy = field(default_factory=DownloadPolicy)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise RunwareError(
                "No Runware API key: set the connection's password (API Key) field",
                code="missingApiKey",  # an auth error: never retried
            )
        if not self.base_url.startswith(("http://", "https://")):
            scheme = self.base_url.split("://", 1)[0] if "://" in self.base_url else "no scheme"
            raise RunwareError(
                f"Base URL must start with http:// or https://, got {scheme[:20]!r}",  # never the whole URL
                code="invalidBaseUrl",  # a validation error: never retried
                parameter="host",
            )
        if _USERINFO_RE.match(self.base_url):
            # Credentials in the URL would show in every repr and message that names the URL.
            raise RunwareError(
                "Base URL must not hold credentials (user:password@host): put the API key in the "
                "connection's password (API Key) field",
                code="invalidBaseUrl",
                parameter="host",
            )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": {
                "Authorization": f"Bearer {self.api_key.get_secret_value()}",
                "Accept": "application/json",
                "User-Agent": "airflow-provider-wan",
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
        identity = f"{self.base_url}\x00{self.api_key.get_secret_value()}"
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SubmitResult:
    """The acknowledgment of a submit. ``already_submitted``: an earlier send had been accepted."""

    task_uuid: str
    already_submitted: bool = False


@dataclass(frozen=True)
class MediaUpload:
    media_uuid: str
    media_url: str | None = None


class _NonFinite(ValueError):
    pass


def _not_json(name: str) -> Any:
    raise _NonFinite(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise _NonFinite(f"{text} is out of range")
    return value


def _integer(text: str) -> int | float:
    # Past a float's range an integer is infinite: the item's own checks refuse it (results.item_problem),
    # where int() of thousands of digits would fail the whole answer.
    return int(text) if len(text) <= 300 else float(text)


class BodyCap:
    """Reads an answer up to ``max_response_bytes`` (decoded), failing as soon as it is known to be larger,
    and within ``timeout`` in all (a body trickling in, each read on time, must not hold a call forever)."""

    def __init__(self, response: httpx.Response, config: ClientConfig, task_types: str) -> None:
        self.body = bytearray()
        self.limit, self.task_types = config.max_response_bytes, task_types
        self.timeout, self.deadline = config.timeout, time.monotonic() + config.timeout
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > self.limit:
            raise self.error(response.status_code)
        self.status = response.status_code

    def add(self, chunk: bytes) -> None:
        self.body += chunk
        if len(self.body) > self.limit:
            raise self.error(self.status)
        if time.monotonic() > self.deadline:
            raise RunwareTransportError(
                f"Runware's answer ({self.task_types}) took more than the timeout of {self.timeout:g} s to "
                "arrive (connection extra timeout)",
                category="transport",
                http_status=self.status,
            )

    def error(self, status: int) -> RunwareError:
        return RunwareError(
            f"Runware's answer ({self.task_types}) is larger than {self.limit} bytes: not read (raise the "
            "connection extra max_response_bytes if such answers are expected)",
            code="responseTooLarge",
            category="server",
            http_status=status,
            retryable=False,
        )


def decode_response(response: httpx.Response, task_types: str, content: bytes | None = None) -> Envelope:
    """Turn an HTTP answer (``content``: its body, when read by :class:`BodyCap`) into an envelope, or raise
    the request-level error it carries."""
    status = response.status_code
    non_finite = False
    try:  # NaN and Infinity are not JSON: one such number must not reach a seed or a cost
        raw = response.content if content is None else content
        body = json.loads(raw, parse_constant=_not_json, parse_float=_finite, parse_int=_integer)
    except _NonFinite:
        body, non_finite = None, True
    except (ValueError, RecursionError):
        body = None
    envelope = Envelope.parse(body)
    if status < 400:
        if body is None:
            raise RunwareTransportError(
                f"Runware answered {status} with a body that is not JSON ({task_types})"
                + (": it holds a NaN, Infinity or out-of-range number" if non_finite else ""),
                code=NON_FINITE if non_finite else None,
                http_status=status,
                category="transport",
                retryable=False if non_finite else None,  # the same answer again would not help
            )
        return envelope
    first = envelope.errors[0] if envelope.errors else None
    bare = RunwareError(f"Runware answered HTTP {status} ({task_types})", http_status=status)
    if retryable_status(status):
        error = RunwareError.from_wire(first, http_status=status) if first else bare
        error.details["retry_after"] = retry_after_seconds(response.headers)  # None: the header was absent
        raise error
    if body is None or not (envelope.errors or envelope.data):
        raise bare
    if status in (401, 402, 403) and first:
        # Key or balance problems concern the whole request, never one task: stop here.
        raise RunwareError.from_wire(first, http_status=status)
    return envelope


def parse_submit(envelope: Envelope, http_status: int, task_uuid: str) -> SubmitResult:
    if any(item.get("taskUUID") == task_uuid for item in envelope.data):
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


def parse_responses(
    envelope: Envelope, http_status: int, task_uuids: Sequence[str], url_schemes: Sequence[str] = ("https",)
) -> dict[str, TaskState]:
    states = group_by_task(envelope, task_uuids, http_status=http_status, url_schemes=url_schemes)
    # Errors naming no requested task (auth, quota, malformed request) fail the call if nothing else came.
    wanted = set(task_uuids)
    stray = [e for e in envelope.errors if str(e.get("taskUUID") or "") not in wanted]
    if stray and not any(s.seen for s in states.values()):
        raise RunwareError.from_wire(stray[0], http_status=http_status)
    return states


def parse_single(envelope: Envelope, http_status: int, task_uuid: str) -> Mapping[str, Any]:
    for item in envelope.data:
        if item.get("taskUUID") == task_uuid:
            return item
    if envelope.errors:
        raise RunwareError.from_wire(envelope.errors[0], http_status=http_status, task_uuid=task_uuid)
    raise RunwareTransportError("Runware's answer holds no item for the task", task_uuid=task_uuid)


def parse_media(envelope: Envelope, status: int, task_uuid: str) -> MediaUpload:
    item = parse_single(envelope, status, task_uuid)
    media_uuid = item.get("mediaUUID") or item.get("imageUUID")
    if not isinstance(media_uuid, str):
        raise RunwareTransportError("mediaStorage answer holds no mediaUUID", task_uuid=task_uuid)
    media_url = item.get("mediaURL") or item.get("imageURL")
    return MediaUpload(media_uuid=media_uuid, media_url=media_url if isinstance(media_url, str) else None)


def media_payload(media: bytes | str) -> str:
    """Bytes go as base64; strings (URL, data URI, base64) go as they are."""
    if isinstance(media, bytes):
        return base64.b64encode(media).decode("ascii")
    if not media:
        raise InvalidRequestError("media is empty", parameter="media")
    return media


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: the task array to POST and how to read the answer."""

    tasks: list[dict[str, Any]]
    parse: Callable[[Envelope, int], T]


def submit_call(request: Submittable, task_uuid: str) -> Call[SubmitResult]:
    return Call([request.to_wire(task_uuid=task_uuid)], lambda env, st: parse_submit(env, st, task_uuid))


def get_responses_call(
    task_uuids: Sequence[str], url_schemes: Sequence[str] = ("https",)
) -> Call[dict[str, TaskState]]:
    """``url_schemes``: those a result's videoURL may use (the download policy's)."""
    unique = list(dict.fromkeys(task_uuids))
    tasks = [{"taskType": "getResponse", "taskUUID": u} for u in unique]
    return Call(tasks, lambda env, st: parse_responses(env, st, unique, url_schemes))


def task_details_call(task_uuid: str) -> Call[Mapping[str, Any]]:
    tasks = [{"taskType": "getTaskDetails", "taskUUID": task_uuid}]
    return Call(tasks, lambda env, st: parse_single(env, st, task_uuid))


def upload_media_call(media: bytes | str, task_uuid: str | None = None) -> Call[MediaUpload]:
    """``mediaStorage`` upload; a deterministic ``task_uuid`` makes a resend detectable."""
    uuid_ = task_uuid or str(uuid.uuid4())
    task = {
        "taskType": "mediaStorage",
        "taskUUID": uuid_,
        "operation": "upload",
        "media": media_payload(media),
    }
    return Call([task], lambda env, st: parse_media(env, st, uuid_))


def delete_media_call(media_uuid: str) -> Call[Mapping[str, Any]]:
    # Runware's SDK (MediaStorageParams) names the stored media in ``media`` for both operations.
    uuid_ = str(uuid.uuid4())
    task = {"taskType": "mediaStorage", "taskUUID": uuid_, "operation": "delete", "media": media_uuid}
    return Call([task], lambda env, st: parse_single(env, st, uuid_))


def _task_types(tasks: Sequence[Mapping[str, Any]]) -> str:
    return ",".join(sorted({str(t.get("taskType")) for t in tasks}))


def _transport_error(exc: httpx.HTTPError, task_types: str) -> RunwareTransportError:
    # httpx exception texts never hold headers; keep only the class and a short message anyway.
    return RunwareTransportError(f"{type(exc).__name__} talking to Runware ({task_types}): {str(exc)[:200]}")


class _Twin:
    """What the twins share: the configuration and the repr (never the key)."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"


class RunwareClient(_Twin):
    """Synchronous client with one long-lived ``httpx.Client``; use as a context manager."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config)
        self._http = httpx.Client(transport=transport, **config.client_kwargs())
        self._sleep = sleep

    def __enter__(self) -> RunwareClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def post_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> tuple[int, Envelope]:
        """POST a task array with the retry policy; returns (HTTP status, envelope)."""
        task_types = _task_types(tasks)
        retrying = self.config.retry.retrying(f"Runware {task_types}", sleep=self._sleep)
        result: tuple[int, Envelope] = retrying(self._post_once, tasks, task_types)
        return result

    def _post_once(self, tasks: Sequence[Mapping[str, Any]], task_types: str) -> tuple[int, Envelope]:
        try:
            with self._http.stream("POST", self.config.base_url, json=list(tasks)) as response:
                cap = BodyCap(response, self.config, task_types)
                for chunk in response.iter_bytes():
                    cap.add(chunk)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, task_types) from None
        return response.status_code, decode_response(response, task_types, bytes(cap.body))

    def call(self, call: Call[T]) -> T:
        status, envelope = self.post_tasks(call.tasks)
        return call.parse(envelope, status)

    def submit_video(self, request: Submittable, task_uuid: str) -> SubmitResult:
        return self.call(submit_call(request, task_uuid))

    def get_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        schemes = self.config.downloads.url_schemes
        return self.call(get_responses_call(task_uuids, schemes)) if task_uuids else {}


class AsyncRunwareClient(_Twin):
    """Asynchronous twin with one long-lived ``httpx.AsyncClient``; use as an async context manager."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(config)
        self._http = httpx.AsyncClient(transport=transport, **config.client_kwargs())
        self._sleep = sleep

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
        task_types = _task_types(tasks)
        retrying = self.config.retry.async_retrying(f"Runware {task_types}", sleep=self._sleep)
        result: tuple[int, Envelope] = await retrying(self._post_once, tasks, task_types)
        return result

    async def _post_once(self, tasks: Sequence[Mapping[str, Any]], task_types: str) -> tuple[int, Envelope]:
        try:
            async with self._http.stream("POST", self.config.base_url, json=list(tasks)) as response:
                cap = BodyCap(response, self.config, task_types)
                async for chunk in response.aiter_bytes():
                    cap.add(chunk)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, task_types) from None
        return response.status_code, decode_response(response, task_types, bytes(cap.body))

    async def call(self, call: Call[T]) -> T:
        status, envelope = await self.post_tasks(call.tasks)
        return call.parse(envelope, status)

    async def submit_video(self, request: Submittable, task_uuid: str) -> SubmitResult:
        return await self.call(submit_call(request, task_uuid))

    async def get_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        schemes = self.config.downloads.url_schemes
        return await self.call(get_responses_call(task_uuids, schemes)) if task_uuids else {}
