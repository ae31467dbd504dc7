"""DAGs the operator/trigger/sensor tests run with ``dag.test()`` against the emulator.

Parameters come from ``dag_run.conf`` so one DAG serves several tests. Fast polling settings keep the
suite quick; they are not recommendations.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
FAST = {"poll_initial_delay": 0.2, "poll_interval": 0.2, "poll_max_interval": 0.5}
PROMPT = "{{ dag_run.conf.get('prompt', 'a red fox running through fresh snow') }}"


class CrashAfterSubmitOperator(WanVideoOperator):
    """Test double: the worker 'dies' right after the submit on the first try (marker file)."""

    def _submit_or_attach(self, request: Any, fingerprint: str, context: Any) -> Any:
        result = super()._submit_or_attach(request, fingerprint, context)
        marker = os.environ.get("WAN_TEST_CRASH_MARKER")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("simulated worker crash right after submit")
        return result


@task
def check_contract(value: dict[str, Any], video_url: str, task_uuid: str) -> dict[str, Any]:
    assert value["video_url"] == video_url and value["task_uuid"] == task_uuid, (value, video_url, task_uuid)
    return value


def _video_dag(dag_id: str, **op_kwargs: Any) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["test"]) as dag:
        gen = WanVideoOperator(
            task_id="gen",
            positive_prompt=PROMPT,
            size="720p_16_9",
            duration="{{ dag_run.conf.get('duration', 2) }}",
            **{**FAST, **op_kwargs},
        )
        check_contract(
            gen.output,
            "{{ ti.xcom_pull(task_ids='gen', key='video_url') }}",
            gen.output["task_uuid"],
        )
    return dag


dags: dict[str, DAG] = {
    "wan_deferrable": _video_dag("wan_deferrable", deferrable=True),
    "wan_sync": _video_dag("wan_sync", deferrable=False),
    "wan_budget": _video_dag("wan_budget", deferrable=True, max_cost_usd=0.05),
    "wan_retry": _video_dag("wan_retry", deferrable=True, retries=1, retry_delay=timedelta(seconds=0)),
}

with DAG("wan_crash_after_submit", schedule=None, start_date=START, catchup=False) as crash_dag:
    CrashAfterSubmitOperator(
        task_id="gen",
        positive_prompt=PROMPT,
        size="720p_16_9",
        duration=2,
        deferrable=True,
        retries=1,
        retry_delay=timedelta(seconds=0),
        **FAST,
    )
dags["wan_crash_after_submit"] = crash_dag

with DAG("wan_fire_and_forget", schedule=None, start_date=START, catchup=False) as ff_dag:
    submit = WanVideoOperator(
        task_id="submit", positive_prompt=PROMPT, size="720p_9_16", duration=2, wait_for_completion=False
    )
    uuid_ref = "{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}"
    poke = RunwareVideoSensor(task_id="wait_poke", task_uuid=uuid_ref, poke_interval=0.2, timeout=60)
    deferred = RunwareVideoSensor(
        task_id="wait_deferred", task_uuid=uuid_ref, poke_interval=0.2, timeout=60, deferrable=True
    )
    submit >> [poke, deferred]
dags["wan_fire_and_forget"] = ff_dag

with DAG("wan_mapped", schedule=None, start_date=START, catchup=False) as mapped_dag:
    WanVideoOperator.partial(task_id="gen", size="720p_1_1", duration=2, deferrable=True, **FAST).expand(
        positive_prompt=[f"scene {i}: a lighthouse at dusk" for i in range(5)]
    )
dags["wan_mapped"] = mapped_dag

with DAG("wan_mapped_kwargs", schedule=None, start_date=START, catchup=False) as mapped_kwargs_dag:
    WanVideoOperator.partial(task_id="gen", duration=2, deferrable=True, **FAST).expand_kwargs(
        [
            {"positive_prompt": "a cat", "size": "720p_16_9"},
            {"positive_prompt": "a dog", "size": "720p_9_16", "seed": 7},
        ]
    )
dags["wan_mapped_kwargs"] = mapped_kwargs_dag


@task
def prep_request() -> dict[str, Any]:
    # False and the single quotes of its repr are not JSON: what Jinja renders from this dict.
    return {
        "positive_prompt": "a hot air balloon drifting over green hills",
        "width": 1280,
        "height": 720,
        "duration": 2,
        "generate_audio": False,
    }


with DAG("wan_request_from_xcom", schedule=None, start_date=START, catchup=False) as request_dag:
    # Without render_template_as_native_obj the template renders the dict's Python repr.
    prep_request() >> WanVideoOperator(
        task_id="gen", request="{{ ti.xcom_pull(task_ids='prep_request') }}", deferrable=True, **FAST
    )
dags["wan_request_from_xcom"] = request_dag
