"""What Airflow's UI reads from the provider: links, assets, the connection form, the plugin."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset, Connection

from airflow_provider_wan import get_provider_info
from airflow_provider_wan.connection import CONN_EXTRA_FIELDS, EXTRA_DEFAULTS
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.hooks.runware import config_from_connection
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.sensors.video import RunwareVideoSensor
from tests.conftest import API_KEY

UUID = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
KEY = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)


class FakeSupervisor:
    """The task runner's channel to its supervisor, answering an XCom count (what a HEAD request gets)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent: list[Any] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import XComCountResponse

        self.sent.append(msg)
        return XComCountResponse(len=self.count)


def test_link_asked_before_the_video_exists_reads_no_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain XCom read of a missing key is what logs "XCom not found" at error level: never made."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.xcom import XCom

    supervisor = FakeSupervisor(count=0)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", supervisor, raising=False)

    def no_read(**kwargs: Any) -> Any:
        raise AssertionError(f"read a missing XCom: {kwargs}")

    monkeypatch.setattr(XCom, "get_value", no_read)
    assert RunwareVideoLink().get_link(None, ti_key=KEY) == ""  # type: ignore[arg-type]
    (asked,) = supervisor.sent
    assert (asked.key, asked.dag_id, asked.run_id, asked.task_id) == ("video_url", "d", "r", "t")


def test_link_once_the_video_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.xcom import XCom

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", FakeSupervisor(count=1), raising=False)
    url = "http://videos.test/a.mp4"
    monkeypatch.setattr(XCom, "get_value", lambda **kw: url if kw["key"] == "video_url" else None)
    assert RunwareVideoLink().get_link(None, ti_key=KEY) == url  # type: ignore[arg-type]


def test_operator_and_sensor_share_the_link_and_declare_their_asset() -> None:
    assert get_provider_info()["extra-links"] == ["airflow_provider_wan.links.RunwareVideoLink"]
    operator = WanVideoOperator(task_id="op", positive_prompt="a boat", s3_destination="s3://bucket/videos/")
    sensor = RunwareVideoSensor(task_id="sensor", task_uuid=UUID, s3_destination="s3://bucket/videos/")
    for task in (operator, sensor):
        assert [type(link) for link in task.operator_extra_links] == [RunwareVideoLink]
        assert task.outlets == [Asset(uri="s3://bucket/videos/")]
    # A user's own outlets are kept; a templated bucket declares no (wrong) asset.
    mine = Asset(uri="s3://other/x")
    kept = RunwareVideoSensor(task_id="s2", task_uuid=UUID, s3_destination="s3://b/{{ ds }}/", outlets=[mine])
    assert kept.outlets == [mine, Asset(uri="s3://b/")]
    assert RunwareVideoSensor(task_id="s3", task_uuid=UUID, s3_destination="s3://b-{{ ds }}/").outlets == []
    with pytest.raises(InvalidRequestError) as err:
        RunwareVideoSensor(task_id="s4", task_uuid=UUID, s3_destination="https://bucket/videos/")
    assert err.value.parameter == "s3_destination"


def test_connection_form_defaults_are_the_hooks() -> None:
    """The form pre-fills each extra with its default; the hook uses the same value when it is absent."""
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert {name: spec["schema"]["default"] for name, spec in fields.items()} == EXTRA_DEFAULTS
    assert all(spec["label"] and spec["description"] for spec in CONN_EXTRA_FIELDS.values())

    def config(extra: dict[str, Any] | None) -> Any:
        conn = Connection(conn_id="c", conn_type="runware", password=API_KEY, extra=json.dumps(extra or {}))
        return config_from_connection(conn)

    empty, nulls, saved = config(None), config(dict.fromkeys(EXTRA_DEFAULTS)), config(EXTRA_DEFAULTS)
    assert empty == nulls == saved
    assert (empty.timeout, empty.retry.max_retries, empty.max_connections) == (30.0, 6, 20)


def test_spend_plugin_is_registered() -> None:
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    (plugin,) = [p for p in plugins if p.name == "runware_spend"]
    assert not [e for e in errors if "runware" in str(e)]
    (app,) = plugin.fastapi_apps
    assert app["url_prefix"] == "/runware-spend"
    (view,) = plugin.external_views
    assert (view["name"], view["href"], view["url_route"]) == ("Runware", "/runware-spend/", "runware")
