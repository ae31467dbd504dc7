"""Prompt library: prompts kept as files under version control and rendered with Jinja at run time.

Use case: a marketing team owns its prompts. They live next to the DAG in ``prompts/`` (reviewed in pull
requests like code), with a shared house-style snippet pulled in by ``{% include %}``; the DAG only names
the files. Params pick the product and tone per run (trigger with a conf to change them).

What it shows:

* ``positive_prompt="prompts/product_spotlight.j2"`` and ``negative_prompt="prompts/negative.txt"``:
  ``.txt``, ``.j2`` and ``.md`` files on the prompt fields are read through the DAG's template search
  path (the DAG file's folder, plus ``template_searchpath``) and rendered with the task's context
  (``params``, ``ds``, ``dag_run.conf``...);
* ``request="prompts/vertical_teaser.json"``: a whole request from a ``.json`` file, rendered the same way;
* other fields never read files: an ``s3_destination`` or a prompt text that merely ends in ".json"
  stays what it is;
* the usual operator guarantees: deferrable, budget-capped, retried safely, landed in S3.
"""

from __future__ import annotations

from _wan_support import (
    AWS_CONN_ID,
    PREFIX,
    START_DATE,
    TAGS,
    default_args,
    poll_settings,
    s3_prefix,
)
from airflow.sdk import DAG, Param

from airflow_provider_wan.operators.video import WanVideoOperator

with DAG(
    dag_id="example_wan_prompt_library",
    description="Wan2.7 prompts and requests from version-controlled template files",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={
        "product": Param("Aurora desk lamp", type="string"),
        "tone": Param("warm", type="string", enum=["warm", "crisp", "playful"]),
    },
    tags=TAGS,
    doc_md=__doc__,
) as dag:
    spotlight = WanVideoOperator(
        task_id="product_spotlight",
        positive_prompt="prompts/product_spotlight.j2",
        negative_prompt="prompts/negative.txt",
        size="720p_16_9",
        duration=5,
        seed="{{ ds_nodash }}",
        deferrable=True,
        max_cost_usd=1.00,
        s3_destination=s3_prefix(PREFIX, "prompt-library", "{{ ds }}", "spotlight"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )
    teaser = WanVideoOperator(
        task_id="vertical_teaser",
        request="prompts/vertical_teaser.json",
        deferrable=True,
        max_cost_usd=1.00,
        s3_destination=s3_prefix(PREFIX, "prompt-library", "{{ ds }}", "teaser"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )
