"""A task's outputs to S3: the one entry point for the operator and the sensor.

Whether the task was submitted by this Airflow task or elsewhere, its videos go through the same
:func:`~airflow_provider_wan.media.landing.land_videos` (streamed, checksummed, skipped on reruns), with
expired URLs refreshed once from Runware (getResponse, then getTaskDetails). After an ``uploadEndpoint``
delivery the delivered object is verified and filed under the same canonical key instead
(:mod:`~airflow_provider_wan.media.delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.media.delivery import DELIVERY_GRACE_SECONDS, verify_delivered
from airflow_provider_wan.media.landing import LandedVideo, land_videos, runware_url_refresher

if TYPE_CHECKING:
    import httpx
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.media.s3 import S3Location
    from airflow_provider_wan.results import VideoResult

log = logging.getLogger(__name__)


def land_task_outputs(
    videos: Sequence[VideoResult] | None = None,
    *,
    task_uuid: str,
    location: S3Location,
    aws_conn_id: str | None = "aws_default",
    hook: RunwareHook | None = None,
    output_format: str | None = "MP4",
    delivered: bool | str = False,
    delivery_grace_seconds: float = DELIVERY_GRACE_SECONDS,
    s3: S3Client | None = None,
    http_client: httpx.Client | None = None,
    **options: Any,
) -> list[LandedVideo]:
    """Land every video of ``task_uuid`` under ``location`` (bucket and key prefix), in task order.

    :param videos: the task's successful results; ``None`` reads them with one getResponse through ``hook``.
    :param hook: used to refresh expired URLs (and to read ``videos`` when not given); without it an
        expired URL is an error at once.
    :param delivered: the key from :func:`~airflow_provider_wan.media.delivery.delivery_key` when the
        request carried an ``uploadEndpoint``: that object is verified and filed instead of copying; if it
        is missing or implausible the video is copied as usual. ``True`` without a key cannot locate the
        delivery and falls back to copying.
    :param delivery_grace_seconds: how long to wait for a delivery that has not arrived yet (Runware's PUT
        may finish after the task reports success) before copying instead.
    :param options: passed to :func:`land_videos` (``chunk_size``, ``upload_concurrency``, ``retry``).
    """
    if videos is None:
        if hook is None:
            raise ValueError("land_task_outputs needs either videos or a hook to read them")
        state = hook.get_responses([task_uuid]).get(task_uuid)
        videos = list(state.results) if state is not None else []
    common: dict[str, Any] = {
        "task_uuid": task_uuid,
        "location": location,
        "aws_conn_id": aws_conn_id,
        "output_format": output_format,
        "s3": s3,
        "http_client": http_client,
    }
    if delivered and len(videos) == 1:
        if isinstance(delivered, str):
            landed = verify_delivered(
                videos[0], key=delivered, grace_seconds=delivery_grace_seconds, **common
            )
            if landed is not None:
                return [landed]
            log.warning("The uploadEndpoint delivery of task %s is not usable: copying the video", task_uuid)
        else:
            log.warning(
                "No delivery key given for task %s: copying the video instead of verifying", task_uuid
            )
    refresh = runware_url_refresher(hook, task_uuid) if hook is not None else None
    return land_videos(videos, refresh_url=refresh, **common, **options)
