"""Finishing a Runware task in Airflow: policy → (S3 landing) → XCom → asset event → summary.

Shared by :class:`~airflow_provider_wan.operators.video.WanVideoOperator` and
:class:`~airflow_provider_wan.sensors.video.RunwareVideoSensor`, so both hand downstream tasks the same
XCom contract and land outputs the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_wan.outcome import build_xcom, result_from_event

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.hooks.runware import RunwareHook


def complete_task(
    context: Context,
    event: Any,
    *,
    hook: RunwareHook,
    log: logging.Logger | logging.LoggerAdapter[Any] | Any,
    estimated_cost: float | None = None,
    allow_partial_results: bool = False,
    fail_on_nsfw: bool = False,
    s3_destination: str | None = None,
    aws_conn_id: str | None = "aws_default",
    output_format: str = "MP4",
    outlets: Iterable[Any] | None = None,
    delivered: bool | str = False,
    video_duration: float | None = None,
    waited_seconds: float | None = None,
) -> dict[str, Any]:
    """Turn a terminal event into the task's XCom value, landing videos in S3 first when asked.

    Raises the Runware error (code, message, parameter, task UUID) when the event says the task failed.
    The task succeeds only once every video is safely in S3 (when ``s3_destination`` is set).

    :param video_duration: seconds per video (the request's duration), for the summary; ``None`` when
        unknown (a sensor never saw the request).
    :param waited_seconds: seconds since the submit, for the summary; ``None`` when unknown.
    """
    value = result_from_event(
        event,
        allow_partial_results=allow_partial_results,
        fail_on_nsfw=fail_on_nsfw,
        estimated_cost=estimated_cost,
        log=log,
    )
    if s3_destination:
        value = land_value(
            value,
            hook=hook,
            destination=s3_destination,
            aws_conn_id=aws_conn_id,
            output_format=output_format,
            delivered=delivered,
        )
        emit_asset_event(context, value, outlets or [])
    ti = context["ti"]
    ti.xcom_push(key="task_uuid", value=value["task_uuid"])
    ti.xcom_push(key="video_url", value=value["video_url"])
    ti.xcom_push(key="cost", value=value["cost"])
    if video_duration is not None:  # for the spend view: the seconds of video this task paid for
        ti.xcom_push(key="video_seconds", value=video_duration * len(value["videos"]))
    log.info("%s", summary(value, video_duration=video_duration, waited_seconds=waited_seconds))
    return value


def land_value(
    value: Mapping[str, Any],
    *,
    hook: RunwareHook,
    destination: str,
    aws_conn_id: str | None,
    output_format: str,
    delivered: bool | str = False,
) -> dict[str, Any]:
    """Copy an XCom value's videos to S3; each video gains ``s3_uri``, ``sha256`` and ``size_bytes``."""
    from airflow_provider_wan.media import landing

    task_uuid = value["task_uuid"]
    landed = landing.land_task_outputs(
        value["videos"],
        task_uuid=task_uuid,
        destination=destination,
        aws_conn_id=aws_conn_id,
        hook=hook,
        output_format=output_format,
        delivered=delivered,
    )
    by_uuid = {item.video_uuid: item for item in landed}
    videos = []
    for video in value["videos"]:
        item = by_uuid.get(video["video_uuid"])
        extra = {"s3_uri": item.s3_uri, "sha256": item.sha256, "size_bytes": item.size_bytes} if item else {}
        videos.append({**video, **extra})
    return build_xcom(
        task_uuid=task_uuid, status=value["status"], videos=videos, estimated_cost=value.get("estimated_cost")
    )


def emit_asset_event(context: Context, value: Mapping[str, Any], outlets: Iterable[Any]) -> None:
    """Attach task UUID, S3 URIs and cost to the S3 asset event, for asset-scheduled downstream DAGs."""
    outlet_events = context.get("outlet_events")
    if outlet_events is None:
        return
    for outlet in outlets:
        uri = getattr(outlet, "uri", None)
        if isinstance(uri, str) and uri.startswith("s3://"):
            outlet_events[outlet].extra = {
                "task_uuid": value["task_uuid"],
                "s3_uris": value.get("s3_uris", []),
                "video_uuids": [v["video_uuid"] for v in value["videos"]],
                "cost": value["cost"],
            }


def summary(
    value: Mapping[str, Any], *, video_duration: float | None = None, waited_seconds: float | None = None
) -> str:
    """The final log line: videos, seconds of video, cost vs estimate, wait; then one line per video.

    Seconds of video and the wait are left out when unknown. A log line only: the XCom keys stay as the
    contract says.
    """
    cost = value.get("cost")
    estimated = value.get("estimated_cost")
    count = len(value["videos"])
    parts = [f"Runware task {value['task_uuid']}: {count} video(s)"]
    if video_duration is not None:
        parts.append(f"{video_duration * count:g} s of video")
    parts.append(
        f"cost {f'${cost:.4f}' if isinstance(cost, (int, float)) else 'not reported'} "
        f"(estimated {f'${estimated:.4f}' if isinstance(estimated, (int, float)) else 'n/a'})"
    )
    if waited_seconds is not None:
        parts.append(f"waited {waited_seconds:.1f} s since submit")
    lines = [", ".join(parts)]
    for video in value["videos"]:
        lines.append(f"  {video['video_uuid']}: {video.get('s3_uri') or video.get('video_url')}")
    return "\n".join(lines)
