"""Small S3 helpers shared by input resolution and output landing (boto3 imported lazily: DAG parsing
imports this package and must stay free of it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.errors import (
    InvalidRequestError,
    RunwareError,
    RunwareNotFoundError,
    RunwareTransportError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SINGLE_COPY_MAX = 5 * 1024**3  # CopyObject's limit; larger objects use a managed multipart copy


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: object, *, parameter: str = "s3_uri", require_key: bool = True) -> S3Location:
    """Split ``s3://bucket/key`` (a destination prefix may be empty when ``require_key`` is False)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InvalidRequestError(f"expected an s3://bucket/key URI, got {uri!r}", parameter=parameter)
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or (require_key and not key):
        what = "s3://bucket/key" if require_key else "s3://bucket[/prefix/]"
        raise InvalidRequestError(f"expected {what}, got {uri!r}", parameter=parameter)
    return S3Location(bucket=bucket, key=key)


def parse_destination(uri: object) -> S3Location | None:
    """An operator's or sensor's rendered ``s3_destination`` (``None``: no landing), parsed once."""
    return None if uri is None else parse_s3_uri(uri, parameter="s3_destination", require_key=False)


def normalize_prefix(prefix: str) -> str:
    """A key prefix that is empty or ends with exactly one ``/`` (so keys never collide across tasks)."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def s3_client(aws_conn_id: str | None) -> S3Client:
    """A boto3 S3 client from the Airflow aws connection (endpoint, region, credentials from its extra)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    client: S3Client = S3Hook(aws_conn_id=aws_conn_id).get_conn()
    return client


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``404``, ``AccessDenied``...)."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"})


def s3_failure(
    action: str, exc: BaseException, task_uuid: str | None = None, parameter: str | None = None
) -> RunwareError:
    """An S3 failure as a Runware error: a missing bucket and a denial are final, the rest transport."""
    code = error_code(exc)
    ids: dict[str, Any] = {"task_uuid": task_uuid, "parameter": parameter}
    if code == "NoSuchBucket":
        message = f"{action}: the destination bucket does not exist"
        return RunwareNotFoundError(message, code="noSuchBucket", retryable=False, **ids)
    if code in DENIED_CODES or code == "SignatureDoesNotMatch":
        message = f"{action}: access denied ({code})"
        return RunwareError(message, code="s3AccessDenied", category="auth", retryable=False, **ids)
    message = f"{action} failed: {type(exc).__name__}: {str(exc)[:200]}"
    return RunwareTransportError(message, code="s3Error", category="transport", **ids)


def move_object(
    s3: S3Client, bucket: str, source: str, target: str, size: int, content_type: str, meta: dict[str, str]
) -> None:
    """Server-side copy ``source`` to ``target`` with new metadata (boto3's managed copy above 5 GiB), then
    delete ``source`` if different; with ``source == target`` only the metadata changes."""
    copy_source = {"Bucket": bucket, "Key": source}
    # A full-object checksum for the copy: a multipart source's is per part ("...-N"), which does not
    # describe the copy (and that S3 emulators would hand on as if it did).
    extra = {
        "Metadata": meta,
        "MetadataDirective": "REPLACE",
        "ContentType": content_type,
        "ChecksumAlgorithm": "CRC32",
    }
    if size <= SINGLE_COPY_MAX:
        s3.copy_object(Bucket=bucket, Key=target, CopySource=copy_source, **extra)  # type: ignore[arg-type]
    else:
        s3.copy(copy_source, bucket, target, ExtraArgs=extra)  # type: ignore[arg-type]
    if source != target:
        s3.delete_object(Bucket=bucket, Key=source)
