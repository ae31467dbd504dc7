"""S3 landing leaves nothing half-written and never trusts an object it finds (issue #12, item 8).

Against moto's S3 server and a loopback video server: a landing that fails or is interrupted (an S3 or
download error, KeyboardInterrupt or a task-termination BaseException in the caller's thread, a
BaseException in the thread reading the download, an asyncio cancellation of the awaiting task) leaves no
incomplete multipart upload; an existing object whose bytes do not match the SHA-256 and size it records
is copied again, and an intact one is reused without downloading the video.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from airflow_provider_wan.errors import RunwareTransportError
from airflow_provider_wan.media import downloads
from airflow_provider_wan.media.downloads import DownloadPolicy
from airflow_provider_wan.media.landing import LandedVideo, land_videos
from airflow_provider_wan.media.s3 import S3Location, parse_s3_uri
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy
from tests.conftest import LOCAL_DOWNLOADS

TASK = "7c0e1d9a-3b7f-4f0e-9d51-2a6c1e0b9f33"
MiB = 1024 * 1024
ONE_TRY = RetryPolicy(max_retries=1)
PART = 5 * MiB


@dataclass
class _Route:
    body: bytes
    fast_bytes: int  # sent at once; the rest trickles (64 KiB every 20 ms: ~3 MB/s)
    announced: int  # the Content-Length sent (more than the body: the connection drops mid-way)
    hits: int = 0


class VideoServer:
    """Serves registered bodies on 127.0.0.1; each can send its first bytes at once and trickle the rest."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(route.announced))
                self.end_headers()
                view = memoryview(route.body)
                try:
                    self.wfile.write(view[: route.fast_bytes])
                    for start in range(route.fast_bytes, len(view), 64 * 1024):
                        self.wfile.write(view[start : start + 64 * 1024])
                        time.sleep(0.02)
                except OSError:  # the client went away: what an interrupted landing does
                    pass
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def video(self, body: bytes, fast_bytes: int | None = None, announced: int | None = None) -> VideoResult:
        video_uuid = str(uuid.uuid4())
        path = f"/video/{video_uuid}.mp4"
        fast = len(body) if fast_bytes is None else fast_bytes
        self.routes[path] = _Route(body, fast, len(body) if announced is None else announced)
        url = f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"
        return VideoResult(task_uuid=TASK, video_uuid=video_uuid, video_url=url, seed=3, cost=0.2)

    def hits(self, video: VideoResult) -> int:
        return self.routes[f"/video/{video.video_uuid}.mp4"].hits

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[VideoServer]:
    srv = VideoServer()
    yield srv
    srv.close()


@pytest.fixture
def calls(s3_client: Any) -> Counter[str]:
    """S3 operations issued by ``s3_client`` (the client the landings below use)."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    s3_client.meta.events.register("before-call.s3", count)
    return counter


def _mp4ish(size: int) -> bytes:
    """``size`` random bytes behind an MP4 ``ftyp`` box header: downloads are sniffed for a video."""
    header = b"\x00\x00\x00\x18ftypisom"
    return header + os.urandom(size - len(header))


def _land(s3_client: Any, bucket: str, video: VideoResult, **kwargs: Any) -> LandedVideo:
    kwargs.setdefault("chunk_size", PART)
    kwargs.setdefault("downloads", LOCAL)  # the loopback server speaks plain http
    (landed,) = land_videos(
        [video], task_uuid=TASK, location=S3Location(bucket, "out/"), s3=s3_client, retry=ONE_TRY, **kwargs
    )
    return landed


LOCAL = DownloadPolicy.from_extras(LOCAL_DOWNLOADS)


def _incomplete(s3_client: Any, bucket: str) -> list[Any]:
    uploads: list[Any] = s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def _keys(s3_client: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _after_first_part(s3_client: Any, action: Any) -> threading.Event:
    """Runs ``action`` (in a helper thread) once the first part of a multipart upload is in S3."""
    uploaded = threading.Event()
    s3_client.meta.events.register("after-call.s3.UploadPart", lambda **_: uploaded.set())

    def wait_then_act() -> None:
        if uploaded.wait(60):
            action()

    threading.Thread(target=wait_then_act, daemon=True).start()
    return uploaded


class TaskTerminated(BaseException):
    """Like the exception a task runner raises in the task's thread on SIGTERM."""


# --------------------------------------------------------------------------------------------------
# No incomplete multipart upload after a failure or an interruption


def test_truncated_download_mid_upload_aborts_the_upload(
    s3_client: Any, s3_bucket: str, server: VideoServer, calls: Counter[str]
) -> None:
    video = server.video(_mp4ish(7 * MiB), announced=12 * MiB)  # a CDN dropping the connection mid-way
    with pytest.raises(RunwareTransportError, match=video.video_uuid):
        _land(s3_client, s3_bucket, video)
    assert calls["CreateMultipartUpload"] == 1 and calls["AbortMultipartUpload"] == 1
    assert _incomplete(s3_client, s3_bucket) == [] and _keys(s3_client, s3_bucket) == []


def test_s3_failure_mid_upload_aborts_the_upload(
    s3_client: Any, s3_bucket: str, server: VideoServer, calls: Counter[str]
) -> None:
    from botocore.exceptions import EndpointConnectionError

    video = server.video(_mp4ish(12 * MiB))
    parts = Counter[str]()

    def second_part_fails(**_: Any) -> None:
        parts["sent"] += 1
        if parts["sent"] == 2:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")

    s3_client.meta.events.register("before-call.s3.UploadPart", second_part_fails)
    with pytest.raises(RunwareTransportError, match="writing s3://"):
        _land(s3_client, s3_bucket, video)
    assert calls["AbortMultipartUpload"] == 1
    assert _incomplete(s3_client, s3_bucket) == [] and _keys(s3_client, s3_bucket) == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, TaskTerminated])
def test_interrupting_the_landing_thread_aborts_promptly(
    interruption: type[BaseException], s3_client: Any, s3_bucket: str, server: VideoServer
) -> None:
    # 6 MiB at once (one part), then 40 MiB trickling: ~13 s more of download if nothing stopped it.
    video = server.video(_mp4ish(46 * MiB), fast_bytes=6 * MiB)
    main = threading.main_thread().ident
    assert main == threading.get_ident()

    def interrupt(signum: int, frame: Any) -> None:
        raise interruption()

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        _after_first_part(s3_client, lambda: signal.pthread_kill(main, signal.SIGUSR1))  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(interruption):
            _land(s3_client, s3_bucket, video)
        elapsed = time.monotonic() - started
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert _incomplete(s3_client, s3_bucket) == [] and _keys(s3_client, s3_bucket) == []
    assert elapsed < 8, f"the abort waited for the rest of the download ({elapsed:.1f} s)"


def test_base_exception_in_the_reading_thread_aborts_the_upload(
    s3_client: Any, s3_bucket: str, server: VideoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = server.video(_mp4ish(12 * MiB))

    class Cancelled(httpx.SyncByteStream):  # the reading thread is cancelled mid-download
        def __init__(self, inner: Any) -> None:
            self.inner, self.sent = inner, 0

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                self.sent += len(chunk)
                if self.sent > 7 * MiB:
                    raise asyncio.CancelledError()
                yield chunk

        def close(self) -> None:
            self.inner.close()

    guarded = downloads._GuardedTransport.handle_request

    def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
        response = guarded(self, request)
        response.stream = Cancelled(response.stream)
        return response

    monkeypatch.setattr(downloads._GuardedTransport, "handle_request", handle_request)
    with pytest.raises(asyncio.CancelledError):
        _land(s3_client, s3_bucket, video)
    assert _incomplete(s3_client, s3_bucket) == [] and _keys(s3_client, s3_bucket) == []


def test_cancelling_the_awaiting_task_leaves_no_incomplete_upload(
    s3_client: Any, s3_bucket: str, server: VideoServer
) -> None:
    # A thread cannot be cancelled: the landing it runs goes on to a complete object (or an abort).
    body = _mp4ish(12 * MiB)
    video = server.video(body, fast_bytes=6 * MiB)

    async def cancelled() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(_land, s3_client, s3_bucket, video), timeout=0.5)

    asyncio.run(cancelled())  # returns once the executor's threads are done
    assert _incomplete(s3_client, s3_bucket) == []
    (key,) = _keys(s3_client, s3_bucket)
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body


# --------------------------------------------------------------------------------------------------
# An existing object is reused only when its bytes match what it records


@pytest.mark.parametrize("size", [300_000, 12 * MiB], ids=["single-put", "multipart"])
def test_intact_object_is_reused_without_a_download(
    size: int, s3_client: Any, s3_bucket: str, server: VideoServer, calls: Counter[str]
) -> None:
    body = _mp4ish(size)
    video = server.video(body)
    first = _land(s3_client, s3_bucket, video)
    assert calls["CopyObject"] == 0 and first.sha256 == hashlib.sha256(body).hexdigest()
    assert calls["HeadObject"] == 0  # an empty folder lists no key (not a key "None")
    calls.clear()
    again = _land(s3_client, s3_bucket, video)
    assert again.skipped and (again.s3_uri, again.sha256, again.size_bytes) == (
        first.s3_uri,
        first.sha256,
        size,
    )
    assert server.hits(video) == 1  # not downloaded again
    assert calls["PutObject"] == calls["UploadPart"] == calls["PutObjectTagging"] == 0
    # A single PUT's full-object SHA-256 checksum is checked by S3 on write: no need to read it back.
    # A multipart object's checksum is per part, so its bytes are read through SHA-256 once.
    assert calls["GetObject"] == (0 if size < PART else 1)


@pytest.mark.parametrize("size", [300_000, 12 * MiB], ids=["single-put", "multipart"])
@pytest.mark.parametrize("tamper", ["same-size-other-bytes", "truncated"])
def test_tampered_object_is_detected_and_landed_again(
    size: int,
    tamper: str,
    s3_client: Any,
    s3_bucket: str,
    server: VideoServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = _mp4ish(size)
    video = server.video(body)
    first = _land(s3_client, s3_bucket, video)
    key = parse_s3_uri(first.s3_uri).key
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    tags = s3_client.get_object_tagging(Bucket=s3_bucket, Key=key)["TagSet"]
    forged = _mp4ish(size) if tamper == "same-size-other-bytes" else body[: size // 2]
    # Overwritten with the metadata and tags of the real video copied over: only the bytes differ.
    s3_client.put_object(
        Bucket=s3_bucket,
        Key=key,
        Body=forged,
        Metadata=head["Metadata"],
        ContentType="video/mp4",
        Tagging="&".join(f"{t['Key']}={t['Value']}" for t in tags),
    )

    with caplog.at_level(logging.WARNING, logger="airflow_provider_wan.media"):
        again = _land(s3_client, s3_bucket, video)
    assert not again.skipped and again.method == "stream" and again.s3_uri == first.s3_uri
    assert again.sha256 == first.sha256 and server.hits(video) == 2
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body
    assert key in caplog.text and "copying the video again" in caplog.text


def test_object_without_a_recorded_digest_is_landed_again(
    s3_client: Any, s3_bucket: str, server: VideoServer
) -> None:
    body = _mp4ish(1000)
    video = server.video(body)
    first = _land(s3_client, s3_bucket, video)
    key = parse_s3_uri(first.s3_uri).key
    s3_client.delete_object_tagging(Bucket=s3_bucket, Key=key)  # e.g. a copy stopped before its tags
    again = _land(s3_client, s3_bucket, video)
    assert not again.skipped and server.hits(video) == 2 and again.sha256 == first.sha256


def test_object_landed_by_an_earlier_release_is_checked_by_its_bytes(
    s3_client: Any, s3_bucket: str, server: VideoServer
) -> None:
    # Earlier releases recorded the digest as metadata (set by a server-side copy); no tags.
    body = _mp4ish(2000)
    video = server.video(body)
    key = f"out/{TASK}/00-{video.video_uuid}.mp4"
    meta = {"task-uuid": TASK, "video-uuid": video.video_uuid, "sha256": hashlib.sha256(body).hexdigest()}
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=body, Metadata=meta)
    assert _land(s3_client, s3_bucket, video).skipped and server.hits(video) == 0
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=_mp4ish(2000), Metadata=meta)
    again = _land(s3_client, s3_bucket, video)
    assert not again.skipped and server.hits(video) == 1
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body
