"""Secrets canary: run real DAGs with a unique API key and hunt for it everywhere it must never be.

Task and trigger logs (captured output), XCom, rendered template fields, task instance ``next_kwargs``,
trigger rows — by dumping the whole metadata DB —, Airflow's log files, serialized triggers and
exception text.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from pathlib import Path

import pendulum
import pytest

from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.triggers.video import RunwareVideoTrigger
from tests.conftest import CANARY_KEY, load_dag, runware_conn_json

pytestmark = pytest.mark.usefixtures("airflow_db")

DAGS = ["wan_deferrable", "wan_sync", "wan_fire_and_forget", "wan_retry", "wan_mapped"]


def _metadata_db_dump() -> str:
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    assert url.startswith("sqlite:///"), url
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return "\n".join(db.iterdump())


def _log_files() -> str:
    home = Path(os.environ["AIRFLOW_HOME"])
    texts = []
    for path in home.rglob("*.log"):
        texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_canary_key_appears_nowhere(emulator, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator.base_url, api_key=CANARY_KEY)
    )
    emulator.set_faults(p_429=0.2, p_500=0.1, retry_after=0.01)  # retries and warnings get logged too
    for dag_id in DAGS:
        when = pendulum.now("UTC")
        load_dag("tests.dags.operator_flows", dag_id).test(logical_date=when, run_after=when)
    emulator.set_faults(p_429=0.0, p_500=0.0, p_generation_fail=1.0)
    when = pendulum.now("UTC")
    failed = load_dag("tests.dags.operator_flows", "wan_retry").test(logical_date=when, run_after=when)
    assert failed.state == "failed"  # the failure path (exception text in the log) is covered too

    output = "".join(capfd.readouterr())
    assert "Runware" in output  # the capture did see the task logs
    assert emulator.ledger()["auth_methods"]  # the canary key was really used
    places = {"task and trigger logs": output, "metadata DB": _metadata_db_dump(), "log files": _log_files()}
    for name, text in places.items():
        assert CANARY_KEY not in text, f"API key leaked into {name}"


async def test_canary_not_in_serialized_trigger_hook_or_errors(emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator.base_url, api_key=CANARY_KEY)
    )
    trigger = RunwareVideoTrigger(task_uuid=str(uuid.uuid4()), end_time=time.time() + 5, poll_initial_delay=0)
    from airflow.serialization.serialized_objects import BaseSerialization

    assert CANARY_KEY not in repr(BaseSerialization.serialize(trigger.serialize()))
    hook = RunwareHook()
    texts = [repr(hook), repr(hook.config), str(hook.config.api_key), repr(hook.client), str(hook.config)]
    # An error raised with the key configured (bad request), and the auth error of a wrong key.
    with pytest.raises(RunwareError) as info:
        hook.get_task_details(str(uuid.uuid4()))
    texts += [str(info.value), repr(info.value), str(info.value.to_dict())]
    event = await trigger.run().__anext__()
    texts.append(repr(event.payload))
    hook.close()
    for text in texts:
        assert CANARY_KEY not in text


def test_canary_key_absent_after_every_example_dag(emulator, aws_conn, s3_bucket, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    """The example DAGs, as users will copy them, run with the canary key: it must leak nowhere."""
    from tests.test_examples import EXAMPLE_DAGS, _run

    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator.base_url, api_key=CANARY_KEY)
    )
    monkeypatch.setenv("AIRFLOW_VAR_WAN_EXAMPLES_BUCKET", s3_bucket)
    states = {}
    for dag_id in sorted(EXAMPLE_DAGS):
        # An earlier test may have run the ETL example with a tiny budget: state the default explicitly.
        conf = {"max_total_cost_usd": 25.0} if dag_id == "example_wan_etl_to_video" else {}
        states[dag_id] = _run(dag_id, when=pendulum.now("UTC"), **conf).state
    assert set(states.values()) == {"success"}, states
    output = "".join(capfd.readouterr())
    places = {"task and trigger logs": output, "metadata DB": _metadata_db_dump(), "log files": _log_files()}
    for name, text in places.items():
        assert CANARY_KEY not in text, f"API key leaked into {name}"
