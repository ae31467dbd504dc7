"""Fire and forget: submit in one task, wait (deferred) in a sensor that lands the result in S3.

Use case: the submit is cheap and fast, the wait is long. Splitting them lets you

* give the wait its own timeout, retries and pool (or move it to another DAG: the sensor only needs the
  Runware task UUID, e.g. from XCom, an API or a database);
* re-run only the wait if it times out: the generation is never submitted again;
* keep the worker free: ``RunwareVideoSensor(deferrable=True)`` waits in the triggerer.

``submit`` (``wait_for_completion=False``) pushes ``task_uuid`` to XCom at once and returns
``{"status": "submitted", "estimated_cost": ...}``. ``wait_for_video`` polls that UUID, copies the
video to S3 (``s3_destination``) and returns the same XCom contract as ``WanVideoOperator``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _wan_support import (
    AWS_CONN_ID,
    PREFIX,
    START_DATE,
    TAGS,
    default_args,
    describe_result,
    s3_prefix,
    sensor_poke_seconds,
)
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor

with DAG(
    dag_id="example_wan_fire_and_forget",
    description="Submit a Wan2.7 video, then wait for it in a deferrable sensor that lands it in S3",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=TAGS,
    doc_md=__doc__,
) as dag:
    submit = WanVideoOperator(
        task_id="submit",
        positive_prompt=(
            "A paper boat drifts down a rain-soaked street gutter, macro lens, reflections of neon signs, "
            "slow motion."
        ),
        size="720p_9_16",
        duration=4,
        wait_for_completion=False,
        max_cost_usd=0.50,
    )

    wait = RunwareVideoSensor(
        task_id="wait_for_video",
        task_uuid="{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}",
        deferrable=True,
        poke_interval=sensor_poke_seconds(),
        timeout=timedelta(hours=1).total_seconds(),
        s3_destination=s3_prefix(PREFIX, "fire-and-forget", "{{ ds }}"),
        aws_conn_id=AWS_CONN_ID,
        # The sensor never saw the request: carry the submitter's estimate into the XCom contract.
        estimated_cost="{{ ti.xcom_pull(task_ids='submit')['estimated_cost'] }}",
    )

    @task
    def report(result: dict[str, Any]) -> dict[str, Any]:
        """Read the XCom contract: where the video is and what it cost."""
        print(describe_result(result))
        return {"s3_uri": result.get("s3_uri"), "cost": result["cost"]}

    submit >> wait
    report(wait.output)
