"""TaskFlow: ``@task.wan_video`` turns a Python function that writes the prompt into a video task.

Use case: a Python-first DAG. An upstream task lists this week's product launches; one decorated
function writes each launch's prompt from its fields and is mapped over them (``.expand``), so every
launch gets its own clip. A second decorated function returns a whole request dict (Runware's wire form,
as an upstream system might hand it over) for a vertical teaser.

What it shows:

* ``@task.wan_video(...)`` takes ``WanVideoOperator``'s arguments (size, duration, ``deferrable``,
  ``max_cost_usd``, ``s3_destination``...); the function returns the prompt (a string) or the request
  (a dict) and gets its arguments and context keys (``ds``) like any ``@task``;
* ``.expand(launch=...)``: one mapped video task per launch, each re-attaching on retries;
* the task's XCom value is ``WanVideoOperator``'s contract (``s3_uri``, ``cost``, ``videos``...), read by
  a plain ``@task`` downstream.
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

with DAG(
    dag_id="example_wan_taskflow",
    description="Python-first Wan2.7 videos with @task.wan_video, mapped over this week's launches",
    schedule="@weekly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=TAGS,
    doc_md=__doc__,
) as dag:

    @task
    def launches() -> list[dict[str, str]]:
        """Stand-in for a query against the product catalogue."""
        return [
            {"name": "Aurora desk lamp", "mood": "calm", "setting": "a tidy oak desk at dusk"},
            {"name": "Trail bottle", "mood": "energetic", "setting": "a mountain ridge at sunrise"},
        ]

    @task.wan_video(
        size="720p_16_9",
        duration=5,
        deferrable=True,
        max_cost_usd=0.60,
        s3_destination=s3_prefix(PREFIX, "taskflow", "{{ ds }}", "launches"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )
    def launch_clip(launch: dict[str, str], ds: str | None = None) -> str:
        return (
            f"A {launch['mood']} product film for the {launch['name']} on {launch['setting']}, "
            f"launch week of {ds}. Slow orbit around the product, shallow depth of field, no text."
        )

    @task.wan_video(
        deferrable=True,
        max_cost_usd=0.60,
        s3_destination=s3_prefix(PREFIX, "taskflow", "{{ ds }}", "teaser"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )
    def teaser(ds_nodash: str | None = None) -> dict[str, Any]:
        # A whole request, in Runware's wire form; the decorator's arguments still apply to the task.
        return {
            "positivePrompt": "Quick cuts of new products sliding into frame on bold colour fields",
            "negativePrompt": "text, watermark, logo",
            "width": 720,
            "height": 1280,
            "duration": 5,
            "seed": int(ds_nodash or 0),
        }

    @task
    def report(clips: list[dict[str, Any]], teaser_clip: dict[str, Any]) -> dict[str, Any]:
        for clip in [*clips, teaser_clip]:
            print(describe_result(clip))
        return {
            "launches": [clip["s3_uri"] for clip in clips],
            "teaser": teaser_clip["s3_uri"],
            "cost": sum(clip["cost"] for clip in [*clips, teaser_clip]),
        }

    report(launch_clip.expand(launch=launches()), teaser())
