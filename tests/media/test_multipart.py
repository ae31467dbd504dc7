"""The streamed multipart upload (media/multipart.py) against moto's S3 server: the bytes arrive whole and
in order, memory is the part buffers it allocated once, at most ``concurrency`` parts travel at once,
the default checksum is carried per part into the completion, and a failure anywhere aborts the upload.
Its interruption by signals and download failures is tested through ``land_videos`` in
tests/security/test_s3_landing_safety.py."""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from typing import Any

import pytest

from airflow_provider_wan.media import multipart
from airflow_provider_wan.media.multipart import MIN_PART_SIZE, PartPlan, upload_stream

MiB = 1024 * 1024


class Trickle(io.RawIOBase):
    """A non-seekable stream handing out at most 100 KiB per read (as a download does), optionally
    failing once ``fail_after`` bytes have been read."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        super().__init__()
        self.data, self.offset, self.fail_after = memoryview(data), 0, fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if self.fail_after is not None and self.offset >= self.fail_after:
            raise ConnectionResetError("the download dropped")
        piece = self.data[self.offset : self.offset + min(len(target), 100 * 1024)]
        memoryview(target)[: len(piece)] = piece
        self.offset += len(piece)
        return len(piece)


class PartWatch:
    """Counts S3 operations, the part bodies' distinct buffers and the most parts in flight at once."""

    def __init__(self, s3: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.buffers: set[int] = set()
        self.in_flight = self.most_in_flight = 0
        self.checksums: list[str | None] = []
        self._lock = threading.Lock()
        s3.meta.events.register("before-call.s3", self._before)
        s3.meta.events.register("after-call.s3.UploadPart", self._after)
        s3.meta.events.register("before-parameter-build.s3.CompleteMultipartUpload", self._complete)

    def _before(self, model: Any, params: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
            if model.name == "UploadPart":
                self.buffers.add(id(params["body"]))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1

    def _complete(self, params: Any, **_: Any) -> None:
        self.checksums = [part.get("ChecksumCRC32") for part in params["MultipartUpload"]["Parts"]]


def _stored(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _incomplete(s3: Any, bucket: str) -> list[Any]:
    uploads: list[Any] = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


@pytest.mark.parametrize("size", [12 * MiB + 321, 10 * MiB], ids=["ragged-last-part", "exact-parts"])
def test_stream_arrives_whole_through_reused_buffers(s3_client: Any, s3_bucket: str, size: int) -> None:
    data = os.urandom(size)
    watch = PartWatch(s3_client)
    sent = upload_stream(
        s3_client, Trickle(data), s3_bucket, "v.mp4", {"ContentType": "video/mp4"}, PartPlan(MIN_PART_SIZE, 2)
    )
    assert sent == size and _stored(s3_client, s3_bucket, "v.mp4") == data
    parts = -(-size // MIN_PART_SIZE)
    assert watch.calls["CreateMultipartUpload"] == 1 and watch.calls["UploadPart"] == parts
    assert watch.calls["CompleteMultipartUpload"] == 1 and watch.calls["AbortMultipartUpload"] == 0
    assert s3_client.head_object(Bucket=s3_bucket, Key="v.mp4")["ContentType"] == "video/mp4"


def test_memory_is_the_part_buffers_and_concurrency_is_bounded(
    s3_client: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(12 * MIN_PART_SIZE)
    allocated: list[int] = []
    real_bytearray = bytearray

    class CountingBytearray(real_bytearray):
        def __init__(self, size: int) -> None:
            allocated.append(size)
            super().__init__(size)

    monkeypatch.setattr(multipart, "bytearray", CountingBytearray, raising=False)
    watch = PartWatch(s3_client)
    upload_stream(s3_client, Trickle(data), s3_bucket, "big.mp4", {}, PartPlan(MIN_PART_SIZE, 2))
    assert _stored(s3_client, s3_bucket, "big.mp4") == data
    # 12 parts through 3 buffers (2 uploading, 1 being filled), allocated once for the whole stream.
    assert allocated == [MIN_PART_SIZE] * 3 and len(watch.buffers) == 3
    assert watch.calls["UploadPart"] == 12 and watch.most_in_flight <= 2


def test_default_checksum_is_carried_into_the_completion(s3_client: Any, s3_bucket: str) -> None:
    data = os.urandom(11 * MiB)
    watch = PartWatch(s3_client)
    upload_stream(s3_client, Trickle(data), s3_bucket, "c.mp4", {}, PartPlan(MIN_PART_SIZE, 3))
    assert len(watch.checksums) == 3 and all(watch.checksums)
    head = s3_client.head_object(Bucket=s3_bucket, Key="c.mp4", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)


def test_no_checksum_is_asked_when_botocore_computes_them_only_when_required(
    moto_s3: str, s3_bucket: str
) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        region_name="us-east-1",
        config=Config(request_checksum_calculation="when_required"),
    )
    watch = PartWatch(s3)
    data = os.urandom(11 * MiB)
    upload_stream(s3, Trickle(data), s3_bucket, "n.mp4", {}, PartPlan(MIN_PART_SIZE, 2))
    assert _stored(s3, s3_bucket, "n.mp4") == data and watch.checksums == [None, None, None]


def test_a_stream_shorter_than_a_part_is_one_put(s3_client: Any, s3_bucket: str) -> None:
    data = os.urandom(MiB + 7)
    watch = PartWatch(s3_client)
    sent = upload_stream(s3_client, Trickle(data), s3_bucket, "s.mp4", {}, PartPlan(MIN_PART_SIZE, 4))
    assert sent == len(data) and _stored(s3_client, s3_bucket, "s.mp4") == data
    assert watch.calls["PutObject"] == 1 and watch.calls["CreateMultipartUpload"] == 0


def test_a_failing_read_aborts_after_the_parts_in_flight(s3_client: Any, s3_bucket: str) -> None:
    watch = PartWatch(s3_client)
    stream = Trickle(os.urandom(20 * MiB), fail_after=16 * MiB)
    with pytest.raises(ConnectionResetError):
        upload_stream(s3_client, stream, s3_bucket, "f.mp4", {}, PartPlan(MIN_PART_SIZE, 2))
    assert watch.calls["AbortMultipartUpload"] == 1 and watch.in_flight == 0
    assert _incomplete(s3_client, s3_bucket) == []
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_bucket)


def test_a_failing_part_aborts_the_upload(s3_client: Any, s3_bucket: str) -> None:
    from botocore.exceptions import ClientError

    def third_part_denied(params: Any, **_: Any) -> None:
        if params["PartNumber"] == 3:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "UploadPart")

    watch = PartWatch(s3_client)
    s3_client.meta.events.register("before-parameter-build.s3.UploadPart", third_part_denied)
    with pytest.raises(ClientError, match="AccessDenied"):
        upload_stream(
            s3_client, Trickle(os.urandom(30 * MiB)), s3_bucket, "p.mp4", {}, PartPlan(MIN_PART_SIZE, 2)
        )
    assert watch.calls["AbortMultipartUpload"] == 1 and _incomplete(s3_client, s3_bucket) == []
    assert watch.calls["UploadPart"] < 6  # the stream stopped being read at the failure


def test_abort_failure_does_not_hide_the_original_error(
    s3_client: Any, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.exceptions import EndpointConnectionError

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")

    s3_client.meta.events.register("before-call.s3.AbortMultipartUpload", unreachable)
    stream = Trickle(os.urandom(12 * MiB), fail_after=6 * MiB)
    with pytest.raises(ConnectionResetError):
        upload_stream(s3_client, stream, s3_bucket, "a.mp4", {}, PartPlan(MIN_PART_SIZE, 2))
    assert "Aborting the multipart upload of s3://" in caplog.text and "lifecycle" in caplog.text


@pytest.mark.parametrize(
    ("part_size", "concurrency", "message"),
    [(MIN_PART_SIZE - 1, 2, "part_size"), (MIN_PART_SIZE, 0, "concurrency")],
)
def test_plan_rejects_parts_s3_cannot_take(part_size: int, concurrency: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PartPlan(part_size, concurrency)
