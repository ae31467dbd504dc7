"""Video-to-video from a reference clip: instruction editing, continuation and style transfer.

Use case: a marketing team reuses existing footage. One source clip in S3 becomes three derivatives:

* ``edit_video``: instruction-based editing ("replace the background with ...");
* ``continue_video``: continue the shot past its last frame;
* ``style_transfer``: the same motion, redrawn in another visual style.

What it shows:

* ``reference_videos=["s3://.../clip.mp4"]``: the operator reads the clip from S3, probes its length
  (PyAV) and uploads it once to Runware's media storage (idempotently: a retry re-uses the upload);
* input seconds are billed too: 2 s of input + 5 s of output at 720p = $0.70 per task, which the
  estimate includes, so ``max_cost_usd=1.00`` is checked against the full price;
* ``retries=2``: safe, a retry never re-submits a generation that is running or done.
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

#: task_id -> instruction. Each derivative is its own generation (and its own S3 folder).
EDITS = {
    "edit_video": (
        "Keep the camera move and the sliding block, but replace the background with a neon-lit "
        "night street in the rain."
    ),
    "continue_video": (
        "Continue this shot for five more seconds: the block slows down, stops at the edge of the frame "
        "and the camera tilts up to reveal the sky."
    ),
    "style_transfer": (
        "Redraw the whole clip as a hand-painted watercolour animation, same motion and timing."
    ),
}

with DAG(
    dag_id="example_wan_video_edit",
    description="Wan2.7 editing, continuation and style transfer from one reference video",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=TAGS,
    doc_md=__doc__,
) as dag:

    @task
    def prepare_inputs(bucket: str) -> dict[str, str]:
        """Make sure the demo clip exists (encoded with PyAV if missing)."""
        return ensure_example_inputs(bucket, ["clip.mp4"], aws_conn_id=AWS_CONN_ID)

    inputs = prepare_inputs(BUCKET)
    for task_id, instruction in EDITS.items():
        derivative = WanVideoOperator(
            task_id=task_id,
            positive_prompt=instruction,
            reference_videos=[input_uri("clip.mp4")],
            size="720p_16_9",
            duration=5,
            deferrable=True,
            max_cost_usd=1.00,
            s3_destination=s3_prefix(PREFIX, "video-edit", "{{ ds }}", task_id),
            aws_conn_id=AWS_CONN_ID,
            **poll_settings(),
        )
        inputs >> derivative
