"""Airflow hook for Runware: a ``runware`` connection (password = API key, host = base URL, extras = the
numeric fields of :class:`ClientConfig` and :class:`RetryPolicy` by name) → a sync or async client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from pydantic import SecretStr

from airflow_provider_wan.client import (
    AsyncRunwareClient,
    ClientConfig,
    MediaUpload,
    RunwareClient,
    SubmitResult,
    delete_media_call,
    task_details_call,
    upload_media_call,
)
from airflow_provider_wan.connection import DEFAULT_BASE_URL, UI_FIELD_BEHAVIOUR
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.media.downloads import DownloadPolicy
from airflow_provider_wan.redaction import amask, redact_http_logs
from airflow_provider_wan.results import TaskState
from airflow_provider_wan.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_wan.generic import Submittable

# httpx logs every request's full URL at INFO: result and presigned URLs carry tokens in their query.
redact_http_logs()


def config_from_connection(conn: Connection) -> ClientConfig:
    """Build the client configuration from an Airflow connection (one place for sync and async).

    Refuses, before any request, a connection that is not of type ``runware`` (its password would go to
    Runware as a Bearer token) and a base URL holding credentials (``https://user:KEY@host``).
    """
    from airflow.sdk.log import mask_secret

    _check_type(conn)
    extra: Mapping[str, Any] = conn.extra_dejson or {}
    api_key = conn.password or extra.get("api_key") or ""
    if api_key:
        mask_secret(api_key)
    return _config(conn, extra, api_key)


async def aconfig_from_connection(conn: Connection) -> ClientConfig:
    """:func:`config_from_connection` for the event loop: the key is masked with Airflow's async API (the
    sync one would block on the triggerer's supervisor channel)."""
    _check_type(conn)
    # Not conn.extra_dejson: it masks the extras with the sync API (Airflow already masked them async).
    try:
        extra: Mapping[str, Any] = json.loads(conn.extra) if conn.extra else {}
    except ValueError:
        extra = None  # type: ignore[assignment]
    if not isinstance(extra, Mapping):
        raise RunwareError(
            "Connection extra is not a JSON object",
            code="invalidConnection",
            parameter="extra",
            retryable=False,
        )
    api_key = conn.password or extra.get("api_key") or ""
    if api_key:
        await amask(api_key)
    return _config(conn, extra, api_key)


def _check_type(conn: Connection) -> None:
    if conn.conn_type != RunwareHook.conn_type:
        raise RunwareError(
            f"Connection {conn.conn_id!r} is of type {conn.conn_type!r}, not {RunwareHook.conn_type!r}: "
            f"RunwareHook sends a connection's password to Runware as the API key, so it only takes "
            f"{RunwareHook.conn_type!r} connections",
            code="invalidConnection",
            parameter="conn_type",
            retryable=False,
        )


def _config(conn: Connection, extra: Mapping[str, Any], api_key: str) -> ClientConfig:
    def numbers(cls: type) -> dict[str, Any]:  # the dataclass's numeric fields, from same-named extras
        out: dict[str, Any] = {}
        for f in fields(cls):
            value = extra.get(f.name)
            if not isinstance(f.default, (int, float)) or value is None or value == "":
                continue
            try:
                out[f.name] = (int if isinstance(f.default, int) else float)(float(value))
            except (TypeError, ValueError):
                raise RunwareError(
                    f"Connection extra {f.name!r} must be a number",
                    code="invalidConnection",
                    parameter=f.name,
                ) from None
        return out

    retry = RetryPolicy(**numbers(RetryPolicy))
    downloads = DownloadPolicy.from_extras(extra)  # the download_* extras
    return ClientConfig(
        api_key=SecretStr(api_key),
        base_url=_base_url(conn),
        retry=retry,
        downloads=downloads,
        **numbers(ClientConfig),
    )


def _base_url(conn: Connection) -> str:
    """Base URL from the connection: a full URL in Host, or host/port/schema pieces (URI form)."""
    host, schema = (conn.host or "").strip(), conn.schema or ""
    if not host:
        return DEFAULT_BASE_URL
    if not host.startswith(("http://", "https://")):
        scheme, schema = (schema, "") if schema in ("http", "https") else ("https", schema)
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    netloc = f"{parts.netloc}:{conn.port}" if conn.port and ":" not in parts.netloc else parts.netloc
    # A URI like runware://http://:KEY@emulator:8765/v1 leaves the path in Schema.
    path = parts.path or (f"/{schema.strip('/')}" if schema else "/v1")
    return f"{parts.scheme}://{netloc}{path}".rstrip("/")


class RunwareHook(BaseHook):
    """Runware's REST API with a ``runware`` connection's key: sync calls and ``a``-prefixed async ones, each
    over one long-lived client (close it, or use the hook as a context manager).

    :param runware_conn_id: Airflow connection id (type ``runware``).
    """

    conn_name_attr = "runware_conn_id"
    default_conn_name = "runware_default"
    conn_type = "runware"
    hook_name = "Runware"

    def __init__(self, runware_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runware_conn_id = runware_conn_id
        self._async_client: AsyncRunwareClient | None = None

    def __repr__(self) -> str:
        return f"RunwareHook(runware_conn_id={self.runware_conn_id!r})"

    @cached_property
    def config(self) -> ClientConfig:
        return config_from_connection(self.get_connection(self.runware_conn_id))

    async def aconfig(self) -> ClientConfig:
        if "config" not in self.__dict__:
            conn = await self.aget_connection(self.runware_conn_id)
            self.__dict__["config"] = await aconfig_from_connection(conn)
        return self.config

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return UI_FIELD_BEHAVIOUR

    @cached_property
    def client(self) -> RunwareClient:
        return RunwareClient(self.config)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]

    def __enter__(self) -> RunwareHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit_video(self, request: Submittable, task_uuid: str) -> SubmitResult:
        """Submit a ``videoInference`` task; resubmitting an accepted UUID returns ``already_submitted``."""
        return self.client.submit_video(request, task_uuid)

    def get_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        """The state of many tasks in ONE HTTP request, keyed by task UUID."""
        return self.client.get_responses(task_uuids)

    def get_task_details(self, task_uuid: str) -> Mapping[str, Any]:
        return self.client.call(task_details_call(task_uuid))

    def upload_media(self, media: bytes | str, task_uuid: str | None = None) -> MediaUpload:
        """Store media (bytes, URL, data URI or base64) with ``mediaStorage``; a deterministic ``task_uuid``
        makes a resend answer ``conflictTaskUUID`` instead of storing twice."""
        return self.client.call(upload_media_call(media, task_uuid))

    def delete_media(self, media_uuid: str) -> None:
        self.client.call(delete_media_call(media_uuid))

    def test_connection(self) -> tuple[bool, str]:
        """Prove the key works without spending money: poll a task UUID that cannot exist (Runware answers
        a not-found error when the key is accepted, else an auth error)."""
        try:
            with RunwareClient(self.config) as client:
                client.get_responses([str(uuid.uuid4())])
        except RunwareError as err:
            if err.category != "not_found" and not (err.category == "validation" and err.http_status == 400):
                # str(err) is built from the server's message and our own text: it never holds the key.
                return False, f"Connection test failed: {err}"
        except Exception as err:  # the message must never echo configuration values
            return False, f"Connection test failed: {type(err).__name__}"
        return True, f"Connection to {self.config.base_url} works: API key accepted."

    async def aclient(self) -> AsyncRunwareClient:
        """The hook's long-lived async client (created on first use, in the running event loop)."""
        if self._async_client is None or self._async_client.is_closed:
            self._async_client = AsyncRunwareClient(await self.aconfig())
        return self._async_client

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    async def __aenter__(self) -> RunwareHook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def asubmit_video(self, request: Submittable, task_uuid: str) -> SubmitResult:
        return await (await self.aclient()).submit_video(request, task_uuid)

    async def aget_responses(self, task_uuids: Sequence[str]) -> dict[str, TaskState]:
        return await (await self.aclient()).get_responses(task_uuids)
