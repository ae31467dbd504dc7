"""Small S3 helpers shared by input resolution and output landing.

boto3/botocore and the amazon provider are imported lazily inside functions: the operator module imports
this package at DAG-parse time, and parsing must stay free of those imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.errors import InvalidRequestError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str, *, parameter: str = "s3_uri", require_key: bool = True) -> S3Location:
    """Split ``s3://bucket/key`` (a destination prefix may be empty when ``require_key`` is False)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InvalidRequestError(f"expected an s3://bucket/key URI, got {uri!r}", parameter=parameter)
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket or (require_key and not key):
        what = "s3://bucket/key" if require_key else "s3://bucket[/prefix/]"
        raise InvalidRequestError(f"expected {what}, got {uri!r}", parameter=parameter)
    return S3Location(bucket=bucket, key=key)


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


def is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)


NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"})
