"""Land the outputs of one Runware task in S3: the single entry point for the operator and the sensor.

Whether the task was submitted by this Airflow task or elsewhere, its videos go through the same
:func:`~airflow_provider_wan.media.outputs.land_videos` (streamed, checksummed, skipped on reruns), with
expired URLs refreshed once from Runware (getResponse, then getTaskDetails). After an ``uploadEndpoint``
delivery the delivered object is verified and filed under the same canonical key instead of copied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.media.outputs import (
    LandedVideo,
    land_videos,
    runware_url_refresher,
    verify_delivered,
)

if TYPE_CHECKING:
    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.responses import VideoResult

log = logging.getLogger(__name__)


def land_task_outputs(
    videos: Sequence[Mapping[str, Any] | VideoResult] | None = None,
    *,
    task_uuid: str,
    destination: str,
    aws_conn_id: str | None = "aws_default",
    hook: RunwareHook | None = None,
    output_format: str | None = "MP4",
    delivered: bool | str = False,
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
            landed = verify_delivered(
                videos[0],
                task_uuid=task_uuid,
                destination=destination,
                key=delivered,
                aws_conn_id=aws_conn_id,
                output_format=output_format,
                s3=kwargs.get("s3"),
                http_client=kwargs.get("http_client"),
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


__all__ = ["land_task_outputs"]
