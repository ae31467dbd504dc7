"""Media in and out: resolve input references before submitting, land output videos in S3 after.

Importing this package is cheap and safe at DAG-parse time: boto3/botocore (through the amazon
provider's S3Hook) and PyAV are imported only inside the functions that need them.
"""

from __future__ import annotations

from airflow_provider_wan.media.delivery import (
    delivery_key,
    presigned_put_url,
    upload_endpoint_eligible,
    verify_delivered,
)
from airflow_provider_wan.media.inputs import (
    DEFAULT_LIMITS,
    MediaLimits,
    ResolvedInputs,
    ResolvedMedia,
    S3InputMode,
    classify_reference,
    is_placeholder,
    needs_resolution,
    prevalidate_request,
    resolve_media_inputs,
)
from airflow_provider_wan.media.landing import (
    DEFAULT_CHUNK_SIZE,
    LandedVideo,
    land_videos,
    object_key,
    runware_url_refresher,
)
from airflow_provider_wan.media.outputs import land_task_outputs
from airflow_provider_wan.media.s3 import S3Location, parse_s3_uri
from airflow_provider_wan.media.storage import StoredMedia, deterministic_task_uuid, upload_idempotent

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
    "classify_reference",
    "delivery_key",
    "deterministic_task_uuid",
    "is_placeholder",
    "land_task_outputs",
    "land_videos",
    "needs_resolution",
    "object_key",
    "parse_s3_uri",
    "presigned_put_url",
    "prevalidate_request",
    "resolve_media_inputs",
    "runware_url_refresher",
    "upload_endpoint_eligible",
    "upload_idempotent",
    "verify_delivered",
]
