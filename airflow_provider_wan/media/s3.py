"""Small S3 helpers shared by input resolution and output landing: locations, errors, and the integrity
record of a landed object (tags) and its check (boto3 imported lazily: DAG parsing imports this package
and must stay free of it). Streamed uploads are :mod:`.multipart`'s."""

from __future__ import annotations

import base64
import hashlib
import logging
import urllib.parse
from collections.abc import Mapping
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

log = logging.getLogger(__name__)

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
    s3: S3Client,
    bucket: str,
    source: str,
    target: str,
    size: int,
    content_type: str,
    meta: dict[str, str],
    tags: Mapping[str, str],
) -> None:
    """Server-side copy ``source`` to ``target`` with new metadata and tags (boto3's managed copy above
    5 GiB), then delete ``source`` if different."""
    copy_source = {"Bucket": bucket, "Key": source}
    # A full-object checksum for the copy: a multipart source's is per part ("...-N"), which does not
    # describe the copy (and that S3 emulators would hand on as if it did).
    extra = {
        "Metadata": meta,
        "MetadataDirective": "REPLACE",
        "ContentType": content_type,
        "ChecksumAlgorithm": "CRC32",
        "Tagging": tagging(tags),
        "TaggingDirective": "REPLACE",
    }
    if size <= SINGLE_COPY_MAX:
        s3.copy_object(Bucket=bucket, Key=target, CopySource=copy_source, **extra)  # type: ignore[arg-type]
    else:
        s3.copy(copy_source, bucket, target, ExtraArgs=extra)  # type: ignore[arg-type]
    if source != target:
        s3.delete_object(Bucket=bucket, Key=source)


# ------------------------------------------------------------------------------------------------------
# What a landed object records about its own bytes, and how that record is checked.
#
# Object tags, not metadata: the SHA-256 of a streamed upload is known only once the last byte has gone,
# and metadata can then be changed only by copying the object onto itself (a second full write). A tag
# set is one small PutObjectTagging. S3's own SHA-256 checksum is not that digest for a multipart upload
# (a checksum of the parts' checksums), so it is used where it is the digest: single-PUT objects.

SHA256_TAG, SIZE_TAG = "sha256", "size"


def integrity_tags(sha256: str, size: int) -> dict[str, str]:
    return {SHA256_TAG: sha256, SIZE_TAG: str(size)}


def tagging(tags: Mapping[str, str]) -> str:
    """A tag set in PutObject's ``Tagging`` form."""
    return urllib.parse.urlencode(tags)


def put_tags(s3: S3Client, bucket: str, key: str, tags: Mapping[str, str]) -> None:
    tag_set = [{"Key": name, "Value": value} for name, value in tags.items()]
    s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})  # type: ignore[typeddict-item]


def get_tags(s3: S3Client, bucket: str, key: str) -> dict[str, str]:
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    return {str(tag["Key"]): str(tag["Value"]) for tag in tag_set}


def sha256_checksum(hexdigest: str) -> str:
    """A SHA-256 in S3's ``ChecksumSHA256`` form (base64)."""
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def verified_sha256(s3: S3Client, bucket: str, key: str, head: Mapping[str, Any]) -> str | None:
    """The SHA-256 an object records (its tag; metadata on objects landed by earlier releases) when its
    size and bytes match it, else ``None`` (logged). ``head``: a HEAD with ``ChecksumMode`` enabled."""
    tags, uri, size = get_tags(s3, bucket, key), f"s3://{bucket}/{key}", int(head.get("ContentLength", 0))
    meta = {name.lower(): value for name, value in (head.get("Metadata") or {}).items()}
    recorded = (tags.get(SHA256_TAG) or meta.get("sha256") or "").lower()
    if not recorded:
        log.info("%s records no SHA-256 (an interrupted copy?): copying the video again", uri)
        return None
    if SIZE_TAG in tags and tags[SIZE_TAG] != str(size):
        log.warning(
            "%s has %d bytes, not the %s it records: copying the video again", uri, size, tags[SIZE_TAG]
        )
        return None
    actual = stored_sha256(s3, bucket, key, head)
    if actual != recorded:
        log.warning(
            "%s does not hold the bytes it records (SHA-256 %s, not %s): copying the video again",
            uri,
            actual,
            recorded,
        )
        return None
    return actual


def stored_sha256(s3: S3Client, bucket: str, key: str, head: Mapping[str, Any]) -> str:
    """The SHA-256 of the object's bytes as S3 holds them (``head`` from a HEAD with ``ChecksumMode``).

    A full-object ``ChecksumSHA256`` is free (S3 checked it against the bytes when they were written);
    anything else (a multipart upload's composite checksum, a CRC, none) is answered by reading the
    object through SHA-256, 1 MiB at a time."""
    checksum = str(head.get("ChecksumSHA256") or "")
    if checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
        try:
            return base64.b64decode(checksum, validate=True).hex()
        except ValueError:
            log.warning("s3://%s/%s has an unreadable ChecksumSHA256: reading it instead", bucket, key)
    hasher = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(chunk_size=1024 * 1024):
        hasher.update(chunk)
    return hasher.hexdigest()
