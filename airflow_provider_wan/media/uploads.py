"""Resolve checked media references into what Runware accepts: inline, upload, or presign.

Small images from files or S3 go inline as data URIs; larger images and every local/S3/inline video and
audio go to ``mediaStorage`` (replaced by their media UUID); with ``s3_input_mode="presigned_url"`` S3
objects are handed over as presigned GET URLs (masked in logs). Uploads are idempotent without local
state: the ``taskUUID`` derives from the content's SHA-256 and a caller scope; a resend is refused with
``conflictTaskUUID`` and the media UUID is recovered from ``getTaskDetails`` (see docs/media.md).
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
from airflow_provider_wan.media.checks import Checked, CheckedInputs, check_media_inputs
from airflow_provider_wan.media.formats import MediaKind
from airflow_provider_wan.media.references import SourceForm

if TYPE_CHECKING:
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
        extras = (
            f"mediaUUID={self.media_uuid}" if self.media_uuid else None,
            self.media_format,
            f"{self.size_bytes} bytes" if self.size_bytes is not None else None,
            f"{self.duration_seconds:.2f}s" if self.duration_seconds is not None else None,
            "reused" if self.reused else None,
        )
        return " ".join([f"{self.parameter}: {self.source} -> {self.form}", *filter(None, extras)])


@dataclass(frozen=True)
class ResolvedInputs:
    """The request with every reference replaced by a UUID, URL or data URI, and what it took."""

    request: WanVideoRequest
    input_video_seconds: float | None
    media: tuple[ResolvedMedia, ...] = ()

    @property
    def unprobed_videos(self) -> list[str]:
        """Parameters of video inputs whose length was not measured (UUID/URL inputs, unreadable headers)."""
        return [m.parameter for m in self.media if m.kind == "video" and m.duration_seconds is None]

    def to_dict(self) -> dict[str, Any]:
        """Small JSON-safe summary (for XCom or logs): never the media or a presigned URL."""
        return {"input_video_seconds": self.input_video_seconds, "media": [asdict(m) for m in self.media]}


def media_from_task_details(details: Mapping[str, Any]) -> str | None:
    """The ``mediaUUID`` stored in a ``getTaskDetails`` item, accepting every plausible shape."""
    response: Any = details.get("response")
    data: Any = response.get("data", response) if isinstance(response, Mapping) else response
    for item in [details, *(data if isinstance(data, list) else [data])]:
        media_uuid = item.get("mediaUUID") or item.get("imageUUID") if isinstance(item, Mapping) else None
        if isinstance(media_uuid, str) and media_uuid:
            return media_uuid
    return None


def upload_idempotent(
    hook: RunwareHook, media: bytes, *, content_sha256: str, scope: str
) -> tuple[str, bool]:
    """Store ``media`` once per (content, scope), across task retries and lost answers.

    Returns the media UUID and whether an earlier attempt had stored it. A conflicting UUID whose task
    details hold no media is burnt (that upload failed): the next derived UUID is tried.
    """
    for attempt in range(MAX_DERIVATIONS):
        task_uuid = media_task_uuid(content_sha256, scope, attempt)
        try:
            return hook.upload_media(media, task_uuid=task_uuid).media_uuid, False
        except RunwareConflictError:
            media_uuid = media_from_task_details(hook.get_task_details(task_uuid))
        if media_uuid is not None:
            log.info("mediaStorage task %s had already stored media %s: reusing it", task_uuid, media_uuid)
            return media_uuid, True
        log.warning("mediaStorage task %s is burnt (no mediaUUID in its details); trying the next", task_uuid)
    raise RunwareConflictError(
        f"mediaStorage task {task_uuid} was used before but its details hold no mediaUUID",
        code="conflictTaskUUID",
        task_uuid=task_uuid,
        retryable=False,
    )


class _Resolver:
    """Resolves the checked references of one request; same bytes twice or one S3 object twice: once."""

    def __init__(self, checked: CheckedInputs, hook: RunwareHook | None, scope: str) -> None:
        self.checker, self.hook, self.scope = checked.checker, hook, scope
        self.by_sha: dict[str, str] = {}
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
        # The same bytes twice in one request (e.g. one clip from a file and from S3): stored once.
        reused = digest in self.by_sha
        if not reused:
            if self.hook is None:
                raise RunwareError(
                    f"{ref.parameter}: {checked.source} must go to mediaStorage, but no hook was given",
                    code="missingHook",
                    category="validation",
                    parameter=ref.parameter,
                    retryable=False,
                )
            self.by_sha[digest], reused = upload_idempotent(
                self.hook, data, content_sha256=digest, scope=self.scope
            )
        media_uuid = self.by_sha[digest]
        return media_uuid, replace(report, form="media_storage", media_uuid=media_uuid, reused=reused)

    def _presign(self, checked: Checked) -> str:
        from airflow.sdk.log import mask_secret

        location = checked.location
        assert location is not None
        if location.uri not in self.presigned:
            with self.checker.s3_errors(checked.ref, checked.source):
                url = self.checker.s3.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": location.bucket, "Key": location.key},
                    ExpiresIn=self.checker.presign_expires,
                )
            mask_secret(url)  # the signature grants read access: never let it reach a task log
            self.presigned[location.uri] = url
        return self.presigned[location.uri]


def resolve(checked: CheckedInputs, *, hook: RunwareHook | None, scope: str) -> ResolvedInputs:
    """Upload / inline / presign every checked reference and return the submittable request.

    :param hook: for ``mediaStorage`` uploads (``None`` is fine when nothing needs uploading).
    :param scope: idempotency scope of uploads, e.g. ``f"{dag_id}/{run_id}"``.
    """
    resolver = _Resolver(checked, hook, scope)
    values: dict[str, str] = {}
    media: list[ResolvedMedia] = []
    for item in checked.items:
        values[item.ref.parameter], report = resolver.resolve(item)
        media.append(report)
        log.info("Media input %s", report.describe())
    return ResolvedInputs(checked.request.with_media(values), checked.input_video_seconds, tuple(media))


def resolve_media_inputs(
    request: WanVideoRequest | Mapping[str, Any] | str,
    *,
    hook: RunwareHook | None,
    scope: str,
    **options: Any,
) -> ResolvedInputs:
    """:func:`~.checks.check_media_inputs` (``options`` go there) then :func:`resolve`; call those two
    yourself to decide something (e.g. a budget) between the checks and the uploads."""
    return resolve(check_media_inputs(request, **options), hook=hook, scope=scope)
