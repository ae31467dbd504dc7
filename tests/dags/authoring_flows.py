"""DAGs for the authoring tests: ``@task.wan_video``, prompt and request files, OpenLineage facets.

Prompt and request files live in ``tests/dags/templates/`` (the DAGs' ``template_searchpath``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
FAST = {"poll_initial_delay": 0.2, "poll_interval": 0.2, "poll_max_interval": 0.5}
TEMPLATES = str(Path(__file__).parent / "templates")
CONF = "{{ dag_run.conf"

dags: dict[str, DAG] = {}


@task
def check_contract(value: dict[str, Any], task_uuid: str) -> dict[str, Any]:
    assert value["task_uuid"] == task_uuid and value["status"] == "success", (value, task_uuid)
    return value


with DAG("wan_decorated", schedule=None, start_date=START, catchup=False) as dag:

    @task.wan_video(size="720p_16_9", duration=2, deferrable=True, max_cost_usd=1.0, **FAST)
    def prompt_clip(subject: str, ds: str | None = None) -> str:
        return f"{subject} on {ds}, golden hour"

    @task.wan_video(deferrable=False, negative_prompt="blurry", **FAST)
    def request_clip() -> dict[str, Any]:
        # Runware's wire form, as an upstream system would hand it over.
        return {"positivePrompt": "a kite over dunes", "width": 720, "height": 1280, "duration": 2}

    clip = prompt_clip("a red fox")
    check_contract(clip, clip["task_uuid"])
    request_clip()
dags[dag.dag_id] = dag

with DAG("wan_decorated_mapped", schedule=None, start_date=START, catchup=False) as dag:

    @task
    def subjects() -> list[str]:
        return ["a lighthouse", "a windmill", "a tram"]

    @task.wan_video(deferrable=True, max_cost_usd=0.5, **FAST)
    def scene(subject: str) -> dict[str, Any]:
        # A whole request, as WanVideoOperator(request=...) takes it (snake_case here).
        return {
            "positive_prompt": f"{subject} at dusk, slow pan",
            "width": 960,
            "height": 960,
            "duration": 2,
            "seed": len(subject),
        }

    scene.expand(subject=subjects())
dags[dag.dag_id] = dag

with DAG("wan_decorated_bad_return", schedule=None, start_date=START, catchup=False) as dag:

    @task.wan_video(size="720p_1_1", duration=2, retries=2)
    def nothing() -> None:
        return None

    nothing()
dags[dag.dag_id] = dag

with DAG(
    "wan_prompt_files",
    schedule=None,
    start_date=START,
    catchup=False,
    template_searchpath=[TEMPLATES],
) as dag:
    WanVideoOperator(
        task_id="from_files",
        positive_prompt="prompts/scene.j2",
        negative_prompt="prompts/negative.txt",
        size="720p_16_9",
        duration=2,
        **FAST,
    )
    WanVideoOperator(task_id="from_request_file", request="requests/clip.json", **FAST)
    # Text that merely ends like a file name stays text where the field takes no such file.
    WanVideoOperator(
        task_id="literal",
        positive_prompt="a neon sign that reads config.json",
        negative_prompt=CONF + ".get('negative', 'text') }}",
        size="720p_9_16",
        duration=2,
        **FAST,
    )
    WanVideoOperator.partial(task_id="mapped_files", size="720p_1_1", duration=2, **FAST).expand(
        positive_prompt=["prompts/lighthouse.md", "prompts/style.txt"]
    )
dags[dag.dag_id] = dag

with DAG(
    "wan_missing_prompt_file", schedule=None, start_date=START, catchup=False, template_searchpath=[TEMPLATES]
) as dag:
    WanVideoOperator(task_id="gen", positive_prompt="prompts/nowhere.j2", size="720p_1_1", duration=2)
dags[dag.dag_id] = dag

with DAG("wan_lineage", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="the product slowly rotates on a marble pedestal",
        frame_images=["s3://wan-it/inputs/product.png"],
        audio=CONF + "['audio_url'] }}",
        resolution="720p",
        duration=2,
        s3_destination="s3://wan-it/lineage/{{ ds }}/",
        deferrable=True,
        **FAST,
    )
    submit = WanVideoOperator(
        task_id="submit", positive_prompt="a kite", size="720p_1_1", duration=2, wait_for_completion=False
    )
    submit >> RunwareVideoSensor(
        task_id="wait",
        task_uuid="{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}",
        s3_destination="s3://wan-it/sensor/",
        poke_interval=0.2,
        timeout=60,
    )
dags[dag.dag_id] = dag
