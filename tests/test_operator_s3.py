"""Media in and out through the operator: inputs from S3, files and URLs; outputs landed in S3.

Real parts: the emulator (Runware), moto's S3 server, ``dag.test()``. The emulator ledger and S3
object versions witness that reruns neither pay nor copy again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pendulum
import pytest

from tests.conftest import load_dag
from tests.media.conftest import make_mp4, make_png, make_wav
from tests.test_operator import _xcom

pytestmark = pytest.mark.usefixtures("airflow_db", "aws_conn")
BUCKET = "wan-it"


@pytest.fixture
def bucket(s3_client: Any) -> Any:
    s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3_client.put_object(Bucket=BUCKET, Key="inputs/product.png", Body=make_png(64, 36))
    return s3_client


def _run(dag_id: str, when: pendulum.DateTime | None = None, **conf: object) -> Any:
    when = when or pendulum.now("UTC")
    return load_dag("tests.dags.s3_flows", dag_id).test(
        logical_date=when, run_after=when, run_conf=dict(conf)
    )


def _audio_url(emulator: Any) -> str:
    from airflow_provider_wan.hooks.runware import RunwareHook

    with RunwareHook() as hook:
        upload = hook.upload_media(make_wav())
    assert upload.media_url
    return upload.media_url


def _check_landed(s3: Any, video: dict[str, Any], task_uuid: str) -> None:
    assert video["s3_uri"].startswith(f"s3://{BUCKET}/")
    key = video["s3_uri"].split("/", 3)[3]
    obj = s3.get_object(Bucket=BUCKET, Key=key)
    body = obj["Body"].read()
    assert len(body) == video["size_bytes"] > 0
    assert hashlib.sha256(body).hexdigest() == video["sha256"]
    meta = obj["Metadata"]
    assert meta["task-uuid"] == task_uuid and meta["video-uuid"] == video["video_uuid"]
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
    assert tags == {"sha256": video["sha256"], "size": str(video["size_bytes"])}
    assert obj["ContentType"] == "video/mp4"


def test_image_to_video_from_s3_with_audio_url_lands_in_s3(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_image_to_video", audio_url=_audio_url(emulator))
    assert dr.state == "success"
    value = _xcom(dr)
    assert len(value["videos"]) == 1 and value["s3_uri"] == value["videos"][0]["s3_uri"]
    _check_landed(bucket, value["videos"][0], value["task_uuid"])
    record = next(t for t in emulator.ledger()["tasks"] if t["taskUUID"] == value["task_uuid"])
    assert record["status"] == "success"
    # The S3 asset event carries the task UUID, the URIs and the cost for asset-scheduled DAGs.
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri.like("s3://wan-it/videos%"))
            .all()
        )
        extras = [e.extra for e in events]
    assert any(
        x.get("task_uuid") == value["task_uuid"] and x.get("s3_uris") == value["s3_uris"] for x in extras
    )


def test_number_results_three_then_rerun_copies_and_pays_nothing(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    when = pendulum.datetime(2026, 5, 1, tz="UTC")
    audio = _audio_url(emulator)
    first = _run("wan_s3_image_to_video", when, audio_url=audio, n=3)
    assert first.state == "success"
    value = _xcom(first)
    assert len(value["videos"]) == 3 and len(set(value["s3_uris"])) == 3
    for video in value["videos"]:
        _check_landed(bucket, video, value["task_uuid"])
    again = _run("wan_s3_image_to_video", when, audio_url=audio, n=3)
    assert again.state == "success" and _xcom(again)["s3_uris"] == value["s3_uris"]
    versions = bucket.list_object_versions(Bucket=BUCKET, Prefix="videos/")["Versions"]
    assert len(versions) == 3  # one version per video: the rerun copied nothing
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["requests"].get("mediaStorage", 0) >= 1


def test_reference_video_from_local_file_goes_through_media_storage(emulator, bucket, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_mp4(seconds=2.0))
    dr = _run("wan_s3_reference_video", local_video=str(clip))
    assert dr.state == "success"
    value = _xcom(dr)
    _check_landed(bucket, value["videos"][0], value["task_uuid"])
    ledger = emulator.ledger()
    assert ledger["media_uploads"] >= 1
    # Input video seconds are billed and were estimated: 2 s out + 2 s in at $0.10.
    assert value["estimated_cost"] == pytest.approx(0.4)
    assert value["cost"] == pytest.approx(0.4)


def _delivered_paths(ledger: dict[str, Any]) -> list[str]:
    """Object paths (bucket/key) the emulator PUT uploadEndpoint deliveries to (query string dropped)."""
    from urllib.parse import urlsplit

    return [urlsplit(r["url"]).path for r in ledger["upload"]["recent"] if r["ok"]]


def test_upload_endpoint_delivery_lands_without_download(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_upload_endpoint")
    assert dr.state == "success"
    value = _xcom(dr)
    _check_landed(bucket, value["videos"][0], value["task_uuid"])
    ledger = emulator.ledger()
    assert ledger["upload_deliveries"] == 1
    # Runware PUT the file; the provider only verified it in S3, never fetched the video itself.
    assert ledger["downloads"] == 0 and ledger["download_bytes"] == 0
    assert value["videos"][0]["s3_uri"].startswith(f"s3://{BUCKET}/videos/")


def test_upload_endpoint_staging_key_differs_per_run(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    # Same day (same {{ ds }} prefix), same request, two runs: each must stage under its own key, or
    # one run could verify, move or delete the other's delivery.
    first = _run("wan_s3_upload_endpoint", pendulum.datetime(2026, 6, 1, 0, tz="UTC"))
    second = _run("wan_s3_upload_endpoint", pendulum.datetime(2026, 6, 1, 1, tz="UTC"))
    assert first.state == second.state == "success" and first.run_id != second.run_id
    paths = _delivered_paths(emulator.ledger())
    assert len(paths) == 2 and len(set(paths)) == 2, paths
    assert all(p.startswith(f"/{BUCKET}/videos/2026-06-01/_delivered/") for p in paths), paths
    assert _xcom(first)["s3_uri"] != _xcom(second)["s3_uri"]
    for dr in (first, second):
        value = _xcom(dr)
        _check_landed(bucket, value["videos"][0], value["task_uuid"])
    # Both staged objects were moved to their canonical keys: nothing left behind.
    staged = bucket.list_objects_v2(Bucket=BUCKET, Prefix="videos/2026-06-01/_delivered/")
    assert staged.get("KeyCount", 0) == 0


def test_budget_counts_probed_input_video_before_any_upload(emulator, bucket, tmp_path, capfd) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_mp4(seconds=2.0))
    dr = _run("wan_s3_reference_video_budget", local_video=str(clip))
    assert dr.state == "failed"
    ledger = emulator.ledger()
    # Refused with the probed 2 s of input video counted, before the clip went to mediaStorage.
    assert ledger["http_requests"] == 0 and ledger["media_uploads"] == 0 and ledger["submissions"] == 0
    out = "".join(capfd.readouterr())
    assert "max_cost_usd" in out and "$0.4000" in out


@pytest.mark.parametrize("dest", ["nope", "None", "s3://", "https://wan-it.example/videos/"])
def test_bad_templated_destination_fails_before_any_request(emulator, bucket, capfd, dest: str) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_templated_destination", dest=dest)
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0
    assert "s3_destination" in "".join(capfd.readouterr())


def test_templated_destination_lands(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_templated_destination", dest=f"s3://{BUCKET}/templated/")
    assert dr.state == "success"
    value = _xcom(dr)
    assert value["s3_uri"].startswith(f"s3://{BUCKET}/templated/")
    _check_landed(bucket, value["videos"][0], value["task_uuid"])


def test_oversize_input_fails_before_any_request(emulator, bucket, capfd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_wan.media import checks

    size = bucket.head_object(Bucket=BUCKET, Key="inputs/product.png")["ContentLength"]
    monkeypatch.setattr(checks, "DEFAULT_LIMITS", checks.MediaLimits(max_image_bytes=size - 1))
    dr = _run("wan_s3_bad_input", image="s3://wan-it/inputs/product.png")
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0
    out = "".join(capfd.readouterr())
    assert "inputs.referenceImages[0]" in out and f"exceeds the image limit of {size - 1} bytes" in out


@pytest.mark.parametrize(
    ("image", "parameter"),
    [
        ("s3://wan-it/inputs/missing.png", "inputs.referenceImages[0]"),
        ("/nonexistent/dir/face.png", "inputs.referenceImages[0]"),
    ],
)
def test_bad_inputs_fail_before_any_runware_request(
    emulator, bucket, capfd, image: str, parameter: str
) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_bad_input", image=image)
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0
    assert parameter in "".join(capfd.readouterr())


def test_wrong_format_fails_before_any_request(emulator, bucket, capfd) -> None:  # type: ignore[no-untyped-def]
    bucket.put_object(Bucket=BUCKET, Key="inputs/notes.png", Body=b"just some text, not an image")
    dr = _run("wan_s3_bad_input", image="s3://wan-it/inputs/notes.png")
    assert dr.state == "failed"
    assert emulator.ledger()["http_requests"] == 0
    assert "inputs.referenceImages[0]" in "".join(capfd.readouterr())


def test_sensor_lands_outputs_of_task_submitted_elsewhere(emulator, bucket) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_s3_sensor_lands")
    assert dr.state == "success"
    value = _xcom(dr, task_id="wait")
    assert value["s3_uri"].startswith(f"s3://{BUCKET}/sensor/")
    _check_landed(bucket, value["videos"][0], value["task_uuid"])


def test_s3_destination_declares_asset() -> None:
    from tests.dags.s3_flows import dags

    op = dags["wan_s3_image_to_video"].get_task("gen")
    assert [o.uri.rstrip("/") for o in op.outlets] == ["s3://wan-it/videos"]
