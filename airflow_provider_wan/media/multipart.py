"""A stream uploaded to S3 in parts, through a fixed set of part buffers allocated once.

Why not boto3's transfer manager here (it still copies objects over 5 GiB, :func:`.s3.move_object`): for a
stream, not a file, it reads every part into a new ``bytes`` object and botocore re-reads each part in
1 MiB copies for its checksums, in its upload threads. glibc keeps those freed blocks in each thread's
arena, so the process grows ~20 MB past the parts it holds (B4: +61 MB of RSS at 4 x 8 MiB parts, whose
data is 40 MB), and larger parts, which S3 handles faster, did not fit a 64 MB bound. Here the download is
read straight into ``concurrency + 1`` buffers that every part reuses, and botocore signs, checksums and
sends a ``bytearray`` body without copying it: memory is the buffers, whatever the allocator does.

What the transfer manager guaranteed and this keeps: an upload that fails or is interrupted (any
exception, KeyboardInterrupt, a task-termination BaseException, in the caller's thread or in a part's)
is aborted once the parts in flight have stopped, so no incomplete upload is left to be billed; and the
default CRC32 checksum is asked for the upload and carried per part into its completion, as s3transfer
does when botocore computes checksums by default.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.errors import InvalidRequestError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_CHECKSUM = "CRC32"  # what s3transfer asks for when botocore checksums requests by default


@dataclass(frozen=True)
class PartPlan:
    """Part size and parts uploading at once: memory is ``(concurrency + 1) x part_size``. Errors name
    ``land_videos``' parameters too, its one source of plans."""

    part_size: int
    concurrency: int

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            message = f"part_size (chunk_size) must be at least {MIN_PART_SIZE} bytes, S3's smallest part"
            raise InvalidRequestError(message, parameter="chunk_size")
        if self.concurrency < 1:
            raise InvalidRequestError(
                "concurrency (upload_concurrency) must be at least 1", parameter="upload_concurrency"
            )


def _fill(raw: io.RawIOBase, buffer: bytearray) -> int:
    """Read into ``buffer`` until it is full or the stream ends; the number of bytes read."""
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        count = raw.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def _checksum_args(s3: S3Client, extra: Mapping[str, Any]) -> dict[str, str]:
    default = getattr(s3.meta.config, "request_checksum_calculation", None)
    if "ChecksumAlgorithm" in extra or default != "when_supported":
        return {}
    return {"ChecksumAlgorithm": DEFAULT_CHECKSUM}


def upload_stream(
    s3: S3Client, raw: io.RawIOBase, bucket: str, key: str, extra: Mapping[str, Any], plan: PartPlan
) -> int:
    """Upload ``raw`` (read in this thread, to its end) to ``s3://bucket/key`` with ``extra`` (content
    type, metadata...): one PutObject when it fits one part, else a multipart upload with up to
    ``plan.concurrency`` parts in flight. Returns the number of bytes uploaded."""
    first = bytearray(plan.part_size)
    size = _fill(raw, first)
    if size < plan.part_size:
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(memoryview(first)[:size]), **extra)
        return size
    return _Multipart(s3, bucket, key, {**extra, **_checksum_args(s3, extra)}, plan).run(raw, first)


class _Multipart:
    def __init__(self, s3: S3Client, bucket: str, key: str, extra: Mapping[str, Any], plan: PartPlan) -> None:
        self.s3, self.bucket, self.key, self.plan = s3, bucket, key, plan
        self.extra = dict(extra)
        algorithm = self.extra.get("ChecksumAlgorithm")
        self.checksum_member = f"Checksum{algorithm.upper()}" if isinstance(algorithm, str) else None
        self.part_extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}

    def run(self, raw: io.RawIOBase, first: bytearray) -> int:
        created = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.extra)
        upload_id = created["UploadId"]
        in_flight: dict[Future[CompletedPartTypeDef], bytearray] = {}
        parts: list[CompletedPartTypeDef] = []
        with ThreadPoolExecutor(self.plan.concurrency, thread_name_prefix="s3-part") as pool:
            try:
                size, number, buffer, filled = 0, 1, first, len(first)
                free = [bytearray(self.plan.part_size) for _ in range(self.plan.concurrency)]
                while filled:
                    last = filled < len(buffer)
                    body = bytes(memoryview(buffer)[:filled]) if last else buffer
                    in_flight[pool.submit(self._part, upload_id, number, body)] = buffer
                    size, number = size + filled, number + 1
                    if last:
                        break
                    if not free:  # every buffer is a part in flight: the next read waits for one
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for future in done:
                            parts.append(future.result())
                            free.append(in_flight.pop(future))
                    buffer = free.pop()
                    filled = _fill(raw, buffer)
                for future in list(in_flight):
                    parts.append(future.result())
                    del in_flight[future]
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": sorted(parts, key=lambda part: part["PartNumber"])},
                )
            except BaseException:
                for future in in_flight:
                    future.cancel()
                wait(in_flight)  # no part may land after the abort
                self._abort(upload_id)
                raise
        return size

    def _part(self, upload_id: str, number: int, body: bytes | bytearray) -> CompletedPartTypeDef:
        response = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,  # type: ignore[arg-type]  # botocore takes a bytearray and hashes it in place
            **self.part_extra,  # type: ignore[arg-type]
        )
        part: CompletedPartTypeDef = {"ETag": response["ETag"], "PartNumber": number}
        if self.checksum_member and self.checksum_member in response:
            part[self.checksum_member] = response[self.checksum_member]  # type: ignore[literal-required]
        return part

    def _abort(self, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except Exception as exc:  # the original failure is what the caller must see
            log.warning(
                "Aborting the multipart upload of s3://%s/%s failed (%s): a lifecycle rule on "
                "incomplete uploads removes its parts",
                self.bucket,
                self.key,
                type(exc).__name__,
            )
