"""End to end under real Airflow processes: api-server, scheduler (LocalExecutor), dag-processor, triggerer.

``example_wan_fire_and_forget`` is triggered through the REST API the way a user would. The submit task
runs in a LocalExecutor worker, the sensor defers, its ``RunwareVideoTrigger`` polls the emulator from the
triggerer process, the sensor resumes and lands the video in S3 (moto). The emulator and moto are the
in-thread test servers on real loopback ports, reachable from the Airflow subprocesses.

The Runware connection carries the secrets canary key: after the run, no file the deployment wrote (every
component's log, the task and trigger log tree, the metadata DB, the config) may contain it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.conftest import CANARY_KEY, CONTRACT_KEYS, ROOT, runware_conn_json
from tests.e2e_support import COMPONENTS, AirflowStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DAG_ID = "example_wan_fire_and_forget"


@pytest.fixture
def stack(emulator: Any, aws_conn: str, s3_bucket: str, tmp_path: Path) -> Iterator[AirflowStack]:
    # The video "renders" until the test moves the emulator's clock: the sensor is sure to find it
    # still running and to defer, however slowly the scheduler picks it up.
    emulator.set_faults(processing_seconds=900.0)
    stack = AirflowStack(
        home=tmp_path / "airflow-home",
        dags_folder=ROOT / "dags_examples",
        extra_env={
            # The canary key: every real process (the triggerer too) authenticates with it.
            "AIRFLOW_CONN_RUNWARE_DEFAULT": runware_conn_json(emulator.base_url, api_key=CANARY_KEY),
            "AIRFLOW_CONN_AWS_DEFAULT": os.environ["AIRFLOW_CONN_AWS_DEFAULT"],
            "AIRFLOW_VAR_WAN_EXAMPLES_BUCKET": s3_bucket,
            "WAN_EXAMPLES_POLL_SECONDS": "0.5",
            "WAN_EXAMPLES_RETRY_DELAY_SECONDS": "2",
        },
    )
    stack.migrate()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_fire_and_forget_under_scheduler_and_triggerer(
    stack: AirflowStack, emulator: Any, s3_client: Any, s3_bucket: str
) -> None:
    stack.wait_healthy(timeout=90)
    stack.wait_for_dag(DAG_ID, timeout=60)
    stack.unpause(DAG_ID)
    logical_date = pendulum.datetime(2026, 5, 1, tz="UTC")
    run_id = stack.trigger(DAG_ID, logical_date.isoformat())

    # The sensor defers (its worker slot is released) while Runware is still rendering ...
    stack.wait_for_task_state(DAG_ID, run_id, "wait_for_video", "deferred", timeout=120)
    assert emulator.ledger()["submissions"] == 1
    # ... then the video is done; the trigger notices it and the sensor resumes in a new worker.
    emulator.advance_clock(1000)
    state = stack.wait_for_run(DAG_ID, run_id, timeout=120)
    states = stack.task_states(DAG_ID, run_id)
    assert state == "success", f"{states}\n{stack.logs()}"
    assert states == {"submit": "success", "wait_for_video": "success", "report": "success"}

    submitted = stack.xcom(DAG_ID, run_id, "submit")
    value = stack.xcom(DAG_ID, run_id, "wait_for_video")
    assert submitted["status"] == "submitted" and value["task_uuid"] == submitted["task_uuid"]
    assert set(value) >= CONTRACT_KEYS | {"s3_uri", "s3_uris"}
    assert value["status"] == "success" and len(value["videos"]) == 1
    assert value["cost"] == pytest.approx(0.4)  # 720p x 4 s
    task_uuid = value["task_uuid"]

    # The video is in S3 under the run's date, with the size the XCom reports.
    uri = value["s3_uri"]
    assert uri.startswith(f"s3://{s3_bucket}/wan-examples/fire-and-forget/2026-05-01/"), uri
    head = s3_client.head_object(Bucket=s3_bucket, Key=uri.split("/", 3)[3])
    assert head["ContentLength"] == value["videos"][0]["size_bytes"] > 0

    # One submission, paid once.
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["charged_usd"] == pytest.approx(0.4)

    # The wait ran in the triggerer process: the triggerer writes a trigger log per deferral,
    # ``attempt=1.log.trigger.<triggerer job id>.log``, next to the worker's task log.
    task_dir = next((stack.home / "logs").glob(f"dag_id={DAG_ID}/run_id=*/task_id=wait_for_video"))
    trigger_logs = sorted(task_dir.glob("attempt=1.log.trigger.*.log"))
    assert trigger_logs, sorted(p.name for p in task_dir.iterdir())
    trigger_text = "\n".join(p.read_text(errors="replace") for p in trigger_logs)
    assert f"Task {task_uuid} finished: success" in trigger_text, trigger_text[-3000:]
    assert "airflow_provider_wan.triggers.video.RunwareVideoTrigger" in trigger_text
    assert "Trigger fired event" in trigger_text
    job_ids = {int(p.name.rsplit(".", 2)[-2]) for p in trigger_logs}
    assert job_ids <= set(stack.job_ids("TriggererJob")), job_ids
    # ... while the worker only submitted the wait and later resumed to land the video.
    worker_text = (task_dir / "attempt=1.log").read_text(errors="replace")
    assert "Pausing task as DEFERRED" in worker_text
    assert worker_text.index("Pausing task as DEFERRED") < worker_text.index("Landed video")

    # The canary key did the work (the emulator accepts no other key from this connection) ...
    assert ledger["auth_failures"] == 0 and sum(ledger["auth_methods"].values()) > 0, ledger["auth_methods"]
    # ... and, once every process has exited and flushed, leaked into no file the deployment wrote.
    stack.stop()
    scanned = _files_holding(stack.home, CANARY_KEY)
    names = {p.name for p in scanned["all"]}
    assert {f"{name}.log" for name in COMPONENTS} <= names, sorted(names)
    assert set(trigger_logs) <= set(scanned["all"]) and task_dir / "attempt=1.log" in scanned["all"]
    assert not scanned["leaks"], f"API key leaked into {[str(p) for p in scanned['leaks']]}"


def _files_holding(root: Path, secret: str) -> dict[str, list[Path]]:
    """Every regular file under ``root`` ("all") and those whose bytes contain ``secret`` ("leaks")."""
    needle = secret.encode()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {"all": files, "leaks": [p for p in files if needle in p.read_bytes()]}
