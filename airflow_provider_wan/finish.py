"""What the operator and the sensor share: the hook, the deferral, and the finish (land the videos in S3,
push the XCom value of :func:`airflow_provider_wan.results.xcom_value` and the asset event, log a summary)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.media.landing import LandedVideo
    from airflow_provider_wan.media.s3 import S3Location
    from airflow_provider_wan.poller import Wait
    from airflow_provider_wan.results import VideoResult, XComValue

# The framework backstop fires this long after the trigger's own deadline, so the trigger's timeout
# event (with its clear message) normally wins.
BACKSTOP_SECONDS = 300


class RunwareTask(BaseOperator):
    """Base of ``WanVideoOperator`` and ``RunwareVideoSensor`` (each sets these attributes)."""

    runware_conn_id: str
    s3_destination: str | None
    aws_conn_id: str | None
    allow_partial_results: bool
    fail_on_nsfw: bool

    @cached_property
    def hook(self) -> RunwareHook:
        from airflow_provider_wan.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    @cached_property
    def destination(self) -> S3Location | None:
        """``s3_destination`` parsed once (after rendering): where every video is landed."""
        from airflow_provider_wan.media.s3 import parse_destination

        return parse_destination(self.s3_destination)

    def defer_wait(self, wait: Wait, timeout: timedelta, echo: dict[str, Any] | None = None) -> NoReturn:
        """Hand ``wait`` to the triggerer; ``execute_complete`` resumes on a fresh instance."""
        from airflow_provider_wan.triggers.video import RunwareVideoTrigger

        self.defer(
            trigger=RunwareVideoTrigger.for_wait(wait, runware_conn_id=self.runware_conn_id, echo=echo),
            method_name="execute_complete",
            timeout=timeout + timedelta(seconds=BACKSTOP_SECONDS),
        )

    def finish(
        self, context: Context, event: Any, *, estimated_cost: float | None = None, output_format: str = ""
    ) -> XComValue:
        """The task's XCom value, once every video is in S3 (with a destination); raises the Runware error
        when the event says the task failed. Unless given, the estimate and output format come from the
        operator's echo in the event (``execute_complete`` runs on a fresh instance)."""
        from airflow_provider_wan.results import parse_event, xcom_value

        parsed = parse_event(event)
        lander = None
        destination = self.destination
        if destination is not None:
            fmt = output_format or parsed.get("output_format") or "MP4"
            delivered = parsed.get("delivery_key") or False

            def lander(videos: Sequence[VideoResult]) -> Sequence[LandedVideo]:
                from airflow_provider_wan.media.delivery import land_task_outputs

                return land_task_outputs(
                    videos,
                    location=destination,
                    task_uuid=parsed["task_uuid"],
                    hook=self.hook,
                    aws_conn_id=self.aws_conn_id,
                    output_format=fmt,
                    delivered=delivered,
                )

        value = xcom_value(
            parsed,
            allow_partial_results=self.allow_partial_results,
            fail_on_nsfw=self.fail_on_nsfw,
            estimated_cost=estimated_cost if estimated_cost is not None else parsed.get("estimated_cost"),
            land=lander,
            log=self.log,
        )
        if lander is not None:
            emit_asset_event(context, value, self.outlets)
        ti = context["ti"]
        ti.xcom_push(key="task_uuid", value=value["task_uuid"])
        ti.xcom_push(key="video_url", value=value["video_url"])
        ti.xcom_push(key="cost", value=value["cost"])
        duration = parsed.get("duration")
        if duration is not None:  # for the spend view: the seconds of video this task paid for
            ti.xcom_push(key="video_seconds", value=duration * len(value["videos"]))
        submitted_at = parsed.get("submitted_at")
        waited = max(0.0, time.time() - submitted_at) if submitted_at is not None else None
        self.log.info("%s", summary(value, video_duration=duration, waited_seconds=waited))
        return value


def emit_asset_event(context: Context, value: XComValue, outlets: Iterable[Any]) -> None:
    """Attach task UUID, S3 URIs and cost to the S3 asset event, for asset-scheduled downstream DAGs."""
    outlet_events = context.get("outlet_events")
    if outlet_events is None:
        return
    for outlet in outlets:
        uri = getattr(outlet, "uri", None)
        if isinstance(uri, str) and uri.startswith("s3://"):
            extra: dict[str, Any] = {
                "task_uuid": value["task_uuid"],
                "s3_uris": value.get("s3_uris", []),
                "video_uuids": [v["video_uuid"] for v in value["videos"]],
                "cost": value["cost"],
            }
            outlet_events[outlet].extra = extra


def summary(
    value: Mapping[str, Any], *, video_duration: float | None = None, waited_seconds: float | None = None
) -> str:
    """The final log line (videos, seconds of video, cost vs estimate, wait), then one line per video."""
    cost, estimated, count = value.get("cost"), value.get("estimated_cost"), len(value["videos"])
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
    lines += [f"  {v['video_uuid']}: {v.get('s3_uri') or v.get('video_url')}" for v in value["videos"]]
    return "\n".join(lines)
