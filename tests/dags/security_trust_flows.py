"""DAGs for tests/security (local files, token masking): every hostile value comes from ``dag_run.conf``,
as data flowing into templated arguments would."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_wan.operators.video import WanVideoOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
COMMON = {"positive_prompt": "p", "size": "720p_16_9", "duration": 2, "wait_for_completion": False}

with DAG("wan_sec_local_image", schedule=None, start_date=START, catchup=False) as local_image_dag:
    WanVideoOperator(task_id="gen", reference_images=["{{ dag_run.conf['image'] }}"], **COMMON)

with DAG("wan_sec_url_tokens", schedule=None, start_date=START, catchup=False) as url_tokens_dag:
    # Refused by its budget after rendering: the rendered fields are stored, nothing is sent.
    WanVideoOperator(
        task_id="gen",
        upload_endpoint="{{ dag_run.conf['endpoint'] }}",
        request={"positivePrompt": "p", "webhookURL": "{{ dag_run.conf['webhook'] }}"},
        max_cost_usd=0.01,
        **COMMON,
    )
