"""Every example DAG in ``dags_examples/`` runs green under ``dag.test()`` against the emulator and moto.

The emulator's ledger is the witness for "one submission per video"; moto's S3 for "the videos landed";
the XCom contract is read back from the metadata DB. A subprocess checks that parsing the examples
imports neither boto3 nor PyAV nor the emulator.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pendulum
import pytest

from tests.conftest import API_KEY, CONTRACT_KEYS, ROOT

EXAMPLES = ROOT / "dags_examples"
# Fast polling and retries for the examples (read when their files are parsed; production defaults
# otherwise). The examples import their helper module from the DAGs folder, which Airflow puts on
# sys.path for a bundle; do the same here.
os.environ.setdefault("WAN_EXAMPLES_POLL_SECONDS", "0.2")
os.environ.setdefault("WAN_EXAMPLES_RETRY_DELAY_SECONDS", "1")
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

EXAMPLE_DAGS = {
    "example_wan_daily_text_to_video",
    "example_wan_image_to_video",
    "example_wan_reference_to_video",
    "example_wan_video_edit",
    "example_wan_audio_driven",
    "example_wan_etl_to_video",
    "example_wan_fire_and_forget",
    "example_wan_taskflow",
    "example_wan_prompt_library",
    "example_wan_family",
}
# Task classes that generate (and so must carry a budget): the operators and @task.wan_video's operator.
GENERATORS = ("WanVideoOperator", "_WanVideoDecoratedOperator", "RunwareVideoOperator")
LANDED_VIDEO_KEYS = {
    "video_uuid",
    "video_url",
    "seed",
    "nsfw_content",
    "cost",
    "s3_uri",
    "sha256",
    "size_bytes",
}
DS = "2026-03-14"
WHEN = pendulum.datetime(2026, 3, 14, 6, tz="UTC")


# -- helpers ----------------------------------------------------------------------------------------


def _dag(dag_id: str) -> Any:
    """Each example file ``<dag_id>.py`` defines its DAG as ``dag``."""
    dag = importlib.import_module(dag_id).dag
    assert dag.dag_id == dag_id
    return dag


def _run(dag_id: str, when: pendulum.DateTime = WHEN, **conf: Any) -> Any:
    dag = _dag(dag_id)
    return dag.test(logical_date=when, run_after=when, run_conf=dict(conf) or None)


def _states(dag_run: Any) -> dict[str, str]:
    return {
        f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
        for ti in dag_run.get_task_instances()
    }


def _assert_success(dag_run: Any) -> None:
    states = _states(dag_run)
    assert dag_run.state == "success", states
    assert all(state == "success" for state in states.values()), states


def _xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key)
            .filter_by(map_index=map_index)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


def _s3_object(s3_client: Any, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    head: dict[str, Any] = s3_client.head_object(Bucket=bucket, Key=key)
    return head


def _assert_landed(
    value: dict[str, Any],
    s3_client: Any,
    bucket: str,
    prefix: str,
    videos: int = 1,
    model: str = "alibaba:wan@2.7",
) -> None:
    """The XCom contract of a landed result, and every video really in S3 with its recorded size."""
    assert set(value) == CONTRACT_KEYS | {"s3_uri", "s3_uris"}, value
    assert value["model"] == model and value["status"] == "success"
    assert len(value["videos"]) == videos and value["video_url"] == value["video_urls"][0]
    assert value["s3_uri"] == value["s3_uris"][0] == value["videos"][0]["s3_uri"]
    for video in value["videos"]:
        assert set(video) >= LANDED_VIDEO_KEYS, video
        assert video["s3_uri"].startswith(f"s3://{bucket}/{prefix}"), video["s3_uri"]
        head = _s3_object(s3_client, video["s3_uri"])
        assert head["ContentLength"] == video["size_bytes"] > 0
    assert value["cost"] == pytest.approx(sum(v["cost"] for v in value["videos"]))
    assert API_KEY not in json.dumps(value)


def _job(emulator: Any, task_uuid: str) -> Any:
    job = emulator.state.jobs.get(task_uuid)
    assert job is not None, f"the emulator never saw {task_uuid}"
    return job


@pytest.fixture
def examples_env(emulator: Any, aws_conn: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Emulator + moto connections; the examples' bucket Variable points at a fresh bucket."""
    monkeypatch.setenv("AIRFLOW_VAR_WAN_EXAMPLES_BUCKET", s3_bucket)
    return s3_bucket


# -- parsing ----------------------------------------------------------------------------------------

_PARSE_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    HEAVY = ("boto3", "botocore", "av", "moto", "airflow_provider_wan.emulator")

    def heavy():
        return sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))

    from airflow.dag_processing.dagbag import BundleDagBag

    folder = Path(sys.argv[1])
    before = heavy()
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="examples")
    import _wan_support  # the helper module imports on its own too
    tasks = {}
    for dag_id, dag in bag.dags.items():
        rows = []
        for task in dag.tasks:
            kwargs = getattr(task, "partial_kwargs", None) or {}
            rows.append({
                "task_id": task.task_id,
                "type": type(task).__name__ if not kwargs else task.operator_name,
                "operator_class": getattr(task, "operator_class", type(task)).__name__
                if kwargs else type(task).__name__,
                "retries": task.retries,
                "max_cost_usd": kwargs.get("max_cost_usd", getattr(task, "max_cost_usd", None)),
            })
        tasks[dag_id] = {"doc_md": dag.doc_md or "", "tasks": rows}
    print(json.dumps({
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "before": before,
        "after": heavy(),
        "dags": tasks,
    }))
    """
)


def test_examples_parse_without_errors_or_heavy_imports() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAN_EXAMPLES_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(EXAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["after"] == report["before"] == [], report
    assert set(report["dags"]) == EXAMPLE_DAGS
    for dag_id, info in report["dags"].items():
        assert len(info["doc_md"]) > 200, f"{dag_id} lacks a module docstring explaining the use case"
        generators = [t for t in info["tasks"] if t["operator_class"] in (*GENERATORS, "RunwareVideoSensor")]
        assert generators, dag_id
        for task in info["tasks"]:
            assert task["retries"] >= 1, (dag_id, task)  # retries are on: re-attaching makes them safe
            if task["operator_class"] in GENERATORS:
                assert task["max_cost_usd"], (dag_id, task)


def test_examples_directory_holds_no_media_blobs() -> None:
    big = [p.name for p in EXAMPLES.rglob("*") if p.is_file() and p.stat().st_size > 16_384]
    assert big == [], "example media must be generated by code, not committed"


# -- runs -------------------------------------------------------------------------------------------

pytestmark_db = pytest.mark.usefixtures("airflow_db")  # dag.test() needs a migrated DB


@pytestmark_db
def test_daily_text_to_video(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_daily_text_to_video")
    _assert_success(dr)
    value = _xcom(dr, "generate_daily_clip")
    _assert_landed(value, s3_client, examples_env, f"wan-examples/daily/{DS}/")
    assert value["videos"][0]["seed"] == int(DS.replace("-", ""))  # seed = {{ ds_nodash }}
    assert value["estimated_cost"] == pytest.approx(0.5) and value["cost"] == pytest.approx(0.5)
    assert _xcom(dr, "generate_daily_clip", key="video_url") == value["video_url"]
    assert _xcom(dr, "generate_daily_clip", key="task_uuid") == value["task_uuid"]
    assert _xcom(dr, "publish") == value["s3_uri"]
    request = _job(emulator, value["task_uuid"]).request
    assert DS in request["positivePrompt"] and (request["width"], request["height"]) == (1280, 720)
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["charged_usd"] == pytest.approx(0.5)


@pytestmark_db
def test_image_to_video_and_interpolation(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_image_to_video")
    _assert_success(dr)
    inputs = _xcom(dr, "prepare_inputs")
    for uri in inputs.values():
        assert _s3_object(s3_client, uri)["ContentLength"] > 0
    animate = _xcom(dr, "animate_product")
    interpolate = _xcom(dr, "interpolate_frames")
    _assert_landed(animate, s3_client, examples_env, f"wan-examples/image-to-video/{DS}/animate/")
    _assert_landed(interpolate, s3_client, examples_env, f"wan-examples/image-to-video/{DS}/interpolate/")
    first = _job(emulator, animate["task_uuid"])
    two = _job(emulator, interpolate["task_uuid"])
    assert len(first.request["inputs"]["frameImages"]) == 1
    assert [f.get("frame") for f in two.request["inputs"]["frameImages"]] == ["first", "last"]
    # The S3 images went inline (data URIs); the square packshot picked the square 720p preset.
    assert all(f["image"].startswith("data:image/png") for f in two.request["inputs"]["frameImages"])
    assert (first.width, first.height) == (960, 960)
    ledger = emulator.ledger()
    assert ledger["submissions"] == 2 and ledger["charged_usd"] == pytest.approx(0.5 + 0.4)


@pytestmark_db
def test_reference_to_video_multi_shot(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_reference_to_video")
    _assert_success(dr)
    value = _xcom(dr, "generate_scene")
    _assert_landed(value, s3_client, examples_env, f"wan-examples/reference-to-video/{DS}/")
    request = _job(emulator, value["task_uuid"]).request
    assert len(request["inputs"]["referenceImages"]) == 3
    assert request["settings"]["shotType"] == "multi"
    assert emulator.ledger()["submissions"] == 1 and value["cost"] == pytest.approx(0.6)


@pytestmark_db
def test_video_edit_from_reference_clip(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_video_edit")
    _assert_success(dr)
    uuids = set()
    for task_id in ("edit_video", "continue_video", "style_transfer"):
        value = _xcom(dr, task_id)
        _assert_landed(value, s3_client, examples_env, f"wan-examples/video-edit/{DS}/{task_id}/")
        # 2 s of input video + 5 s of output at 720p, estimated and charged alike.
        assert value["estimated_cost"] == pytest.approx(0.7) and value["cost"] == pytest.approx(0.7)
        job = _job(emulator, value["task_uuid"])
        assert job.input_video_seconds == pytest.approx(2.0, abs=0.1)
        uuids.add(value["task_uuid"])
    ledger = emulator.ledger()
    assert len(uuids) == 3 and ledger["submissions"] == 3
    assert ledger["media_uploads"] >= 1  # the clip went through Runware's media storage


@pytestmark_db
def test_audio_driven(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_audio_driven")
    _assert_success(dr)
    value = _xcom(dr, "generate_presenter")
    _assert_landed(value, s3_client, examples_env, f"wan-examples/audio-driven/{DS}/")
    job = _job(emulator, value["task_uuid"])
    assert (job.width, job.height) == (720, 1280)
    from airflow_provider_wan.models import is_uuid

    assert is_uuid(job.request["inputs"]["audio"])  # uploaded to media storage, referenced by UUID
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["media_uploads"] == 1


@pytestmark_db
def test_fire_and_forget(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_fire_and_forget")
    _assert_success(dr)
    submitted = _xcom(dr, "submit")
    assert submitted["status"] == "submitted" and submitted["estimated_cost"] == pytest.approx(0.4)
    value = _xcom(dr, "wait_for_video")
    assert value["task_uuid"] == submitted["task_uuid"]
    assert (
        value["estimated_cost"] == pytest.approx(submitted["estimated_cost"]) == pytest.approx(value["cost"])
    )
    _assert_landed(value, s3_client, examples_env, f"wan-examples/fire-and-forget/{DS}/")
    assert _xcom(dr, "report") == {"s3_uri": value["s3_uri"], "cost": value["cost"]}
    assert emulator.ledger()["submissions"] == 1


@pytestmark_db
def test_etl_to_video_manifest_and_rerun(
    examples_env: str, emulator: Any, s3_client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    import csv

    with (EXAMPLES / "data" / "products.csv").open(newline="") as handle:
        products = list(csv.DictReader(handle))
    dr = _run("example_wan_etl_to_video")
    _assert_success(dr)
    results = [_xcom(dr, "generate_video", map_index=i) for i in range(len(products))]
    for result in results:
        _assert_landed(result, s3_client, examples_env, f"wan-examples/etl/{DS}/videos/")
    summary = _xcom(dr, "write_manifest")
    manifest_uri = f"s3://{examples_env}/wan-examples/etl/{DS}/manifest.json"
    assert summary["manifest_uri"] == manifest_uri and summary["video_count"] == len(products)
    body = s3_client.get_object(Bucket=examples_env, Key=f"wan-examples/etl/{DS}/manifest.json")["Body"]
    manifest = json.loads(body.read())
    assert [v["sku"] for v in manifest["videos"]] == [p["sku"] for p in products]
    expected_costs = [int(p["duration"]) * 0.10 for p in products]  # all 720p presets
    rows = zip(manifest["videos"], products, results, expected_costs, strict=True)
    for entry, product, result, cost in rows:
        assert entry["product"] == product["name"]
        assert entry["seed"] == int(product["seed"])
        assert entry["cost"] == pytest.approx(cost)
        assert entry["s3_uri"] == result["s3_uri"] and entry["video_url"] == result["video_url"]
        assert _s3_object(s3_client, entry["s3_uri"])["ContentLength"] == entry["size_bytes"]
    assert manifest["total_cost"] == pytest.approx(sum(expected_costs)) == summary["total_cost"]
    ledger = emulator.ledger()
    assert ledger["submissions"] == len(products)
    assert ledger["charged_usd"] == pytest.approx(manifest["total_cost"])
    # The readable summary is in the task log; the API key is nowhere.
    out = "".join(capfd.readouterr())
    assert "Product videos:" in out and f"${manifest['total_cost']:>5.2f}" in out
    assert API_KEY not in out and API_KEY not in json.dumps(manifest)

    # Re-running the same day (clear + run) re-attaches to every video: nothing is paid twice.
    again = _run("example_wan_etl_to_video")
    _assert_success(again)
    assert [_xcom(again, "generate_video", map_index=i)["task_uuid"] for i in range(len(products))] == [
        r["task_uuid"] for r in results
    ]
    ledger = emulator.ledger()
    assert ledger["submissions"] == len(products) and ledger["conflicts"] == len(products)


@pytestmark_db
def test_etl_to_video_batch_budget_refuses_before_any_request(examples_env: str, emulator: Any) -> None:
    dr = _run("example_wan_etl_to_video", when=WHEN.add(days=1), max_total_cost_usd=0.5)
    assert dr.state == "failed"
    (ti,) = [ti for ti in dr.get_task_instances() if ti.task_id == "build_requests"]
    assert ti.state == "failed" and ti.try_number == 1  # AirflowFailException: no pointless retries
    assert emulator.ledger()["http_requests"] == 0


@pytestmark_db
def test_taskflow_decorator_mapped_and_request(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_taskflow")
    _assert_success(dr)
    clips = [_xcom(dr, "launch_clip", map_index=i) for i in range(2)]
    for clip in clips:
        _assert_landed(clip, s3_client, examples_env, f"wan-examples/taskflow/{DS}/launches/")
    prompts = [_job(emulator, clip["task_uuid"]).request["positivePrompt"] for clip in clips]
    assert "Aurora desk lamp" in prompts[0] and "Trail bottle" in prompts[1]
    assert all(f"launch week of {DS}" in prompt for prompt in prompts)
    teaser = _xcom(dr, "teaser")
    _assert_landed(teaser, s3_client, examples_env, f"wan-examples/taskflow/{DS}/teaser/")
    sent = _job(emulator, teaser["task_uuid"]).request
    assert (sent["width"], sent["height"]) == (720, 1280) and sent["seed"] == int(DS.replace("-", ""))
    report = _xcom(dr, "report")
    assert report["launches"] == [clip["s3_uri"] for clip in clips] and report["teaser"] == teaser["s3_uri"]
    assert report["cost"] == pytest.approx(3 * 0.5)
    assert emulator.ledger()["submissions"] == 3


@pytestmark_db
def test_prompt_library_files_are_what_runware_receives(
    examples_env: str, emulator: Any, s3_client: Any
) -> None:
    dr = _run("example_wan_prompt_library", product="Trail bottle")
    _assert_success(dr)
    spotlight = _xcom(dr, "product_spotlight")
    _assert_landed(spotlight, s3_client, examples_env, f"wan-examples/prompt-library/{DS}/spotlight/")
    sent = _job(emulator, spotlight["task_uuid"]).request
    prompts = EXAMPLES / "prompts"
    house_style = (prompts / "house_style.txt").read_text()
    assert sent["positivePrompt"] == (
        "A warm product spotlight of the Trail bottle: it rests on a slowly turning pedestal\n"
        f"while the light sweeps from cool to warm. {house_style} Shot on {DS}."
    )
    assert sent["negativePrompt"] == (prompts / "negative.txt").read_text()
    teaser = _xcom(dr, "vertical_teaser")
    _assert_landed(teaser, s3_client, examples_env, f"wan-examples/prompt-library/{DS}/teaser/")
    wire = _job(emulator, teaser["task_uuid"]).request
    teaser_prompt = "The Trail bottle drops into frame on a bold colour field, vertical teaser"
    assert wire["positivePrompt"] == teaser_prompt
    assert wire["seed"] == int(DS.replace("-", "")) and (wire["width"], wire["height"]) == (720, 1280)
    assert emulator.ledger()["submissions"] == 2


@pytestmark_db
def test_wan_family_wan30_and_any_model(examples_env: str, emulator: Any, s3_client: Any) -> None:
    dr = _run("example_wan_family", subject="A brass orrery")
    _assert_success(dr)
    wan30 = _xcom(dr, "wan30_clip")
    _assert_landed(
        wan30, s3_client, examples_env, f"wan-examples/wan-family/{DS}/wan30/", model="alibaba:wan@3.0"
    )
    prime = _xcom(dr, "wan30_prime_clip")
    prefix = f"wan-examples/wan-family/{DS}/wan30-prime/"
    _assert_landed(prime, s3_client, examples_env, prefix, model="alibaba:wan@3.0-prime")
    # No known price for either: the estimate is the user's, the cost what Runware (the emulator) charged.
    assert wan30["estimated_cost"] == pytest.approx(0.5) and wan30["cost"] == pytest.approx(0.5)
    assert prime["estimated_cost"] == pytest.approx(0.4)
    sent = _job(emulator, wan30["task_uuid"]).request
    assert sent["model"] == "alibaba:wan@3.0" and sent["duration"] == "5" and sent["resolution"] == "720p"
    assert sent["settings"] == {"audio": True} and sent["positivePrompt"].startswith("A brass orrery on")
    assert _job(emulator, prime["task_uuid"]).request["resolution"] == "480p"
    assert _xcom(dr, "report") == {
        "alibaba:wan@3.0": wan30["s3_uri"],
        "alibaba:wan@3.0-prime": prime["s3_uri"],
    }
    assert emulator.ledger()["submissions"] == 2
