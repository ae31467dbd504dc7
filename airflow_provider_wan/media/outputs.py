"""Land generated videos in S3 before their URLs expire: streamed, checksummed, idempotent.

One implementation serves the operator and the sensor flow:
:func:`airflow_provider_wan.media.landing.land_task_outputs` lands any task, wherever it was submitted,
with the same :func:`land_videos`.

* Keys are deterministic: ``{prefix}{task_uuid}/{index:02d}-{video_uuid}.{ext}``.
* Each video is streamed from its ``videoURL`` into S3 (one ``PutObject`` when it fits in one chunk, else
  a multipart upload of ``chunk_size`` parts, a few uploading while the download goes on): memory stays
  bounded by a few chunks, whatever the size.
  Content-Length is checked against the bytes received and SHA-256 is computed on the fly; a failed copy
  aborts its multipart upload, so no half-written object ever becomes visible.
* Objects carry metadata ``task-uuid``, ``video-uuid``, ``seed``, ``cost`` and ``sha256``. Before copying,
  the task's folder is listed: an object with the same ``video-uuid`` and a ``sha256`` means the video
  was landed already (``skipped=True``), so a rerun copies nothing.
* A 403/404/410 on download means an expired URL: it is refreshed ONCE through the caller's
  ``refresh_url(video_uuid)``; otherwise a :class:`~airflow_provider_wan.errors.RunwareNotFoundError`
  names the task and video UUIDs. Nothing is ever regenerated.

Direct delivery: Runware can PUT the output itself to a presigned S3 URL passed as ``uploadEndpoint``
(:func:`presigned_put_url`); one endpoint per request, so only for ``numberResults == 1``
(:func:`upload_endpoint_eligible`). :func:`verify_delivered` then checks and checksums the object and
moves it to its canonical key, or returns ``None`` so the caller falls back to :func:`land_videos`.

boto3 is imported lazily (through the amazon provider's S3Hook) so that DAG parsing never loads it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import queue
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import httpx

from airflow_provider_wan.errors import (
    InvalidRequestError,
    RunwareError,
    RunwareNotFoundError,
    RunwareTransportError,
)
from airflow_provider_wan.media.formats import MediaFormat, output_format_for
from airflow_provider_wan.media.s3 import (
    NOT_FOUND_CODES,
    S3Location,
    error_code,
    normalize_prefix,
    parse_s3_uri,
)
from airflow_provider_wan.media.s3 import s3_client as _s3_client
from airflow_provider_wan.responses import VideoResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.models import WanVideoRequest

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every multipart part but the last
SINGLE_COPY_MAX = 5 * 1024 * MiB  # CopyObject limit; larger objects use a managed multipart copy
EXPIRED_STATUSES = frozenset({403, 404, 410})
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_PRESIGN_PUT_EXPIRES = 12 * 3600  # must outlive queueing + generation of the task

LandMethod = Literal["stream", "existing", "upload_endpoint"]
RefreshUrl = Callable[[str], "str | None"]


@dataclass(frozen=True)
class LandedVideo:
    """One video in S3. ``skipped``: it was there already (rerun), nothing was copied."""

    video_uuid: str
    s3_uri: str
    sha256: str
    size_bytes: int
    skipped: bool
    task_uuid: str = ""
    content_type: str = ""
    method: LandMethod = "stream"

    def to_dict(self) -> dict[str, Any]:
        return {
            "video_uuid": self.video_uuid,
            "s3_uri": self.s3_uri,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "skipped": self.skipped,
            "task_uuid": self.task_uuid,
            "content_type": self.content_type,
            "method": self.method,
        }


@dataclass(frozen=True)
class _Video:
    video_uuid: str
    video_url: str | None
    seed: int | None
    cost: float | None


def _as_video(item: Mapping[str, Any] | VideoResult) -> _Video:
    if isinstance(item, VideoResult):
        return _Video(item.video_uuid, item.video_url, item.seed, item.cost)
    video_uuid = item.get("video_uuid") or item.get("videoUUID")
    url = item.get("video_url") or item.get("videoURL")
    if not isinstance(video_uuid, str) or not video_uuid:
        raise InvalidRequestError("each video needs a video_uuid", parameter="videos")
    seed, cost = item.get("seed"), item.get("cost")
    return _Video(
        video_uuid=video_uuid,
        video_url=url if isinstance(url, str) and url else None,
        seed=int(seed) if isinstance(seed, (int, float)) and not isinstance(seed, bool) else None,
        cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


def object_key(prefix: str, task_uuid: str, index: int, video_uuid: str, ext: str) -> str:
    """``{prefix}{task_uuid}/{index:02d}-{video_uuid}.{ext}``: stable across reruns."""
    return f"{normalize_prefix(prefix)}{task_uuid}/{index:02d}-{video_uuid}.{ext}"


def _safe_key_part(value: str, what: str) -> str:
    # UUIDs in practice; anything else must not be able to escape the task's folder.
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value) or value in (".", ".."):
        raise InvalidRequestError(f"{what} {value[:60]!r} cannot be used in an S3 key", parameter=what)
    return value


def _video_key_id(video_uuid: str) -> str:
    """The video UUID itself, or a digest of it when it is not key-safe (e.g. an item without videoUUID)."""
    if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", video_uuid) and video_uuid not in (".", ".."):
        return video_uuid
    return "v" + hashlib.sha256(video_uuid.encode()).hexdigest()[:32]


def _metadata(task_uuid: str, video: _Video, sha256: str | None) -> dict[str, str]:
    meta = {"task-uuid": task_uuid, "video-uuid": video.video_uuid}
    if video.seed is not None:
        meta["seed"] = str(video.seed)
    if video.cost is not None:
        meta["cost"] = repr(video.cost)
    if sha256 is not None:
        meta["sha256"] = sha256
    return meta


class _Expired(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _Transient(Exception):
    pass


class _Lander:
    """Copies the videos of one task; holds the S3 and HTTP clients and the listing of the task folder."""

    def __init__(
        self,
        *,
        task_uuid: str,
        location: S3Location,
        s3: S3Client,
        http: httpx.Client,
        chunk_size: int,
        max_attempts: int,
        retry_backoff: float,
        upload_concurrency: int,
    ) -> None:
        self.task_uuid = task_uuid
        self.bucket = location.bucket
        self.prefix = normalize_prefix(location.key)
        self.s3 = s3
        self.http = http
        self.chunk_size = chunk_size
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.upload_concurrency = upload_concurrency
        self._listing: list[str] | None = None
        self._heads: dict[str, Mapping[str, Any] | None] = {}

    # -- finding what is there already -------------------------------------------------------------------

    def _task_keys(self) -> list[str]:
        if self._listing is None:
            keys: list[str] = []
            folder = f"{self.prefix}{self.task_uuid}/"
            try:
                paginator = self.s3.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
                    keys.extend(obj["Key"] for obj in page.get("Contents", []) if "Key" in obj)
            except Exception as exc:
                raise _s3_failure(f"listing s3://{self.bucket}/{folder}", exc, self.task_uuid) from None
            self._listing = keys
        return self._listing

    def head(self, key: str) -> Mapping[str, Any] | None:
        if key not in self._heads:
            try:
                self._heads[key] = self.s3.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise _s3_failure(f"HEAD s3://{self.bucket}/{key}", exc, self.task_uuid) from None
                self._heads[key] = None
        return self._heads[key]

    def existing(self, video: _Video, key: str) -> LandedVideo | None:
        """An object of this task already holding this video (same video-uuid, with a sha256)."""
        keys = self._task_keys()
        # The expected key first, then keys naming the video, then the rest (e.g. an uploadEndpoint delivery).
        ordered = [key] if key in keys else []
        ordered += [k for k in keys if k != key and video.video_uuid in k]
        ordered += [k for k in keys if k != key and video.video_uuid not in k]
        for candidate in ordered:
            info = self.head(candidate)
            if info is None:
                continue
            meta = {k.lower(): v for k, v in (info.get("Metadata") or {}).items()}
            if meta.get("video-uuid") == video.video_uuid and meta.get("sha256"):
                return LandedVideo(
                    video_uuid=video.video_uuid,
                    s3_uri=f"s3://{self.bucket}/{candidate}",
                    sha256=str(meta["sha256"]),
                    size_bytes=int(info.get("ContentLength", 0)),
                    skipped=True,
                    task_uuid=self.task_uuid,
                    content_type=str(info.get("ContentType", "")),
                    method="existing",
                )
        return None

    # -- copying ------------------------------------------------------------------------------------------

    def land(
        self, index: int, video: _Video, fmt: MediaFormat, refresh_url: RefreshUrl | None
    ) -> LandedVideo:
        key = object_key(self.prefix, self.task_uuid, index, _video_key_id(video.video_uuid), fmt.ext)
        found = self.existing(video, key)
        if found is not None:
            log.info(
                "Video %s of task %s is already at %s: skipped",
                video.video_uuid,
                self.task_uuid,
                found.s3_uri,
            )
            return found
        url = video.video_url
        refreshed = False
        attempt = 0
        while True:
            try:
                if url is None:
                    raise _Expired(0)
                return self._copy(url, key, video, fmt)
            except _Expired as exc:
                reason = f"HTTP {exc.status}" if exc.status else "no videoURL"
                if refreshed or refresh_url is None:
                    raise self._gone(video, reason, refreshed) from None
                log.warning(
                    "Download of video %s of task %s failed (%s): asking Runware for a fresh URL once",
                    video.video_uuid,
                    self.task_uuid,
                    reason,
                )
                refreshed = True
                url = refresh_url(video.video_uuid)
                if not url:
                    raise self._gone(video, reason, refreshed, refresh_failed=True) from None
            except _Transient as exc:
                attempt += 1
                if attempt >= self.max_attempts:
                    raise RunwareTransportError(
                        f"Copying video {video.video_uuid} of task {self.task_uuid} to S3 failed after "
                        f"{attempt} attempts: {exc}",
                        task_uuid=self.task_uuid,
                        category="transport",
                        details={"video_uuid": video.video_uuid},
                    ) from None
                delay = random.uniform(0.5, 1.0) * self.retry_backoff * 2 ** (attempt - 1)
                log.warning(
                    "Copying video %s failed (%s); retry %d in %.1fs", video.video_uuid, exc, attempt, delay
                )
                time.sleep(delay)

    def _gone(
        self, video: _Video, reason: str, refreshed: bool, refresh_failed: bool = False
    ) -> RunwareError:
        if refresh_failed:
            how = "and Runware returned no fresh URL for it"
        elif refreshed:
            how = "even after refreshing its URL once"
        else:
            how = "and no way to refresh the URL was given"
        return RunwareNotFoundError(
            f"Output video {video.video_uuid} of task {self.task_uuid} cannot be downloaded ({reason}) "
            f"{how}; "
            "its URL has probably expired (raise the request's ttl, land outputs sooner). "
            "It is not regenerated.",
            code="mediaExpired",
            category="not_found",
            task_uuid=self.task_uuid,
            retryable=False,
            details={"video_uuid": video.video_uuid},
        )

    def _copy(self, url: str, key: str, video: _Video, fmt: MediaFormat) -> LandedVideo:
        try:
            with self.http.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                status = response.status_code
                if status in EXPIRED_STATUSES:
                    raise _Expired(status)
                if status in TRANSIENT_STATUSES or status >= 500:
                    raise _Transient(f"HTTP {status} from {_host(url)}")
                if status != 200:
                    raise RunwareError(
                        f"Downloading video {video.video_uuid} of task {self.task_uuid} from {_host(url)} "
                        f"answered HTTP {status}",
                        task_uuid=self.task_uuid,
                        http_status=status,
                        retryable=False,
                        details={"video_uuid": video.video_uuid},
                    )
                expected = _content_length(response)
                return self._upload_stream(response.iter_raw(), expected, key, video, fmt)
        except httpx.HTTPError as exc:
            raise _Transient(
                f"{type(exc).__name__} downloading from {_host(url)}: {str(exc)[:160]}"
            ) from None

    def _upload_stream(
        self, chunks: Iterator[bytes], expected: int | None, key: str, video: _Video, fmt: MediaFormat
    ) -> LandedVideo:
        hasher = hashlib.sha256()
        received = 0
        # A fixed set of part buffers, reused: memory is (concurrency + 1) parts, and no allocator churn.
        buffers = _BufferPool(self.upload_concurrency + 1, self.chunk_size)
        buffer = buffers.get()
        filled = 0
        multipart: _Multipart | None = None
        try:
            for chunk in chunks:
                hasher.update(chunk)
                received += len(chunk)
                if expected is not None and received > expected:
                    raise _Transient(f"received more than the announced Content-Length {expected}")
                view = memoryview(chunk)
                while view:
                    take = min(len(view), self.chunk_size - filled)
                    buffer[filled : filled + take] = view[:take]
                    filled += take
                    view = view[take:]
                    if filled == self.chunk_size:
                        if multipart is None:
                            meta = _metadata(self.task_uuid, video, None)
                            multipart = _Multipart(
                                self.s3, self.bucket, key, fmt.mime, meta, self.upload_concurrency, buffers
                            )
                        multipart.add(buffer, filled)
                        buffer = buffers.get()  # blocks while every buffer is uploading: bounded memory
                        filled = 0
            if expected is not None and received != expected:
                raise _Transient(f"received {received} of the announced {expected} bytes")
            digest = hasher.hexdigest()
            meta = _metadata(self.task_uuid, video, digest)
            if multipart is None:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(buffer[:filled]),
                    ContentType=fmt.mime,
                    Metadata=meta,
                )
            else:
                if filled:
                    multipart.add(buffer, filled)
                multipart.complete()
                # The digest is known only now; metadata is set by copying the object onto itself.
                self._replace_metadata(key, received, fmt, meta)
        except BaseException as exc:
            if multipart is not None:
                multipart.abort()
            if isinstance(exc, (_Transient, _Expired, RunwareError)) or not isinstance(exc, Exception):
                raise
            if isinstance(exc, httpx.HTTPError):
                raise _Transient(f"{type(exc).__name__} while downloading: {str(exc)[:160]}") from None
            raise _s3_failure(f"writing s3://{self.bucket}/{key}", exc, self.task_uuid) from None
        s3_uri = f"s3://{self.bucket}/{key}"
        log.info(
            "Landed video %s of task %s at %s (%d bytes, sha256 %s)",
            video.video_uuid,
            self.task_uuid,
            s3_uri,
            received,
            digest,
        )
        return LandedVideo(
            video_uuid=video.video_uuid,
            s3_uri=s3_uri,
            sha256=digest,
            size_bytes=received,
            skipped=False,
            task_uuid=self.task_uuid,
            content_type=fmt.mime,
            method="stream",
        )

    def _replace_metadata(self, key: str, size: int, fmt: MediaFormat, meta: dict[str, str]) -> None:
        replace_metadata(self.s3, self.bucket, key, size, fmt.mime, meta)


class _BufferPool:
    """Up to ``count`` part buffers of ``size`` bytes, allocated on first use and then reused."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._left = count
        self._size = size

    def get(self) -> bytearray:
        if self._left > 0:
            try:
                return self._free.get_nowait()
            except queue.Empty:
                self._left -= 1
                return bytearray(self._size)
        return self._free.get()

    def put(self, buffer: bytearray) -> None:
        self._free.put(buffer)


class _PartReader(io.RawIOBase):
    """A seekable file over the filled part of a buffer: botocore reads it in blocks (and seeks back to
    retry or checksum) without the part ever being copied whole."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = min(max(0, base + offset), len(self._view))
        return self._pos

    def readinto(self, target: Any) -> int:
        out = memoryview(target).cast("B")
        count = min(len(out), len(self._view) - self._pos)
        out[:count] = self._view[self._pos : self._pos + count]
        self._pos += count
        return count

    def __len__(self) -> int:
        return len(self._view)


class _Multipart:
    """One multipart upload whose parts upload in background threads while the download goes on.

    At most ``concurrency`` parts upload at a time; each part's buffer goes back to the pool when its
    upload ends, so the downloader waits (bounded memory) when every buffer is busy. Nothing is visible
    in the bucket before :meth:`complete`.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        content_type: str,
        meta: dict[str, str],
        concurrency: int,
        buffers: _BufferPool,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=meta
        )["UploadId"]
        self._buffers = buffers
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="wan-s3-part")
        self._futures: list[Future[dict[str, Any]]] = []

    def add(self, buffer: bytearray, length: int) -> None:
        for future in self._futures:  # fail fast: stop downloading once a part has failed
            if future.done() and future.exception() is not None:
                self._buffers.put(buffer)
                future.result()
        number = len(self._futures) + 1
        self._futures.append(self._pool.submit(self._upload, number, buffer, length))

    def _upload(self, number: int, buffer: bytearray, length: int) -> dict[str, Any]:
        try:
            answer = self.s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=cast("IO[bytes]", _PartReader(memoryview(buffer)[:length])),
                ContentLength=length,
            )
            return {"PartNumber": number, "ETag": answer["ETag"]}
        finally:
            self._buffers.put(buffer)

    def complete(self) -> None:
        parts = [future.result() for future in self._futures]
        self._pool.shutdown(wait=True)
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
        self.upload_id = ""

    def abort(self) -> None:
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)  # parts still uploading would outlive an earlier abort
        if not self.upload_id:
            return
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except Exception as exc:  # the original failure matters more; lifecycle rules reap leftovers
            log.warning("Could not abort multipart upload of s3://%s/%s: %s", self.bucket, self.key, exc)


def replace_metadata(
    s3: S3Client, bucket: str, key: str, size: int, content_type: str, meta: dict[str, str]
) -> None:
    """Set an object's metadata (server-side copy onto itself)."""
    move_object(s3, bucket, key, key, size, content_type, meta)


def move_object(
    s3: S3Client, bucket: str, source: str, target: str, size: int, content_type: str, meta: dict[str, str]
) -> None:
    """Server-side copy ``source`` to ``target`` with new metadata, then delete ``source`` if different.

    No bytes pass through the worker; above 5 GiB (CopyObject's limit) a managed multipart copy is used.
    """
    copy_source = {"Bucket": bucket, "Key": source}
    extra = {"Metadata": meta, "MetadataDirective": "REPLACE", "ContentType": content_type}
    if size <= SINGLE_COPY_MAX:
        s3.copy_object(Bucket=bucket, Key=target, CopySource=copy_source, **extra)  # type: ignore[arg-type]
    else:
        s3.copy(copy_source, bucket, target, ExtraArgs=extra)  # type: ignore[arg-type]
    if source != target:
        s3.delete_object(Bucket=bucket, Key=source)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or response.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _host(url: str) -> str:
    """Only the host: output URLs may carry tokens in their query."""
    try:
        return httpx.URL(url).host or "<no host>"
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def _s3_failure(action: str, exc: BaseException, task_uuid: str) -> RunwareError:
    code = error_code(exc)
    if code in ("NoSuchBucket",):
        return RunwareNotFoundError(
            f"{action}: the destination bucket does not exist",
            code="noSuchBucket",
            task_uuid=task_uuid,
            retryable=False,
        )
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return RunwareError(
            f"{action}: access denied ({code})",
            code="s3AccessDenied",
            category="auth",
            task_uuid=task_uuid,
            retryable=False,
        )
    return RunwareTransportError(
        f"{action} failed: {type(exc).__name__}: {str(exc)[:200]}",
        code="s3Error",
        category="transport",
        task_uuid=task_uuid,
    )


def _default_http() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)


# ---------------------------------------------------------------------------------------------------
# Public API


def land_videos(
    videos: Sequence[Mapping[str, Any] | VideoResult],
    *,
    task_uuid: str,
    destination: str,
    aws_conn_id: str | None = "aws_default",
    refresh_url: RefreshUrl | None = None,
    output_format: str | None = "MP4",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    s3: S3Client | None = None,
    http_client: httpx.Client | None = None,
    max_attempts: int = 3,
    retry_backoff: float = 1.0,
    upload_concurrency: int = 2,
) -> list[LandedVideo]:
    """Copy each video of a task to ``destination`` (``s3://bucket/prefix/``); see the module doc.

    :param videos: results in task order, each a :class:`VideoResult` or a mapping with ``video_uuid``,
        ``video_url``, ``seed``, ``cost`` (camelCase keys are accepted too).
    :param refresh_url: called at most once per video after a 403/404/410, returns a fresh URL or None.
    :param output_format: the request's ``outputFormat``; the URL's extension wins when it has one.
    :param chunk_size: multipart part size and the single-PUT threshold (at least 5 MiB).
    :param upload_concurrency: parts uploading while the download continues; memory stays at about
        ``(upload_concurrency + 1) x chunk_size``.
    :param max_attempts: tries per video on transient failures (5xx, dropped or truncated download).
    :raises RunwareNotFoundError: a URL expired and could not be refreshed (names task and video UUIDs).
    """
    if chunk_size < MIN_PART_SIZE:
        raise InvalidRequestError(
            f"chunk_size must be at least {MIN_PART_SIZE} bytes", parameter="chunk_size"
        )
    location = parse_s3_uri(destination, parameter="s3_destination", require_key=False)
    _safe_key_part(task_uuid, "task_uuid")
    items = [_as_video(v) for v in videos]
    own_http = http_client is None
    http = http_client or _default_http()
    try:
        lander = _Lander(
            task_uuid=task_uuid,
            location=location,
            s3=s3 if s3 is not None else _s3_client(aws_conn_id),
            http=http,
            chunk_size=chunk_size,
            max_attempts=max(1, max_attempts),
            retry_backoff=retry_backoff,
            upload_concurrency=max(1, upload_concurrency),
        )
        return [
            lander.land(index, video, output_format_for(output_format, video.video_url), refresh_url)
            for index, video in enumerate(items)
        ]
    finally:
        if own_http:
            http.close()


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
                url = item.get("videoURL")
                return url if isinstance(url, str) and url else None
        return None

    return refresh


# -- direct delivery (uploadEndpoint) ------------------------------------------------------------------


def upload_endpoint_eligible(request: WanVideoRequest) -> bool:
    """uploadEndpoint delivery works for one output per request (one endpoint, no per-result URL)."""
    return request.effective_number_results == 1 and request.upload_endpoint is None


def delivery_key(destination: str, token: str, output_format: str | None = "MP4") -> str:
    """The staging key Runware PUTs to: ``{prefix}_delivered/{token}.{ext}``.

    ``token`` must be known before submitting (the task UUID, or the request fingerprint when the task
    UUID is chosen at submit time) and must be given again to :func:`verify_delivered`. The staging object
    is moved to the canonical key ``{prefix}{task_uuid}/00-{video_uuid}.{ext}`` once verified.
    """
    location = parse_s3_uri(destination, parameter="s3_destination", require_key=False)
    ext = output_format_for(output_format).ext
    return f"{normalize_prefix(location.key)}_delivered/{_safe_key_part(token, 'token')}.{ext}"


def presigned_put_url(
    destination: str,
    key: str,
    *,
    aws_conn_id: str | None = "aws_default",
    expires: int = DEFAULT_PRESIGN_PUT_EXPIRES,
    s3: S3Client | None = None,
) -> str:
    """A presigned PUT URL for ``key`` (full key) in ``destination``'s bucket, masked in Airflow logs.

    It carries a signature granting write access: pass it as the request's ``uploadEndpoint`` and never
    log it. Note that it differs on every call, so it must not feed the request fingerprint.
    """
    from airflow.sdk.log import mask_secret

    location = parse_s3_uri(destination, parameter="s3_destination", require_key=False)
    client = s3 if s3 is not None else _s3_client(aws_conn_id)
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": location.bucket, "Key": key}, ExpiresIn=expires, HttpMethod="PUT"
    )
    mask_secret(url)
    return url


def verify_delivered(
    video: Mapping[str, Any] | VideoResult,
    *,
    task_uuid: str,
    destination: str,
    key: str,
    aws_conn_id: str | None = "aws_default",
    output_format: str | None = "MP4",
    expected_size: int | None = None,
    check_url_size: bool = True,
    s3: S3Client | None = None,
    http_client: httpx.Client | None = None,
) -> LandedVideo | None:
    """Check an uploadEndpoint delivery at ``key`` (from :func:`delivery_key`) and file it like a copy.

    The object must exist with a plausible size (> 0, and equal to the videoURL's Content-Length when a
    HEAD can tell); its SHA-256 is streamed from S3; then it is moved (server-side copy with the usual
    metadata, then delete) to the canonical key ``{prefix}{task_uuid}/00-{video_uuid}.{ext}``, where
    :func:`land_videos` finds it on reruns. Returns ``None`` when the object is missing or implausible (an
    implausible one is deleted): the caller then falls back to :func:`land_videos`.
    """
    item = _as_video(video)
    location = parse_s3_uri(destination, parameter="s3_destination", require_key=False)
    _safe_key_part(task_uuid, "task_uuid")
    client = s3 if s3 is not None else _s3_client(aws_conn_id)
    bucket = location.bucket
    fmt = output_format_for(output_format, key)
    final_key = object_key(location.key, task_uuid, 0, _video_key_id(item.video_uuid), fmt.ext)
    lander = _Lander(
        task_uuid=task_uuid,
        location=location,
        s3=client,
        http=http_client or _default_http(),
        chunk_size=DEFAULT_CHUNK_SIZE,
        max_attempts=1,
        retry_backoff=0.0,
        upload_concurrency=1,
    )
    try:
        found = lander.existing(item, final_key)  # a rerun: moved there already
        if found is not None:
            return found
        staged = f"s3://{bucket}/{key}"
        info = lander.head(key)
        if info is None:
            log.info("No delivered object at %s for task %s", staged, task_uuid)
            return None
        size = int(info.get("ContentLength", 0))
        if expected_size is None and check_url_size and item.video_url:
            expected_size = _url_size(item.video_url, lander.http)
        if size == 0 or (expected_size is not None and size != expected_size):
            log.warning(
                "Delivered object %s has %d bytes (expected %s): deleting it and falling back to a copy",
                staged,
                size,
                expected_size if expected_size is not None else "> 0",
            )
            client.delete_object(Bucket=bucket, Key=key)
            return None
        hasher = hashlib.sha256()
        received = 0
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(chunk_size=1 * MiB):
            hasher.update(chunk)
            received += len(chunk)
        if received != size:
            log.warning("Reading %s gave %d of %d bytes: falling back to a copy", staged, received, size)
            return None
        digest = hasher.hexdigest()
        move_object(client, bucket, key, final_key, size, fmt.mime, _metadata(task_uuid, item, digest))
    except RunwareError:
        raise
    except Exception as exc:
        raise _s3_failure(f"verifying the delivery at s3://{bucket}/{key}", exc, task_uuid) from None
    finally:
        if http_client is None:
            lander.http.close()
    s3_uri = f"s3://{bucket}/{final_key}"
    log.info(
        "Verified delivered video %s of task %s, now at %s (%d bytes)",
        item.video_uuid,
        task_uuid,
        s3_uri,
        size,
    )
    return LandedVideo(item.video_uuid, s3_uri, digest, size, False, task_uuid, fmt.mime, "upload_endpoint")


def _url_size(url: str, http_client: httpx.Client | None) -> int | None:
    """Content-Length of a URL by HEAD, or None when unknown (failures are fine: a plausibility check)."""
    client = http_client or _default_http()
    try:
        response = client.head(url, headers={"Accept-Encoding": "identity"})
        return _content_length(response) if response.status_code == 200 else None
    except httpx.HTTPError:
        return None
    finally:
        if http_client is None:
            client.close()


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LandedVideo",
    "delivery_key",
    "land_videos",
    "move_object",
    "object_key",
    "parse_s3_uri",
    "presigned_put_url",
    "runware_url_refresher",
    "upload_endpoint_eligible",
    "verify_delivered",
]
