"""DAGs for the S3-in/S3-out operator tests (bucket ``wan-it`` on the moto server)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
FAST = {"poll_initial_delay": 0.2, "poll_interval": 0.2, "poll_max_interval": 0.5}
DEST = "s3://wan-it/videos/{{ ds }}/"
CONF = "{{ dag_run.conf"

dags: dict[str, DAG] = {}

with DAG("wan_s3_image_to_video", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="the product slowly rotates on a marble pedestal",
        frame_images=["s3://wan-it/inputs/product.png"],
        audio=CONF + "['audio_url'] }}",
        resolution="720p",
        duration=2,
        number_results=CONF + ".get('n', 1) }}",
        s3_destination=DEST,
        deferrable=True,
        **FAST,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_reference_video", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="same scene, restyled as a watercolor painting",
        reference_videos=[CONF + "['local_video'] }}"],
        size="720p_16_9",
        duration=2,
        s3_destination=DEST,
        deferrable=True,
        **FAST,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_upload_endpoint", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="a paper plane over a city",
        size="720p_9_16",
        duration=2,
        s3_destination=DEST,
        delivery="upload_endpoint",
        deferrable=True,
        **FAST,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_bad_input", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="x",
        reference_images=[CONF + "['image'] }}"],
        size="720p_16_9",
        duration=2,
        s3_destination=DEST,
        **FAST,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_sensor_lands", schedule=None, start_date=START, catchup=False) as dag:
    submit = WanVideoOperator(
        task_id="submit", positive_prompt="a kite", size="720p_1_1", duration=2, wait_for_completion=False
    )
    submit >> RunwareVideoSensor(
        task_id="wait",
        task_uuid="{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}",
        s3_destination="s3://wan-it/sensor/",
        poke_interval=0.2,
        timeout=60,
        deferrable=True,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_reference_video_budget", schedule=None, start_date=START, catchup=False) as dag:
    # 720p: 2 s out = $0.20 fits the cap, 2 s out + 2 s of probed input video = $0.40 does not.
    WanVideoOperator(
        task_id="gen",
        positive_prompt="same scene, restyled as a watercolor painting",
        reference_videos=[CONF + "['local_video'] }}"],
        size="720p_16_9",
        duration=2,
        max_cost_usd=0.25,
        deferrable=True,
        **FAST,
    )
dags[dag.dag_id] = dag

with DAG("wan_s3_templated_destination", schedule=None, start_date=START, catchup=False) as dag:
    WanVideoOperator(
        task_id="gen",
        positive_prompt="a paper plane over a city",
        size="720p_9_16",
        duration=2,
        s3_destination=CONF + "['dest'] }}",
        deferrable=True,
        **FAST,
    )
dags[dag.dag_id] = dag
