"""Daily text-to-video: one fresh clip per day, landed in S3 under the day's date.

Use case: a "video of the day" for a social channel or a digital signage loop. The prompt and the S3
path carry ``{{ ds }}``; the seed is the date (``{{ ds_nodash }}``), so a rerun of a given day asks for
exactly the same video.

What it shows:

* text-to-video with a size preset (``size="720p_16_9"`` = 1280x720), 5 s, native audio;
* ``deferrable=True``: the worker slot is free while Runware renders (the triggerer polls);
* ``max_cost_usd``: refused before any request if the estimate ($0.50 here) ever exceeds the cap;
* ``retries=2`` (default_args): safe, a retry re-attaches to the generation already paid for;
* ``s3_destination``: the video is streamed to S3 and checksummed before the task succeeds, so it
  outlives Runware's expiring URL;
* a downstream task reading the XCom contract (``s3_uri``, ``video_url``, ``cost``).
"""

from __future__ import annotations

from typing import Any

from _wan_support import (
    AWS_CONN_ID,
    PREFIX,
    START_DATE,
    TAGS,
    default_args,
    describe_result,
    poll_settings,
    s3_prefix,
)
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator

with DAG(
    dag_id="example_wan_daily_text_to_video",
    description="A daily Wan2.7 clip, prompt and S3 path keyed by the date",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=TAGS,
    doc_md=__doc__,
) as dag:
    clip = WanVideoOperator(
        task_id="generate_daily_clip",
        positive_prompt=(
            "A calm cinematic time-lapse over a harbour city at sunrise on {{ ds }}: ferries leave golden "
            "wakes, gulls circle, morning light sweeps across the rooftops. Slow aerial push-in."
        ),
        negative_prompt="text, watermark, logo, blurry, distorted faces",
        size="720p_16_9",
        duration=5,
        seed="{{ ds_nodash }}",
        generate_audio=True,
        deferrable=True,
        max_cost_usd=1.00,
        s3_destination=s3_prefix(PREFIX, "daily", "{{ ds }}"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )

    @task
    def publish(result: dict[str, Any]) -> str:
        """Stand-in for publishing: log what was produced and hand on the S3 URI."""
        print(describe_result(result))
        return str(result["s3_uri"])

    publish(clip.output)
