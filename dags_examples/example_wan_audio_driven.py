"""Audio-driven video: a presenter clip generated to match a recorded voice-over.

Use case: localisation. A voice-over is recorded (or synthesised) per language and dropped into S3;
Wan2.7 generates a presenter whose lip movements and gestures follow the audio.

What it shows:

* ``audio="s3://.../voiceover.wav"``: read from S3, format checked (WAV/MP3/FLAC by magic bytes) and
  uploaded once to Runware's media storage; Runware takes audio as a media UUID or URL only;
* a vertical ``size="720p_9_16"`` preset for mobile, 5 s ($0.50);
* ``max_cost_usd`` and ``retries`` as in every example.
"""

from __future__ import annotations

from _wan_support import (
    AWS_CONN_ID,
    BUCKET,
    PREFIX,
    START_DATE,
    TAGS,
    default_args,
    ensure_example_inputs,
    input_uri,
    poll_settings,
    s3_prefix,
)
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator

with DAG(
    dag_id="example_wan_audio_driven",
    description="Wan2.7 presenter video conditioned on a voice-over from S3",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=TAGS,
    doc_md=__doc__,
) as dag:

    @task
    def prepare_inputs(bucket: str) -> dict[str, str]:
        """Make sure the demo voice-over exists (synthesised if missing)."""
        return ensure_example_inputs(bucket, ["voiceover.wav"], aws_conn_id=AWS_CONN_ID)

    presenter = WanVideoOperator(
        task_id="generate_presenter",
        positive_prompt=(
            "A friendly presenter in a bright studio speaks directly to camera, lip-synced to the "
            "voice-over, with natural hand gestures. Medium close-up, soft key light."
        ),
        audio=input_uri("voiceover.wav"),
        size="720p_9_16",
        duration=5,
        deferrable=True,
        max_cost_usd=1.00,
        s3_destination=s3_prefix(PREFIX, "audio-driven", "{{ ds }}"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    )

    prepare_inputs(BUCKET) >> presenter
