"""Resolve checked media references into what Runware accepts: inline, upload, or presign.

Images up to :attr:`~.checks.MediaLimits.inline_image_max_bytes` read from files or S3 go inline as data
URIs; larger images and every local/S3/inline video and audio are stored with ``mediaStorage`` and
replaced by their media UUID; with ``s3_input_mode="presigned_url"`` S3 objects are handed to Runware as
presigned GET URLs (masked in logs) instead. The result is the validated request's
``model_copy`` with the references replaced (:meth:`WanVideoRequest.with_media`).

Uploads are idempotent without local state: the upload's ``taskUUID`` derives from the content's SHA-256
and a caller scope. A retried task (or a retried POST whose answer was lost) sends the same UUID again;
Runware refuses it with ``conflictTaskUUID`` and does not replay its answer, so the media UUID is
recovered from ``getTaskDetails`` of that task.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_wan.errors import RunwareConflictError, RunwareError
from airflow_provider_wan.idempotency import media_task_uuid
from airflow_provider_wan.media.checks import (
    DEFAULT_LIMITS,
    Checked,
    CheckedInputs,
    MediaLimits,
    S3InputMode,
    check_media_inputs,
    s3_error,
)
from airflow_provider_wan.media.formats import MediaKind
from airflow_provider_wan.media.references import SourceForm

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.models import WanVideoRequest

log = logging.getLogger(__name__)

ResolvedForm = Literal["uuid", "url", "data_uri", "base64", "media_storage", "presigned_url"]
# If an earlier upload under a derived UUID failed, its UUID is burnt; the next derivation is tried.
MAX_DERIVATIONS = 3


@dataclass(frozen=True)
class ResolvedMedia:
    """What happened to one media reference; safe to log (no URLs with credentials, no base64)."""

    parameter: str
    kind: MediaKind
    source: str
    source_form: SourceForm
    form: ResolvedForm
    media_format: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    media_uuid: str | None = None
    duration_seconds: float | None = None
    reused: bool = False  # an earlier attempt (conflictTaskUUID) or an identical input in this call stored it

    def describe(self) -> str:
        parts = [f"{self.parameter}: {self.source} -> {self.form}"]
        parts += [f"mediaUUID={self.media_uuid}"] if self.media_uuid else []
        parts += [self.media_format] if self.media_format else []
        parts += [f"{self.size_bytes} bytes"] if self.size_bytes is not None else []
        parts += [f"{self.duration_seconds:.2f}s"] if self.duration_seconds is not None else []
        parts += ["reused"] if self.reused else []
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ResolvedInputs:
    """The request with every reference replaced by a UUID, URL or data URI, and what it took."""

    request: WanVideoRequest
    input_video_seconds: float | None
    media: tuple[ResolvedMedia, ...] = ()

    @property
    def uploads(self) -> list[ResolvedMedia]:
        return [m for m in self.media if m.form == "media_storage"]

    @property
    def unprobed_videos(self) -> list[str]:
        """Parameters of video inputs whose length was not measured (UUID/URL inputs, unreadable headers)."""
        return [m.parameter for m in self.media if m.kind == "video" and m.duration_seconds is None]

    def to_dict(self) -> dict[str, Any]:
        """Small JSON-safe summary (for XCom or logs): never the media or a presigned URL."""
        return {"input_video_seconds": self.input_video_seconds, "media": [m.to_dict() for m in self.media]}


@dataclass(frozen=True)
class StoredMedia:
    media_uuid: str
    media_url: str | None
    task_uuid: str
    recovered: bool  # True: an earlier attempt had stored it (conflict answered, getTaskDetails used)


def media_from_task_details(details: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(mediaUUID, mediaURL)`` stored in a ``getTaskDetails`` item, accepting every plausible shape."""
    response: Any = details.get("response")
    items: list[Any] = [details]
    if isinstance(response, Mapping):
        data = response.get("data")
        items += [data] if isinstance(data, Mapping) else list(data) if isinstance(data, list) else [response]
    elif isinstance(response, list):
        items += response
    for item in items:
        if not isinstance(item, Mapping):
            continue
        media_uuid = item.get("mediaUUID") or item.get("imageUUID")
        media_url = item.get("mediaURL") or item.get("imageURL")
        if isinstance(media_uuid, str) and media_uuid:
            return media_uuid, media_url if isinstance(media_url, str) and media_url else None
    return None, None


def upload_with_task_uuid(hook: RunwareHook, media: bytes | str, *, task_uuid: str) -> StoredMedia:
    """``mediaStorage`` upload under a chosen task UUID; a conflict is resolved via getTaskDetails.

    Raises :class:`RunwareConflictError` when the UUID was used by a task whose details hold no media
    (e.g. that earlier upload failed); :func:`upload_idempotent` then moves to the next derived UUID.
    """
    try:
        upload = hook.upload_media(media, task_uuid=task_uuid)
    except RunwareConflictError:
        media_uuid, media_url = media_from_task_details(hook.get_task_details(task_uuid))
        if media_uuid is None:
            raise RunwareConflictError(
                f"mediaStorage task {task_uuid} was used before but its details hold no mediaUUID",
                code="conflictTaskUUID",
                task_uuid=task_uuid,
                retryable=False,
            ) from None
        log.info("mediaStorage task %s had already stored media %s: reusing it", task_uuid, media_uuid)
        return StoredMedia(media_uuid, media_url, task_uuid, recovered=True)
    return StoredMedia(upload.media_uuid, upload.media_url, task_uuid, recovered=False)


def upload_idempotent(hook: RunwareHook, media: bytes, *, content_sha256: str, scope: str) -> StoredMedia:
    """Store ``media`` once per (content, scope), across task retries and lost answers."""
    last: RunwareError | None = None
    for attempt in range(MAX_DERIVATIONS):
        task_uuid = media_task_uuid(content_sha256, scope, attempt)
        try:
            return upload_with_task_uuid(hook, media, task_uuid=task_uuid)
        except RunwareConflictError as exc:
            log.warning(
                "mediaStorage task %s is burnt (%s); trying the next derived UUID", task_uuid, exc.message
            )
            last = exc
    assert last is not None
    raise last


class _Resolver:
    """Resolves the checked references of one request; same bytes twice or one S3 object twice: once."""

    def __init__(self, checked: CheckedInputs, hook: RunwareHook | None, scope: str) -> None:
        self.checker, self.hook, self.scope = checked.checker, hook, scope
        self.by_sha: dict[str, ResolvedMedia] = {}
        self.presigned: dict[str, str] = {}

    def resolve(self, checked: Checked) -> tuple[str, ResolvedMedia]:
        ref = checked.ref
        value = ref.value.strip()
        report = ResolvedMedia(
            parameter=ref.parameter,
            kind=ref.kind,
            source=checked.source,
            source_form=ref.form,
            form="uuid",
            media_format=checked.fmt.name if checked.fmt else None,
            size_bytes=checked.size,
            duration_seconds=checked.duration,
        )
        if ref.form == "uuid":
            return value, replace(report, media_uuid=value)
        if ref.form == "url" or (ref.kind == "image" and ref.form in ("data_uri", "base64")):
            return value, replace(report, form=ref.form)  # type: ignore[arg-type]
        if ref.form == "s3" and self.checker.mode == "presigned_url":
            return self._presign(checked), replace(report, form="presigned_url")
        data = self.checker.read(checked)
        digest = hashlib.sha256(data).hexdigest()
        report = replace(report, sha256=digest, size_bytes=len(data))
        assert checked.fmt is not None
        if ref.kind == "image" and len(data) <= self.checker.limits.inline_image_max_bytes:
            uri = f"data:{checked.fmt.mime};base64,{base64.b64encode(data).decode('ascii')}"
            return uri, replace(report, form="data_uri")
        earlier = self.by_sha.get(digest)
        if earlier is not None and earlier.media_uuid:
            # The same bytes twice in one request (e.g. one clip from a file and from S3): store once.
            return earlier.media_uuid, replace(
                report, form="media_storage", media_uuid=earlier.media_uuid, reused=True
            )
        if self.hook is None:
            raise RunwareError(
                f"{ref.parameter}: {checked.source} must go to mediaStorage, but no RunwareHook was given",
                code="missingHook",
                category="validation",
                parameter=ref.parameter,
                retryable=False,
            )
        stored = upload_idempotent(self.hook, data, content_sha256=digest, scope=self.scope)
        resolved = replace(
            report, form="media_storage", media_uuid=stored.media_uuid, reused=stored.recovered
        )
        self.by_sha[digest] = resolved
        return stored.media_uuid, resolved

    def _presign(self, checked: Checked) -> str:
        from airflow.sdk.log import mask_secret

        location = checked.location
        assert location is not None
        if location.uri not in self.presigned:
            s3 = self.checker.s3
            url = self.checker.s3_call(
                checked.ref,
                checked.source,
                lambda: s3.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": location.bucket, "Key": location.key},
                    ExpiresIn=self.checker.presign_expires,
                ),
            )
            if not isinstance(url, str):
                raise s3_error(checked.ref, checked.source, RuntimeError("no presigned URL returned"))
            mask_secret(url)  # the signature grants read access: never let it reach a task log
            self.presigned[location.uri] = url
        return self.presigned[location.uri]


def resolve(checked: CheckedInputs, *, hook: RunwareHook | None, scope: str) -> ResolvedInputs:
    """Upload / inline / presign every checked reference and return the submittable request.

    :param hook: used for ``mediaStorage`` uploads (``None`` is fine when nothing needs uploading).
    :param scope: idempotency scope of uploads, e.g. ``f"{dag_id}/{run_id}"``: the same content in the
        same scope is stored once, however often the task is retried.
    """
    resolver = _Resolver(checked, hook, scope)
    values: dict[str, str] = {}
    media: list[ResolvedMedia] = []
    for item in checked.items:
        value, report = resolver.resolve(item)
        values[item.ref.parameter] = value
        media.append(report)
        log.info("Media input %s", report.describe())
    return ResolvedInputs(checked.request.with_media(values), checked.input_video_seconds, tuple(media))


def resolve_media_inputs(
    request: WanVideoRequest | Mapping[str, Any] | str,
    *,
    hook: RunwareHook | None,
    aws_conn_id: str | None = "aws_default",
    scope: str,
    s3_input_mode: S3InputMode = "upload",
    input_video_seconds: float | None = None,
    limits: MediaLimits | None = None,
    presign_expires: int = 6 * 3600,
    s3: S3Client | None = None,
) -> ResolvedInputs:
    """:func:`~.checks.check_media_inputs` then :func:`resolve`; call those two yourself to decide
    something (e.g. a budget) between the checks and the uploads. ``limits=None``: ``DEFAULT_LIMITS``."""
    checked = check_media_inputs(
        request,
        aws_conn_id=aws_conn_id,
        s3_input_mode=s3_input_mode,
        input_video_seconds=input_video_seconds,
        limits=limits,
        presign_expires=presign_expires,
        s3=s3,
    )
    return resolve(checked, hook=hook, scope=scope)


__all__ = [
    "DEFAULT_LIMITS",
    "ResolvedInputs",
    "ResolvedMedia",
    "StoredMedia",
    "resolve",
    "resolve_media_inputs",
    "upload_idempotent",
]
