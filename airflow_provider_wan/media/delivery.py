"""A task's outputs to S3, the one entry point for operator and sensor (:func:`land_task_outputs`).

Videos are streamed by :mod:`.landing`; with ``uploadEndpoint`` delivery (one result per request),
Runware PUTs the video to a presigned staging key ``{prefix}_delivered/{token}.{ext}`` and
:func:`verify_delivered` checks it and moves it to landing's canonical key, or returns ``None`` so the
video is streamed instead. docs/media.md has the details.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tenacity import retry_if_result

from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.media import landing
from airflow_provider_wan.media.downloads import DownloadPolicy, Fetcher
from airflow_provider_wan.media.formats import SNIFF_BYTES, output_format_for, sniff
from airflow_provider_wan.media.s3 import (
    S3Location,
    integrity_tags,
    move_object,
    normalize_prefix,
    s3_client,
    s3_failure,
)
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
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
    """The staging key Runware PUTs to: ``{prefix}_delivered/{token}.{ext}`` (``token``: known before
    submitting, unique to the task instance)."""
    ext = output_format_for(output_format).ext
    return f"{normalize_prefix(location.key)}_delivered/{landing.safe_key_part(token, 'token')}.{ext}"


def presigned_put_url(
    location: S3Location,
    key: str,
    *,
    aws_conn_id: str | None = "aws_default",
    expires: int = DEFAULT_PRESIGN_PUT_EXPIRES,
    s3: S3Client | None = None,
) -> str:
    """A presigned PUT URL for ``key`` in ``location``'s bucket, masked in Airflow logs (it grants write
    access). It differs on every call, so it must not feed the request fingerprint."""
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
    grace_seconds: float = 0.0,
    s3: S3Client | None = None,
    downloads: DownloadPolicy | None = None,
) -> landing.LandedVideo | None:
    """Check an uploadEndpoint delivery at ``key`` (from :func:`delivery_key`) and file it like a copy.

    The object must have a plausible size (> 0, and the videoURL's Content-Length when a HEAD by the
    ``downloads`` policy tells) and start like a video; its SHA-256 is streamed from S3 and it is moved to
    the canonical key. ``None`` when it is missing (after
    ``grace_seconds``) or implausible (then deleted): the caller streams instead.
    """
    client = s3 if s3 is not None else s3_client(aws_conn_id)
    bucket, staged = location.bucket, f"s3://{location.bucket}/{key}"
    fmt = output_format_for(output_format, key)
    final_key = landing.video_key(location, task_uuid, 0, video, fmt.ext)
    folder = landing.TaskFolder(client, location, task_uuid)
    try:
        found = folder.existing(video, final_key)  # a rerun: moved there already
        if found is not None:
            return found
        info = folder.head(key)
        if info is None and grace_seconds > 0:  # Runware's PUT may finish after the task reports success
            waiting = dataclasses.replace(DELIVERY_WAIT, retry_max_seconds=grace_seconds).retrying(
                f"Waiting for the delivery {staged}", retry=retry_if_result(lambda head: head is None)
            )
            info = waiting(lambda: landing.TaskFolder(client, location, task_uuid).head(key))
        if info is None:
            log.info("No delivered object at %s for task %s", staged, task_uuid)
            return None
        size = int(info.get("ContentLength", 0))
        expected = _url_size(video, task_uuid, downloads) if video.video_url else None
        if size == 0 or (expected is not None and size != expected):
            shown = "> 0" if expected is None else expected
            log.warning(
                "Delivered %s has %d bytes, not %s: deleting it, copying instead", staged, size, shown
            )
            client.delete_object(Bucket=bucket, Key=key)
            return None
        hasher, received, head = hashlib.sha256(), 0, b""
        for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(chunk_size=1 * MiB):
            hasher.update(chunk)
            received += len(chunk)
            head += chunk[: SNIFF_BYTES - len(head)]
        fmt_found = sniff(head)
        if fmt_found is None or fmt_found.kind != "video":
            log.warning("Delivered %s is not a video container: deleting it, copying instead", staged)
            client.delete_object(Bucket=bucket, Key=key)
            return None
        if received != size:
            log.warning("Reading %s gave %d of %d bytes: falling back to a copy", staged, received, size)
            return None
        sha256 = hasher.hexdigest()
        tags = integrity_tags(sha256, size)
        move_object(
            client, bucket, key, final_key, size, fmt.mime, landing.object_metadata(task_uuid, video), tags
        )
    except RunwareError:
        raise
    except Exception as exc:
        raise s3_failure(f"verifying the delivery at {staged}", exc, task_uuid) from None
    uri = f"s3://{bucket}/{final_key}"
    landed = landing.LandedVideo(video, task_uuid, uri, sha256, size, fmt.mime, "upload_endpoint")
    log.info("Verified the delivered video %s, now at %s (%d bytes)", video.video_uuid, landed.s3_uri, size)
    return landed


def _url_size(video: VideoResult, task_uuid: str, downloads: DownloadPolicy | None) -> int | None:
    """Content-Length of the video's URL by HEAD, or None when unknown (a plausibility check only)."""
    with Fetcher(downloads or DownloadPolicy(), task_uuid) as fetcher:
        return fetcher.size(str(video.video_url), f"video {video.video_uuid} of task {task_uuid}")


def land_task_outputs(
    videos: Sequence[VideoResult] | None = None,
    *,
    task_uuid: str,
    location: S3Location,
    aws_conn_id: str | None = "aws_default",
    hook: RunwareHook | None = None,
    output_format: str | None = "MP4",
    delivered: bool | str = False,
    delivery_grace_seconds: float = DELIVERY_GRACE_SECONDS,
    s3: S3Client | None = None,
    downloads: DownloadPolicy | None = None,
    **options: Any,
) -> list[landing.LandedVideo]:
    """Land every video of ``task_uuid`` under ``location`` (bucket and key prefix), in task order.

    :param videos: the task's successful results; ``None`` reads them with one getResponse through ``hook``.
    :param hook: refreshes expired URLs (and reads ``videos``); without it an expired URL is an error.
    :param delivered: the :func:`delivery_key` of an ``uploadEndpoint`` delivery: verified and filed
        instead of copying (copied as usual when missing or implausible; ``True`` without a key copies).
    :param delivery_grace_seconds: how long a delivery not there yet is waited for before copying.
    :param downloads: the download policy; ``None``: the ``hook``'s connection's, else the safe defaults.
    :param options: for :func:`~.landing.land_videos` (``chunk_size``, ``upload_concurrency``, ``retry``).
    """
    if videos is None:
        if hook is None:
            raise ValueError("land_task_outputs needs either videos or a hook to read them")
        state = hook.get_responses([task_uuid]).get(task_uuid)
        videos = list(state.results) if state is not None else []
    common: dict[str, Any] = {"task_uuid": task_uuid, "location": location, "aws_conn_id": aws_conn_id}
    if downloads is None and hook is not None:
        downloads = hook.config.downloads
    common |= {"output_format": output_format, "s3": s3, "downloads": downloads}
    if delivered and len(videos) == 1:
        if isinstance(delivered, str):
            landed = verify_delivered(
                videos[0], key=delivered, grace_seconds=delivery_grace_seconds, **common
            )
            if landed is not None:
                return [landed]
            log.warning("The uploadEndpoint delivery of task %s is not usable: copying the video", task_uuid)
        else:
            log.warning(
                "No delivery key given for task %s: copying the video instead of verifying", task_uuid
            )
    refresh = landing.runware_url_refresher(hook, task_uuid) if hook is not None else None
    return landing.land_videos(videos, refresh_url=refresh, **common, **options)
