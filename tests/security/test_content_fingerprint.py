"""Re-attach only to the same inputs: the request's identity covers the bytes of local and S3 inputs.

A retry or clear re-attaches to the generation already paid for only when the inputs are the same bytes;
the same path or ``s3://`` key with other bytes is a new generation (else the old video comes back).
Driven through the operator against the emulator (the ledger counts submissions) and moto's S3 server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.media.checks import check_media_inputs
from airflow_provider_wan.operators.video import WanVideoOperator
from tests.dags.operator_flows import FAST
from tests.media.conftest import make_png

pytestmark = pytest.mark.usefixtures("airflow_db")

OLD, NEW = make_png(64, 36, shade=10), make_png(64, 36, shade=200)


def _try(image: str, **kwargs: Any) -> str:
    """One try of one task instance; the task UUID it submitted or re-attached to."""
    op = WanVideoOperator(
        task_id="gen",
        positive_prompt="the product slowly rotates",
        reference_images=[image],
        size="720p_16_9",
        duration=2,
        **FAST,
        **kwargs,
    )
    ti = mock.MagicMock(dag_id="content", task_id="gen", run_id="r1", map_index=-1)
    value = op.execute({"ti": ti})  # type: ignore[arg-type]
    assert value is not None and value["status"] == "success"
    return str(value["task_uuid"])


def test_local_file_replaced_is_a_new_generation(emulator: Any, tmp_path: Path) -> None:
    image = tmp_path / "product.png"
    image.write_bytes(OLD)
    first = _try(str(image))
    assert _try(str(image)) == first  # same bytes: re-attached, not paid twice
    assert emulator.ledger()["submissions"] == 1
    image.write_bytes(NEW)  # same path, other bytes
    second = _try(str(image))
    assert second != first
    assert emulator.ledger()["submissions"] == 2
    image.write_bytes(OLD)  # the old bytes again: their generation, already paid
    assert _try(str(image)) == first
    assert emulator.ledger()["submissions"] == 2


@pytest.mark.parametrize("mode", ["upload", "presigned_url"])
def test_s3_object_replaced_is_a_new_generation(
    emulator: Any, aws_conn: str, s3_bucket: str, s3_client: Any, mode: str
) -> None:
    key, uri = "inputs/product.png", f"s3://{s3_bucket}/inputs/product.png"
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=OLD)
    first = _try(uri, s3_input_mode=mode)
    assert _try(uri, s3_input_mode=mode) == first  # same object: re-attached
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=NEW)  # same key, other bytes (another ETag)
    second = _try(uri, s3_input_mode=mode)
    assert second != first
    assert emulator.ledger()["submissions"] == 2


def test_versioned_object_rewritten_is_a_new_generation(
    emulator: Any, aws_conn: str, s3_bucket: str, s3_client: Any
) -> None:
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    key, uri = "inputs/product.png", f"s3://{s3_bucket}/inputs/product.png"
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=OLD)
    first = _try(uri)
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=NEW)
    assert _try(uri) != first
    assert emulator.ledger()["submissions"] == 2


def test_file_changed_between_check_and_upload_is_not_sent(tmp_path: Path) -> None:
    image = tmp_path / "product.png"
    image.write_bytes(OLD)
    request = {
        "positive_prompt": "p",
        "reference_images": [str(image)],
        "width": 1280,
        "height": 720,
        "duration": 2,
    }
    checked = check_media_inputs(request)  # the identity is taken from these bytes
    image.write_bytes(NEW)
    with pytest.raises(InvalidRequestError, match="changed") as info:
        checked.resolve(hook=None, scope="d/r")
    assert info.value.code == "mediaChanged" and "product.png" in str(info.value)
