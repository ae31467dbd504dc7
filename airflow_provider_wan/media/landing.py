"""Land the outputs of one Runware task in S3: the single entry point for the operator and the sensor.

Whether the task was submitted by this Airflow task or elsewhere, its videos go through the same
:func:`~airflow_provider_wan.media.outputs.land_videos` (streamed, checksummed, skipped on reruns), with
expired URLs refreshed once from Runware (getResponse, then getTaskDetails). After an ``uploadEndpoint``
delivery the delivered object is verified and filed under the same canonical key instead of copied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.media.outputs import (
    LandedVideo,
    land_videos,
    runware_url_refresher,
    verify_delivered,
)
from airflow_provider_wan.media.s3 import NOT_FOUND_CODES, error_code, parse_s3_uri, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.results import VideoResult

log = logging.getLogger(__name__)

# Runware may report success while its uploadEndpoint PUT is still under way: wait this long for the
# staged object before paying for a download of the whole video instead.
DELIVERY_GRACE_SECONDS = 10.0


def land_task_outputs(
    videos: Sequence[Mapping[str, Any] | VideoResult] | None = None,
    *,
    task_uuid: str,
    destination: str,
    aws_conn_id: str | None = "aws_default",
    hook: RunwareHook | None = None,
    output_format: str | None = "MP4",
    delivered: bool | str = False,
    delivery_grace_seconds: float = DELIVERY_GRACE_SECONDS,
    **kwargs: Any,
) -> list[LandedVideo]:
    """Land every video of ``task_uuid`` under ``destination`` (``s3://bucket/prefix/``), in task order.

    :param videos: the task's successful results (XCom video dicts or :class:`VideoResult`); ``None``
        reads them with one getResponse through ``hook``.
    :param hook: used to refresh expired URLs (and to read ``videos`` when not given); without it an
        expired URL is an error at once.
    :param delivered: the key returned by :func:`~airflow_provider_wan.media.outputs.delivery_key` when the
        request carried an ``uploadEndpoint``: that object is verified and filed instead of copying; if it
        is missing or implausible the video is copied as usual. ``True`` without a key cannot locate the
        delivery and falls back to copying.
    :param delivery_grace_seconds: how long to wait for a delivery that has not arrived yet (Runware's PUT
        may finish after the task reports success) before copying instead.
    :param kwargs: passed to :func:`land_videos` (``chunk_size``, ``s3``, ``http_client``...).
    """
    if videos is None:
        if hook is None:
            raise ValueError("land_task_outputs needs either videos or a hook to read them")
        state = hook.get_responses([task_uuid]).get(task_uuid)
        videos = list(state.results) if state is not None else []
    refresh = runware_url_refresher(hook, task_uuid) if hook is not None else None
    if delivered and len(videos) == 1:
        if isinstance(delivered, str):
            landed = _verify_with_grace(
                videos[0],
                task_uuid=task_uuid,
                destination=destination,
                key=delivered,
                aws_conn_id=aws_conn_id,
                output_format=output_format,
                s3=kwargs.get("s3"),
                http_client=kwargs.get("http_client"),
                grace_seconds=delivery_grace_seconds,
            )
            if landed is not None:
                return [landed]
            log.warning("The uploadEndpoint delivery of task %s is not usable: copying the video", task_uuid)
        else:
            log.warning(
                "No delivery key given for task %s: copying the video instead of verifying", task_uuid
            )
    return land_videos(
        videos,
        task_uuid=task_uuid,
        destination=destination,
        aws_conn_id=aws_conn_id,
        refresh_url=refresh,
        output_format=output_format,
        **kwargs,
    )


def _verify_with_grace(
    video: Mapping[str, Any] | VideoResult,
    *,
    key: str,
    destination: str,
    aws_conn_id: str | None,
    s3: S3Client | None,
    grace_seconds: float,
    **kwargs: Any,
) -> LandedVideo | None:
    """:func:`verify_delivered`, waiting up to ``grace_seconds`` for a staged object not there yet."""
    client = s3 if s3 is not None else s3_client(aws_conn_id)
    common: dict[str, Any] = {
        "destination": destination,
        "key": key,
        "aws_conn_id": aws_conn_id,
        "s3": client,
    }
    bucket = parse_s3_uri(destination, parameter="s3_destination", require_key=False).bucket
    staged = _exists(client, bucket, key)
    # Also finds an earlier run's object at its canonical key (no wait on reruns).
    landed = verify_delivered(video, **common, **kwargs)
    if landed is not None or staged:  # staged but refused (implausible): waiting cannot help
        return landed
    deadline = time.monotonic() + max(0.0, grace_seconds)
    delay = 0.25
    while time.monotonic() < deadline:
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)
        if _exists(client, bucket, key):
            log.info("The uploadEndpoint delivery s3://%s/%s arrived after the task finished", bucket, key)
            return verify_delivered(video, **common, **kwargs)
    return None


def _exists(client: S3Client, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        # Not found: keep waiting. Anything else: stop waiting; verify_delivered reports it properly.
        return error_code(exc) not in NOT_FOUND_CODES
    return True


__all__ = ["DELIVERY_GRACE_SECONDS", "land_task_outputs"]
