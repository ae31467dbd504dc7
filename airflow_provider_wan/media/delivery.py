"""uploadEndpoint delivery: Runware PUTs the video itself to a presigned S3 URL; we check it and file it.

One endpoint per request, so only for ``numberResults == 1`` (:func:`upload_endpoint_eligible`). Before
submitting: :func:`delivery_key` names the staging object ``{prefix}_delivered/{token}.{ext}`` and
:func:`presigned_put_url` signs a PUT to it. After: :func:`verify_delivered` checks and checksums the
object and moves it to the canonical key of :mod:`~airflow_provider_wan.media.landing` (giving a late PUT
a few seconds first), or returns ``None`` so the caller streams the video instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import retry_if_result

from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.media.formats import output_format_for
from airflow_provider_wan.media.landing import (
    LandedVideo,
    TaskFolder,
    content_length,
    default_http,
    object_metadata,
    safe_key_part,
    video_key,
)
from airflow_provider_wan.media.s3 import S3Location, move_object, normalize_prefix, s3_client, s3_failure
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.models import WanVideoRequest

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PRESIGN_PUT_EXPIRES = 12 * 3600  # must outlive queueing + generation of the task
# Runware may report success while its PUT is still under way: wait this long for the staged object
# before paying for a download of the whole video instead (polled with jittered backoff, at most 2 s apart).
DELIVERY_GRACE_SECONDS = 10.0
DELIVERY_WAIT = RetryPolicy(max_retries=100, backoff_base=0.25, backoff_max=2.0)


def upload_endpoint_eligible(request: WanVideoRequest) -> bool:
    """uploadEndpoint delivery works for one output per request (one endpoint, no per-result URL)."""
    return request.effective_number_results == 1 and request.upload_endpoint is None


def delivery_key(location: S3Location, token: str, output_format: str | None = "MP4") -> str:
    """The staging key Runware PUTs to: ``{prefix}_delivered/{token}.{ext}``.

    ``token`` must be known before submitting and unique to the task instance; the staging object is
    moved to the canonical key ``{prefix}{task_uuid}/00-{video_uuid}.{ext}`` once verified.
    """
    ext = output_format_for(output_format).ext
    return f"{normalize_prefix(location.key)}_delivered/{safe_key_part(token, 'token')}.{ext}"


def presigned_put_url(
    location: S3Location,
    key: str,
    *,
    aws_conn_id: str | None = "aws_default",
    expires: int = DEFAULT_PRESIGN_PUT_EXPIRES,
    s3: S3Client | None = None,
) -> str:
    """A presigned PUT URL for ``key`` (full key) in ``location``'s bucket, masked in Airflow logs.

    It carries a signature granting write access: pass it as the request's ``uploadEndpoint`` and never
    log it. It differs on every call, so it must not feed the request fingerprint.
    """
    from airflow.sdk.log import mask_secret

    client = s3 if s3 is not None else s3_client(aws_conn_id)
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": location.bucket, "Key": key}, ExpiresIn=expires, HttpMethod="PUT"
    )
    mask_secret(url)
    return url


def verify_delivered(
    video: VideoResult,
    *,
    task_uuid: str,
    location: S3Location,
    key: str,
    aws_conn_id: str | None = "aws_default",
    output_format: str | None = "MP4",
    check_url_size: bool = True,
    grace_seconds: float = 0.0,
    s3: S3Client | None = None,
    http_client: httpx.Client | None = None,
) -> LandedVideo | None:
    """Check an uploadEndpoint delivery at ``key`` (from :func:`delivery_key`) and file it like a copy.

    The object must exist with a plausible size (> 0, and equal to the videoURL's Content-Length when a
    HEAD can tell); its SHA-256 is streamed from S3; then it is moved (server-side copy with the usual
    metadata, then delete) to the canonical key, where landing finds it on reruns. Returns ``None`` when
    the object is missing or implausible (an implausible one is deleted): the caller then streams instead.
    Runware may report success while its PUT is still under way: a staged object not there yet is given
    ``grace_seconds`` to arrive (an implausible one is not waited for; a rerun finds the moved one at once).
    """
    client = s3 if s3 is not None else s3_client(aws_conn_id)
    bucket, staged = location.bucket, f"s3://{location.bucket}/{key}"
    fmt = output_format_for(output_format, key)
    final_key = video_key(location, task_uuid, 0, video, fmt.ext)
    folder = TaskFolder(client, location, task_uuid)
    try:
        found = folder.existing(video, final_key)  # a rerun: moved there already
        if found is not None:
            return found
        info = folder.head(key)
        if info is None and grace_seconds > 0:
            info = _await_staged(client, location, task_uuid, key, grace_seconds)
        if info is None:
            log.info("No delivered object at %s for task %s", staged, task_uuid)
            return None
        size = int(info.get("ContentLength", 0))
        expected = _url_size(video.video_url, http_client) if check_url_size and video.video_url else None
        if size == 0 or (expected is not None and size != expected):
            log.warning(
                "Delivered object %s has %d bytes (expected %s): deleting it and falling back to a copy",
                staged,
                size,
                expected if expected is not None else "> 0",
            )
            client.delete_object(Bucket=bucket, Key=key)
            return None
        hasher, received = hashlib.sha256(), 0
        for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(chunk_size=1 * MiB):
            hasher.update(chunk)
            received += len(chunk)
        if received != size:
            log.warning("Reading %s gave %d of %d bytes: falling back to a copy", staged, received, size)
            return None
        meta = object_metadata(task_uuid, video, hasher.hexdigest())
        move_object(client, bucket, key, final_key, size, fmt.mime, meta)
    except RunwareError:
        raise
    except Exception as exc:
        raise s3_failure(f"verifying the delivery at {staged}", exc, task_uuid) from None
    landed = LandedVideo(
        video, task_uuid, f"s3://{bucket}/{final_key}", meta["sha256"], size, fmt.mime, "upload_endpoint"
    )
    log.info("Verified the delivered video %s, now at %s (%d bytes)", video.video_uuid, landed.s3_uri, size)
    return landed


def _await_staged(client: S3Client, location: S3Location, task_uuid: str, key: str, grace: float) -> Any:
    """The staged object's HEAD once it arrives, polling with the one retry policy; None after ``grace`` s."""
    policy = dataclasses.replace(DELIVERY_WAIT, retry_max_seconds=grace)
    waiting = policy.retrying(
        f"Waiting for the delivery {key}", retry=retry_if_result(lambda info: info is None)
    )
    info = waiting(lambda: TaskFolder(client, location, task_uuid).head(key))
    if info is not None:
        log.info(
            "The uploadEndpoint delivery s3://%s/%s arrived after the task finished", location.bucket, key
        )
    return info


def _url_size(url: str, http_client: httpx.Client | None) -> int | None:
    """Content-Length of a URL by HEAD, or None when unknown (failures are fine: a plausibility check)."""
    client = http_client or default_http()
    try:
        response = client.head(url, headers={"Accept-Encoding": "identity"})
        return content_length(response) if response.status_code == 200 else None
    except httpx.HTTPError:
        return None
    finally:
        if http_client is None:
            client.close()
