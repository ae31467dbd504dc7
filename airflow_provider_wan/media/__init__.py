"""Media in and out: resolve input references before submitting, land output videos in S3 after.

Importing this package is cheap and safe at DAG-parse time: boto3/botocore (through the amazon
provider's S3Hook) and PyAV are imported only inside the functions that need them.
"""

from __future__ import annotations

from airflow_provider_wan.media.checks import DEFAULT_LIMITS, MediaLimits, S3InputMode, check_media_inputs
from airflow_provider_wan.media.landing import land_task_outputs
from airflow_provider_wan.media.outputs import (
    DEFAULT_CHUNK_SIZE,
    LandedVideo,
    delivery_key,
    land_videos,
    object_key,
    presigned_put_url,
    runware_url_refresher,
    upload_endpoint_eligible,
    verify_delivered,
)
from airflow_provider_wan.media.references import classify_reference
from airflow_provider_wan.media.s3 import S3Location, parse_s3_uri
from airflow_provider_wan.media.uploads import (
    ResolvedInputs,
    ResolvedMedia,
    StoredMedia,
    deterministic_task_uuid,
    resolve_media_inputs,
    upload_idempotent,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_LIMITS",
    "LandedVideo",
    "MediaLimits",
    "ResolvedInputs",
    "ResolvedMedia",
    "S3InputMode",
    "S3Location",
    "StoredMedia",
    "check_media_inputs",
    "classify_reference",
    "delivery_key",
    "deterministic_task_uuid",
    "land_task_outputs",
    "land_videos",
    "object_key",
    "parse_s3_uri",
    "presigned_put_url",
    "resolve_media_inputs",
    "runware_url_refresher",
    "upload_endpoint_eligible",
    "upload_idempotent",
    "verify_delivered",
]
