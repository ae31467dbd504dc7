"""OpenLineage facets of the operator and the sensor, through the OpenLineage provider's own listener.

``dag.test()`` runs the DAG in real Airflow with the provider's ``OpenLineageListener`` registered and
its file transport configured: the events it writes are what Marquez or DataHub would receive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_wan.lineage import DatasetRef, dataset_for, input_datasets, video_lineage
from airflow_provider_wan.operators.video import WanVideoOperator
from tests.conftest import API_KEY, ROOT, load_dag
from tests.media.conftest import make_png, make_wav
from tests.test_operator import _xcom

BUCKET = "wan-it"


# -- plain data: what counts as a dataset ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("s3://media/in/product.png", DatasetRef("s3://media", "in/product.png")),
        ("https://cdn.test/a/b.mp4?X-Amz-Signature=abc#t", DatasetRef("https://cdn.test", "/a/b.mp4")),
        ("http://user:secret@127.0.0.1:8080/m.wav", DatasetRef("http://127.0.0.1:8080", "/m.wav")),
        ("/data/clip.mp4", DatasetRef("file", "/data/clip.mp4")),
        ("file:///data/clip.mp4", DatasetRef("file", "/data/clip.mp4")),
        ("s3://bucket-only/", None),
        ("0b0c7d7e-1111-4222-8333-444455556666", None),  # a Runware media UUID
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("relative/clip.mp4", None),
    ],
)
def test_dataset_for_references(reference: str, expected: DatasetRef | None) -> None:
    assert dataset_for(reference) == expected


def test_inputs_from_arguments_and_a_wire_request_without_secrets() -> None:
    op = WanVideoOperator(
        task_id="gen",
        request=json.dumps(
            {
                "positivePrompt": "s3://not/an-input.png",  # prompts are text, not media
                "width": 1280,
                "height": 720,
                "inputs": {"frameImages": [{"image": "s3://media/first.png", "frame": "first"}]},
            }
        ),
        reference_videos=["https://cdn.test/clip.mp4?token=secret"],
        audio="s3://media/voice.wav",
    )
    assert input_datasets(op) == [
        DatasetRef("s3://media", "first.png"),
        DatasetRef("https://cdn.test", "/clip.mp4"),
        DatasetRef("s3://media", "voice.wav"),
    ]


def test_run_fields_of_a_fire_and_forget_submit_and_a_failure() -> None:
    op = WanVideoOperator(task_id="gen", positive_prompt="p", size="720p_1_1", duration=3)
    submitted = {"task_uuid": "u1", "model": "alibaba:wan@2.7", "status": "submitted", "estimated_cost": 0.3}
    lineage = video_lineage(op, submitted)
    assert lineage.outputs == [] and lineage.run["status"] == "submitted"
    assert lineage.run["estimatedCost"] == 0.3 and lineage.run["videoSeconds"] is None
    failed = video_lineage(op, None, "u2")  # no XCom value: the task failed after its submit
    assert failed.run["taskUUID"] == "u2" and failed.run["cost"] is None and failed.outputs == []


# -- through the OpenLineage provider ----------------------------------------------------------------


@pytest.fixture
def openlineage_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The provider's listener, registered for the task runner, writing events to a file (one per line)."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener

    try:
        from airflow.sdk.listener import get_listener_manager
    except ImportError:  # Airflow 3.1
        from airflow.listeners.listener import get_listener_manager

    events = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD", "True")  # no fork beside the emulator

    def clear_conf_cache() -> None:
        for value in vars(ol_conf).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()

    def registered() -> list[Any]:
        return [p for p in manager.pm.get_plugins() if isinstance(p, OpenLineageListener)]

    clear_conf_cache()
    # The provider's plugin registers its listener itself when it is first loaded with a transport
    # configured (here, if no earlier test loaded the plugins): exactly one listener either way.
    manager = get_listener_manager()
    if not registered():
        manager.add_listener(OpenLineageListener())
    try:
        yield events
    finally:
        for listener in registered():
            manager.pm.unregister(listener)
        monkeypatch.undo()
        clear_conf_cache()


def _complete(events: Path, job: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    done = [e for e in lines if e["eventType"] == "COMPLETE" and e["job"]["name"] == job]
    assert len(done) == 1, [(e["eventType"], e["job"]["name"]) for e in lines]
    return done[0]


def _names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


@pytest.mark.usefixtures("airflow_db", "aws_conn")
def test_facets_through_the_openlineage_listener(emulator, s3_client, openlineage_events) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_wan.hooks.runware import RunwareHook

    s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_object(Bucket=BUCKET, Key="inputs/product.png", Body=make_png(64, 36))
    with RunwareHook() as hook:
        audio_url = hook.upload_media(make_wav()).media_url
    assert audio_url
    when = pendulum.datetime(2026, 6, 1, tz="UTC")
    dr = load_dag("tests.dags.authoring_flows", "wan_lineage").test(
        logical_date=when, run_after=when, run_conf={"audio_url": audio_url}
    )
    assert dr.state == "success"

    gen = _xcom(dr, "gen")
    event = _complete(openlineage_events, "wan_lineage.gen")
    audio = dataset_for(audio_url)
    assert audio is not None and audio.namespace == emulator.root_url
    image = (f"s3://{BUCKET}", "inputs/product.png")
    assert _names(event["inputs"]) == [image, (audio.namespace, audio.name)]
    key = gen["s3_uri"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith("lineage/2026-06-01/")
    assert _names(event["outputs"]) == [(f"s3://{BUCKET}", key)]
    facet = event["run"]["facets"]["runware_video"]
    assert facet["model"] == gen["model"] == "alibaba:wan@2.7" and facet["taskUUID"] == gen["task_uuid"]
    assert facet["status"] == "success" and facet["videoCount"] == 1 and facet["videoSeconds"] == 2.0
    assert facet["cost"] == pytest.approx(gen["cost"]) and facet["estimatedCost"] == pytest.approx(0.2)

    wait = _xcom(dr, "wait")
    sensor = _complete(openlineage_events, "wan_lineage.wait")
    assert sensor["inputs"] == []  # the sensor never saw the request
    assert _names(sensor["outputs"]) == [(f"s3://{BUCKET}", wait["s3_uri"].removeprefix(f"s3://{BUCKET}/"))]
    sensor_facet = sensor["run"]["facets"]["runware_video"]
    assert sensor_facet["taskUUID"] == wait["task_uuid"] == _xcom(dr, "submit")["task_uuid"]
    # Seconds unknown (the sensor never saw the request): OpenLineage leaves nulls out.
    assert sensor_facet["videoCount"] == 1 and "videoSeconds" not in sensor_facet

    submit = _complete(openlineage_events, "wan_lineage.submit")["run"]["facets"]["runware_video"]
    assert submit["status"] == "submitted" and "cost" not in submit
    assert API_KEY not in openlineage_events.read_text()


def test_the_extractor_manager_picks_the_operator_method() -> None:
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from airflow_provider_wan.sensors.video import RunwareVideoSensor

    manager = ExtractorManager()
    op = WanVideoOperator(task_id="gen", positive_prompt="p", size="720p_1_1")
    sensor = RunwareVideoSensor(task_id="wait", task_uuid="11111111-2222-4333-8444-555555555555")
    assert manager.get_extractor_class(op) is DefaultExtractor
    assert manager.get_extractor_class(sensor) is DefaultExtractor


_NO_OPENLINEAGE = """
import sys
# As if the openlineage extra were not installed: the client library and the extractors fail to import.
for name in ("openlineage", "airflow.providers.openlineage.extractors"):
    sys.modules[name] = None
from airflow.sdk import DAG, task
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor
with DAG("no_lineage", schedule=None):
    WanVideoOperator(task_id="gen", positive_prompt="p", size="720p_1_1")
    RunwareVideoSensor(task_id="wait", task_uuid="11111111-2222-4333-8444-555555555555")

    @task.wan_video(size="720p_1_1")
    def clip() -> str:
        return "a fox"

    clip()
# Airflow's provider discovery reads every provider's metadata (behind @task.<name>): not ours to avoid.
discovery = {"airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info"}
loaded = sorted(
    m for m in sys.modules if "openlineage" in m and sys.modules[m] is not None and m not in discovery
)
print(loaded)
"""


def test_the_provider_imports_without_openlineage() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _NO_OPENLINEAGE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Not even the provider's OpenLineage modules are imported until a listener asks for facets.
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-2000:]
