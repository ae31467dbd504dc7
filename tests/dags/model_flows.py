"""DAGs for other Runware video models (``RunwareVideoOperator``) and ``extra_fields``, run with
``dag.test()`` against the emulator. Fast polling keeps the suite quick; it is not a recommendation."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_wan.operators.runware import RunwareVideoOperator
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
FAST = {"poll_initial_delay": 0.2, "poll_interval": 0.2, "poll_max_interval": 0.5}
WAN30_REQUEST = {
    "positivePrompt": "{{ dag_run.conf.get('prompt', 'a lantern festival on a river at dusk') }}",
    "resolution": "480p",
    "duration": "{{ dag_run.conf.get('duration', '3') }}",
    "settings": {"audio": False},
}


def _model_dag(dag_id: str, model: str, request: dict[str, Any], **op_kwargs: Any) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["test"]) as dag:
        RunwareVideoOperator(task_id="gen", model=model, request=request, **{**FAST, **op_kwargs})
    return dag


with DAG("wan_extra_fields", schedule=None, start_date=START, catchup=False, tags=["test"]) as extra_dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="a paper boat on a river",
        size="720p_16_9",
        duration=2,
        extra_fields={"routing": {"region": "{{ dag_run.conf.get('region', 'eu') }}"}},
        deferrable=True,
        **FAST,
    )

with DAG("wan30_then_sensor", schedule=None, start_date=START, catchup=False, tags=["test"]) as sensor_dag:
    submit = RunwareVideoOperator(
        task_id="submit", model="alibaba:wan@3.0", request=WAN30_REQUEST, wait_for_completion=False
    )
    submit >> RunwareVideoSensor(
        task_id="wait",
        task_uuid="{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}",
        poke_interval=0.2,
        deferrable=True,
    )

with DAG("wan30_keywords", schedule=None, start_date=START, catchup=False, tags=["test"]) as keywords_dag:
    # WanVideoOperator's own arguments for another Wan version: checked against its SDK type.
    WanVideoOperator(
        task_id="gen",
        model="alibaba:wan@3.0",
        positive_prompt="{{ dag_run.conf.get('prompt', 'a glass lighthouse at dawn') }}",
        resolution="720p",
        duration="{{ dag_run.conf.get('duration', '2') }}",
        number_results="{{ dag_run.conf.get('n', 1) }}",
        generate_audio=False,
        extra_fields={"routing": {"region": "eu"}},
        max_cost_usd=1,
        estimated_cost_usd=0.3,
        **FAST,
    )

with DAG("wan26_keywords", schedule=None, start_date=START, catchup=False, tags=["test"]) as wan26_dag:
    WanVideoOperator(
        task_id="gen",
        model="alibaba:wan@2.6",
        positive_prompt="a red kite",
        negative_prompt="blur",
        duration="{{ dag_run.conf.get('duration', 5) }}",
        prompt_enhancer=True,
        deferrable=True,
        **FAST,
    )

OTHER = {"positivePrompt": "a kite over dunes", "duration": 2}
dags: dict[str, DAG] = {
    "wan30_deferrable": _model_dag("wan30_deferrable", "alibaba:wan@3.0", WAN30_REQUEST, deferrable=True),
    "wan30_sync": _model_dag("wan30_sync", "alibaba:wan@3.0", WAN30_REQUEST, deferrable=False),
    "other_unpriced_budget": _model_dag("other_unpriced_budget", "klingai:5@3", OTHER, max_cost_usd=1),
    "other_given_estimate": _model_dag(
        "other_given_estimate", "klingai:5@3", OTHER, max_cost_usd=1, estimated_cost_usd=0.4, deferrable=True
    ),
    "other_refused_by_runware": _model_dag(
        "other_refused_by_runware", "klingai:5@3", {**OTHER, "numberResults": 99}
    ),
    "wan27_generic": _model_dag(
        "wan27_generic",
        "alibaba:wan@2.7",
        {"positivePrompt": "a heron", "width": 1280, "height": 720, "duration": 2},
        max_cost_usd=0.25,
    ),
    "wan_extra_fields": extra_dag,
    "wan30_then_sensor": sensor_dag,
    "wan30_keywords": keywords_dag,
    "wan26_keywords": wan26_dag,
}
