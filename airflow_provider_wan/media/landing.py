"""Stream a task's output videos to S3 and record them: checksummed, idempotent, bounded in memory.

Keys are ``{prefix}{task_uuid}/{index:02d}-{video_uuid}.{ext}``; objects carry ``task-uuid``, ``video-uuid``,
``seed`` and ``cost`` metadata and ``sha256`` and ``size`` tags, so a rerun finds a landed video, checks its
bytes against them and copies nothing (or copies again over an object that does not match). Transient
failures are retried (:mod:`airflow_provider_wan.retry`); an expired URL is refreshed once, never
regenerated. docs/media.md explains the streaming, checks and memory bounds.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_wan.errors import InvalidRequestError, RunwareError, RunwareNotFoundError
from airflow_provider_wan.media.downloads import Download, DownloadPolicy, Fetcher, host_of
from airflow_provider_wan.media.formats import MediaFormat, output_format_for
from airflow_provider_wan.media.multipart import PartPlan, upload_stream
from airflow_provider_wan.media.s3 import (
    NOT_FOUND_CODES,
    S3Location,
    error_code,
    integrity_tags,
    normalize_prefix,
    put_tags,
    s3_client,
    s3_failure,
    sha256_checksum,
    tagging,
    verified_sha256,
)
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy, retry_after_seconds

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Part size and parts uploading at once, from B4 (docs/benchmarks.md): below 4 parts in flight the upload
# is slower, above it no faster; fewer, larger parts are faster. 5 buffers of 8 MiB: ~42 MB of RSS growth
# (10 MiB: ~59; the bound is 64).
DEFAULT_CHUNK_SIZE = 8 * MiB
DEFAULT_UPLOAD_CONCURRENCY = 4
EXPIRED_STATUSES = frozenset({403, 404, 410})
# Three tries per video, a few seconds apart: a CDN hiccup, not an outage, is what this absorbs.
LANDING_RETRY = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_max=20.0, retry_max_seconds=600.0)

LandMethod = Literal["stream", "existing", "upload_endpoint"]
RefreshUrl = Callable[[str], "str | None"]


@dataclass(frozen=True)
class LandedVideo:
    """One video in S3, with the result it came from. ``method="existing"``: it was there already."""

    video: VideoResult
    task_uuid: str
    s3_uri: str
    sha256: str
    size_bytes: int
    content_type: str
    method: LandMethod = "stream"

    @property
    def video_uuid(self) -> str:
        return self.video.video_uuid

    @property
    def skipped(self) -> bool:
        """Nothing was copied: a rerun found the video landed already."""
        return self.method == "existing"


def object_key(prefix: str, task_uuid: str, index: int, video_uuid: str, ext: str) -> str:
    """``{prefix}{task_uuid}/{index:02d}-{video_uuid}.{ext}``: stable across reruns."""
    return f"{normalize_prefix(prefix)}{task_uuid}/{index:02d}-{video_uuid}.{ext}"


def safe_key_part(value: str, what: str) -> str:
    # UUIDs in practice; anything else must not be able to escape the task's folder.
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value) or value in (".", ".."):
        raise InvalidRequestError(f"{what} {value[:60]!r} cannot be used in an S3 key", parameter=what)
    return value


def video_key(location: S3Location, task_uuid: str, index: int, video: VideoResult, ext: str) -> str:
    """The canonical key of a video; a video UUID that is not key-safe is replaced by a digest of it."""
    vid = video.video_uuid
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", vid) or vid in (".", ".."):
        vid = "v" + hashlib.sha256(vid.encode()).hexdigest()[:32]
    return object_key(location.key, safe_key_part(task_uuid, "task_uuid"), index, vid, ext)


def object_metadata(task_uuid: str, video: VideoResult) -> dict[str, str]:
    """What is known before the first byte; the digest and size go in tags (``s3.integrity_tags``)."""
    seed, cost = video.seed, video.cost
    meta: dict[str, str | None] = {"task-uuid": task_uuid, "video-uuid": video.video_uuid}
    meta |= {"seed": None if seed is None else str(seed), "cost": None if cost is None else repr(cost)}
    return {name: value for name, value in meta.items() if value is not None}


class TaskFolder:
    """What one task's folder holds already: listed once, each object HEADed at most once."""

    def __init__(self, s3: S3Client, location: S3Location, task_uuid: str) -> None:
        self.s3 = s3
        self.bucket = location.bucket
        self.folder = f"{normalize_prefix(location.key)}{task_uuid}/"
        self.task_uuid = task_uuid
        self._keys: list[str] | None = None
        self._heads: dict[str, Mapping[str, Any] | None] = {}

    def keys(self) -> list[str]:
        if self._keys is None:
            try:
                pages = self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.folder
                )
                # An empty page has no Contents: JMESPath yields None for it, not a key.
                self._keys = [str(key) for key in pages.search("Contents[].Key") if key is not None]
            except Exception as exc:
                raise s3_failure(f"listing s3://{self.bucket}/{self.folder}", exc, self.task_uuid) from None
        return self._keys

    def head(self, key: str) -> Mapping[str, Any] | None:
        if key not in self._heads:
            try:
                self._heads[key] = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            except Exception as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise s3_failure(f"HEAD s3://{self.bucket}/{key}", exc, self.task_uuid) from None
                self._heads[key] = None
        return self._heads[key]

    def existing(self, video: VideoResult, key: str) -> LandedVideo | None:
        """An object of this task already holding this video: same video-uuid, and bytes that match the
        SHA-256 and size it records. One that does not match is reported and ignored (copied over)."""
        # The expected key first, then keys naming the video, then the rest.
        for candidate in sorted(self.keys(), key=lambda k: (k != key, video.video_uuid not in k)):
            info = self.head(candidate)
            meta = {k.lower(): v for k, v in ((info or {}).get("Metadata") or {}).items()}
            if info is None or meta.get("video-uuid") != video.video_uuid:
                continue
            uri, size = f"s3://{self.bucket}/{candidate}", int(info.get("ContentLength", 0))
            try:  # never trusted on its word: size and SHA-256 are checked against the bytes
                sha256 = verified_sha256(self.s3, self.bucket, candidate, info)
            except Exception as exc:
                if error_code(exc) in NOT_FOUND_CODES - {"NoSuchBucket"}:
                    continue  # deleted since the listing
                raise s3_failure(f"checking {uri}", exc, self.task_uuid) from None
            if sha256 is not None:
                content_type = str(info.get("ContentType", ""))
                return LandedVideo(video, self.task_uuid, uri, sha256, size, content_type, "existing")
        return None


class _Expired(Exception):
    """The URL answered 403/404/410 (or there is none): refresh it, never retry it."""


@dataclass(frozen=True)
class _Lander:
    """Copies the videos of one task (one S3 client, one HTTP client, one listing of the task folder)."""

    folder: TaskFolder
    location: S3Location
    output_format: str | None
    fetcher: Fetcher
    retry: RetryPolicy
    parts: PartPlan  # part size and parts uploading at once

    def land(self, index: int, video: VideoResult, refresh_url: RefreshUrl | None) -> LandedVideo:
        fmt = output_format_for(self.output_format, video.video_url)
        key = video_key(self.location, self.folder.task_uuid, index, video, fmt.ext)
        task_uuid = self.folder.task_uuid
        found = self.folder.existing(video, key)
        if found is not None:
            log.info("Video %s is already at %s: skipped", video.video_uuid, found.s3_uri)
            return found
        what = f"video {video.video_uuid} of task {task_uuid}"
        copy = self.retry.retrying(f"Copying {what} to S3")
        url, how = video.video_url, "and no way to refresh the URL was given"
        for refresh in (refresh_url, None):
            try:
                if not url:
                    raise _Expired("no videoURL")
                landed: LandedVideo = copy(self._copy, url, key, video, fmt, what)
                return landed
            except _Expired as exc:
                reason = str(exc)
            if refresh is None:
                break
            log.warning("Download of %s failed (%s): asking Runware for a fresh URL once", what, reason)
            url, how = refresh(video.video_uuid), "even after refreshing its URL once"
            if not url:
                how = "and Runware returned no fresh URL for it"
                break
        raise _gone(video, task_uuid, reason, how)

    def _copy(self, url: str, key: str, video: VideoResult, fmt: MediaFormat, what: str) -> LandedVideo:
        with self.fetcher.open("GET", url, what) as fetched:
            status = fetched.response.status_code
            if status in EXPIRED_STATUSES:
                raise _Expired(f"HTTP {status}")
            if status != 200:
                raise RunwareError(
                    f"Downloading {what} from {host_of(url)} answered HTTP {status}",
                    task_uuid=self.folder.task_uuid,
                    http_status=status,
                    details={
                        "video_uuid": video.video_uuid,
                        "retry_after": retry_after_seconds(fetched.response.headers),
                    },
                )
            return self._store(fetched.body(), key, video, fmt)

    def _store(self, download: Download, key: str, video: VideoResult, fmt: MediaFormat) -> LandedVideo:
        bucket, task_uuid, s3 = self.folder.bucket, self.folder.task_uuid, self.folder.s3
        meta = object_metadata(task_uuid, video)
        try:
            if download.expected is not None and download.expected <= self.parts.part_size:
                data = io.BufferedReader(download).read()
                sha256 = download.sha256.hexdigest()
                # One request: S3 checks the bytes against the SHA-256 and keeps it as the object's checksum.
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=data,
                    ContentType=fmt.mime,
                    Metadata=meta,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=sha256_checksum(sha256),
                    Tagging=tagging(integrity_tags(sha256, len(data))),
                )
            else:
                extra = {"ContentType": fmt.mime, "Metadata": meta}
                upload_stream(s3, download, bucket, key, extra, self.parts)
                sha256 = download.sha256.hexdigest()  # known only now: recorded in tags, not by a copy
                put_tags(s3, bucket, key, integrity_tags(sha256, download.received))
        except RunwareError:
            raise
        except Exception as exc:
            raise s3_failure(f"writing s3://{bucket}/{key}", exc, task_uuid) from None
        landed = LandedVideo(video, task_uuid, f"s3://{bucket}/{key}", sha256, download.received, fmt.mime)
        log.info(
            "Landed video %s at %s (%d bytes, sha256 %s)",
            video.video_uuid,
            landed.s3_uri,
            landed.size_bytes,
            landed.sha256,
        )
        return landed


def _gone(video: VideoResult, task_uuid: str, reason: str, how: str) -> RunwareError:
    return RunwareNotFoundError(
        f"Output video {video.video_uuid} of task {task_uuid} cannot be downloaded ({reason}) {how}; its URL "
        "has probably expired (raise the request's ttl, land outputs sooner). It is not regenerated.",
        code="mediaExpired",
        category="not_found",
        task_uuid=task_uuid,
        retryable=False,
        details={"video_uuid": video.video_uuid},
    )


def land_videos(
    videos: Sequence[VideoResult],
    *,
    task_uuid: str,
    location: S3Location,
    aws_conn_id: str | None = "aws_default",
    refresh_url: RefreshUrl | None = None,
    output_format: str | None = "MP4",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
    retry: RetryPolicy = LANDING_RETRY,
    s3: S3Client | None = None,
    downloads: DownloadPolicy | None = None,
) -> list[LandedVideo]:
    """Copy each video of a task (results in task order) under ``location`` (bucket and key prefix).

    :param refresh_url: called at most once per video after a 403/404/410, returns a fresh URL or None.
    :param output_format: the request's ``outputFormat``; the URL's extension wins when it has one.
    :param chunk_size: multipart part size and the single-PUT threshold (at least 5 MiB); memory stays at
        about ``(upload_concurrency + 1) x chunk_size``.
    :param downloads: the download policy (:mod:`.downloads`); ``None``: the safe defaults (https only,
        public addresses only).
    :raises RunwareNotFoundError: a URL expired and could not be refreshed (names task and video UUIDs).
    :raises DownloadRefused: the policy refused a URL, an address, the size or a body that is no video.
    """
    parts = PartPlan(chunk_size, max(1, upload_concurrency))  # checked before any download or S3 call
    safe_key_part(task_uuid, "task_uuid")
    fetcher = Fetcher(downloads or DownloadPolicy(), task_uuid)
    try:
        folder = TaskFolder(s3 if s3 is not None else s3_client(aws_conn_id), location, task_uuid)
        lander = _Lander(folder, location, output_format, fetcher, retry, parts)
        return [lander.land(index, video, refresh_url) for index, video in enumerate(videos)]
    finally:
        fetcher.close()


def runware_url_refresher(hook: RunwareHook, task_uuid: str) -> RefreshUrl:
    """A ``refresh_url`` asking Runware for a video's current URL: getResponse, then getTaskDetails."""

    def refresh(video_uuid: str) -> str | None:
        try:
            state = hook.get_responses([task_uuid]).get(task_uuid)
            for result in state.results if state is not None else []:
                if result.video_uuid == video_uuid and result.video_url:
                    return result.video_url
        except RunwareError as exc:
            log.warning("getResponse for task %s failed while refreshing a URL: %s", task_uuid, exc)
        try:
            details = hook.get_task_details(task_uuid)
        except RunwareError as exc:
            log.warning("getTaskDetails for task %s failed while refreshing a URL: %s", task_uuid, exc)
            return None
        response: Any = details.get("response")
        data: Any = response.get("data") if isinstance(response, Mapping) else response
        for item in data if isinstance(data, list) else []:
            if isinstance(item, Mapping) and item.get("videoUUID") == video_uuid:
                return item.get("videoURL") or None
        return None

    return refresh
