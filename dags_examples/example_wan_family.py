"""Wan 3.0 and the rest of the Wan family (or any Runware video model) on the same retry-safe path.

Use case: a new model version is out and you want it in the same pipelines, with the same guarantees
(a retry re-attaches instead of paying twice, the wait is deferred, the videos land in S3 with a
checksum, the XCom contract is unchanged and its ``model`` says which model ran).

* ``wan30_clip``: ``WanVideoOperator(model="alibaba:wan@3.0")`` with the operator's own arguments. For
  Wan2.7 every rule of the model page is checked; for 2.6, 2.6-flash, 3.0 and 3.0-prime the fields and
  ranges Runware's SDK declares (Wan 3.0 adds ``480p`` and takes ``duration`` as a string too; 2.6's
  options go under ``providerSettings``, which the operator does for you).
* ``wan30_prime_clip``: ``RunwareVideoOperator`` takes any model by its AIR id and Runware's wire JSON
  as ``request``; we check its structure, Runware the rest (its refusal fails the task, not retried).
* Budgets: this provider knows only Wan2.7's price. With ``max_cost_usd`` and a model whose price it does
  not know, the task is refused before any request unless ``estimated_cost_usd`` says what you expect to
  pay (here: 5 s at 720p, $0.10/s, your own figure from Runware's pricing page).
"""

from __future__ import annotations

from typing import Any

from _wan_support import (
    AWS_CONN_ID,
    PREFIX,
    START_DATE,
    default_args,
    describe_result,
    poll_settings,
    s3_prefix,
)
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.runware import RunwareVideoOperator
from airflow_provider_wan.operators.video import WanVideoOperator

with DAG(
    dag_id="example_wan_family",
    description="Wan 3.0 through WanVideoOperator(model=...), Wan 3.0-prime through RunwareVideoOperator",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=["wan3.0", "runware", "example"],
    doc_md=__doc__,
) as dag:
    wan30 = WanVideoOperator(
        task_id="wan30_clip",
        model="alibaba:wan@3.0",
        positive_prompt=(
            "{{ dag_run.conf.get('subject', 'A glass lighthouse') }} on a basalt cliff at blue hour, "
            "waves breaking below, the beam sweeping through sea mist. Slow orbit shot."
        ),
        resolution="720p",
        duration="5",
        generate_audio=True,
        max_cost_usd=1.00,
        estimated_cost_usd=0.50,
        deferrable=True,
        s3_destination=s3_prefix(PREFIX, "wan-family", "{{ ds }}", "wan30"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )

    prime = RunwareVideoOperator(
        task_id="wan30_prime_clip",
        model="alibaba:wan@3.0-prime",
        request={
            "positivePrompt": "A paper crane unfolds into a flock of birds over a misty lake at dawn",
            "resolution": "480p",
            "duration": "4",
            "settings": {"audio": False},
        },
        max_cost_usd=1.00,
        estimated_cost_usd=0.40,
        deferrable=True,
        s3_destination=s3_prefix(PREFIX, "wan-family", "{{ ds }}", "wan30-prime"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )

    @task
    def report(clips: list[dict[str, Any]]) -> dict[str, Any]:
        """Which model made which video, and what it cost."""
        for clip in clips:
            print(f"{clip['model']}: {describe_result(clip)}")
        return {clip["model"]: clip["s3_uri"] for clip in clips}

    report([wan30.output, prime.output])
