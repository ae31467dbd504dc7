"""End to end: the inputs given to the operator reach the generator and show up in the video landed in S3.

Real parts: ``dag.test()`` runs WanVideoOperator, which takes its first frame image from S3 (moto's
server) and an audio URL, submits to the Runware emulator, and lands the result in S3. The test then
decodes the landed file: its first frame is the given image (perceptually: H.264 and scaling change
bytes) and its audio plays for as long as the given audio did, then stays silent to the video's end.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pendulum
import pytest

from tests.conftest import load_dag
from tests.emulator.card_media import audio_profile, difference, frames, picture, png_bytes, tone_wav
from tests.test_operator import _xcom

pytestmark = pytest.mark.usefixtures("airflow_db", "aws_conn")
BUCKET = "wan-it"  # what tests/dags/s3_flows.py reads from and writes to
VOICE_SECONDS = 1.2
SAME = 12.0  # mean abs difference (0..255) on a 32x18 thumbnail


def _stored_audio_url(emulator: Any, data: bytes) -> str:
    media = "data:audio/wav;base64," + base64.b64encode(data).decode()
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "media": media}
    return str(emulator.call([task]).json()["data"][0]["mediaURL"])


def test_landed_video_starts_with_the_first_frame_image_and_plays_the_input_audio(
    emulator: Any, s3_client: Any
) -> None:
    first = picture(640, 360, 77)
    s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_object(Bucket=BUCKET, Key="inputs/product.png", Body=png_bytes(first))
    audio_url = _stored_audio_url(emulator, tone_wav(VOICE_SECONDS))
    when = pendulum.now("UTC")
    dag = load_dag("tests.dags.s3_flows", "wan_s3_image_to_video")
    run = dag.test(logical_date=when, run_after=when, run_conf={"audio_url": audio_url})
    assert run.state == "success"
    [video] = _xcom(run)["videos"]
    key = video["s3_uri"].split("/", 3)[3]
    landed = s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    shown = frames(landed)
    assert difference(shown[0], first) < SAME
    assert difference(shown[len(shown) // 2], first) > 2 * SAME  # then the test card, not the image
    seconds, loud_until = audio_profile(landed)
    assert seconds == pytest.approx(2.0, abs=0.1)  # the requested duration
    assert loud_until == pytest.approx(VOICE_SECONDS, abs=0.15)  # the input audio's length, then silence
