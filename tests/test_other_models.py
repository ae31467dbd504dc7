"""Other Runware video models (the Wan family beside 2.7, any AIR id) through ``RunwareVideoOperator`` and
``WanVideoOperator(model=…)``, and ``WanVideoOperator(extra_fields=…)``: real Airflow (``dag.test()``)
against the emulator, whose ledger witnesses what was sent and paid."""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.generic import RunwareVideoRequest, check_extra_fields, fingerprint_with
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.operators.runware import RunwareVideoOperator
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.pricing import estimate_any
from tests.conftest import CONTRACT_KEYS, load_dag
from tests.dags.model_flows import OTHER
from tests.test_operator import _ti, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")


def _run(dag_id: str, **conf: object):  # type: ignore[no-untyped-def]
    dag = load_dag("tests.dags.model_flows", dag_id)
    when = pendulum.now("UTC")
    return dag.test(logical_date=when, run_after=when, run_conf=dict(conf))


def _sent(task_uuid: str) -> dict[str, Any]:
    with RunwareHook() as hook:
        [sent] = hook.get_task_details(task_uuid)["request"]
        return dict(sent)


@pytest.mark.parametrize("dag_id", ["wan30_deferrable", "wan30_sync"])
def test_wan30_runs_end_to_end(emulator, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dr = _run(dag_id)
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert set(value) == CONTRACT_KEYS and value["status"] == "success"
    assert value["model"] == "alibaba:wan@3.0"  # the model the task ran, not Wan2.7
    assert value["estimated_cost"] is None  # no published price: unknown, and no budget was set
    assert len(value["videos"]) == 1 and value["cost"] is not None
    sent = _sent(value["task_uuid"])
    assert sent["model"] == "alibaba:wan@3.0" and sent["deliveryMethod"] == "async"
    assert sent["duration"] == "3" and sent["resolution"] == "480p" and sent["settings"] == {"audio": False}
    assert emulator.ledger()["submissions"] == 1


def test_wan30_lost_ack_and_rerun_reattach_instead_of_paying_twice(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(p_ack_lost=1.0)
    dag = load_dag("tests.dags.model_flows", "wan30_deferrable")
    when = pendulum.datetime(2026, 3, 1, tz="UTC")
    first = dag.test(logical_date=when, run_after=when)
    again = dag.test(logical_date=when, run_after=when)  # dag.test clears and re-runs the same run
    assert first.state == again.state == "success" and _ti(again).state == "success"
    assert _xcom(again)["task_uuid"] == _xcom(first)["task_uuid"]
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["conflicts"] >= 1


def test_sensor_reports_the_model_runware_recorded(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan30_then_sensor")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    assert _xcom(dr, task_id="submit")["model"] == "alibaba:wan@3.0"
    waited = _xcom(dr, task_id="wait")
    assert waited["model"] == "alibaba:wan@3.0" and waited["status"] == "success"
    assert emulator.ledger()["submissions"] == 1


def test_wan_operator_runs_wan30_from_its_own_arguments(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan30_keywords", n="2")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert value["model"] == "alibaba:wan@3.0" and len(value["videos"]) == 2
    assert value["estimated_cost"] == pytest.approx(0.3)  # no known price: the given estimate
    sent = _sent(value["task_uuid"])
    assert sent["model"] == "alibaba:wan@3.0" and sent["resolution"] == "720p"
    assert sent["duration"] == "2" and sent["numberResults"] == 2  # 3.0 takes string durations
    assert sent["settings"] == {"audio": False} and sent["routing"] == {"region": "eu"}
    assert "negativePrompt" not in sent


def test_wan_operator_puts_wan26_options_under_provider_settings(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan26_keywords")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    sent = _sent(value["task_uuid"])
    assert value["model"] == sent["model"] == "alibaba:wan@2.6"
    assert sent["duration"] == 5 and sent["negativePrompt"] == "blur"  # a rendered "5" is a number again
    assert sent["providerSettings"] == {"promptEnhancer": True} and "settings" not in sent
    refused = _run("wan26_keywords", duration=7)  # 2.6 takes 5, 10 or 15 s: refused before any request
    assert refused.state == "failed"
    assert emulator.ledger()["submissions"] == 1


def test_unknown_price_with_a_budget_fails_closed(emulator, capfd) -> None:  # type: ignore[no-untyped-def]
    dr = _run("other_unpriced_budget")
    assert dr.state == "failed"
    assert "estimated_cost_usd" in "".join(capfd.readouterr())
    assert emulator.ledger()["http_requests"] == 0  # refused before any request


def test_given_estimate_runs_and_is_reported(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("other_given_estimate")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert value["model"] == "klingai:5@3" and value["estimated_cost"] == pytest.approx(0.4)
    assert _sent(value["task_uuid"])["model"] == "klingai:5@3"
    from airflow_provider_wan.plugins.spend_app import load_records

    # The spend view counts the general operator's tasks too.
    [record] = load_records({"other_given_estimate"}, days=1)
    assert record.value is not None and record.value["task_uuid"] == value["task_uuid"]
    assert record.video_seconds == 2


def test_runware_refusal_comes_back_as_invalid_request(emulator, capfd) -> None:  # type: ignore[no-untyped-def]
    dr = _run("other_refused_by_runware")
    assert dr.state == "failed"
    out = "".join(capfd.readouterr())
    assert "[invalidParameter]" in out and "parameter=numberResults" in out
    assert emulator.ledger()["submissions"] == 0
    request = RunwareVideoRequest.build("klingai:5@3", {**OTHER, "numberResults": 99})
    with RunwareHook() as hook, pytest.raises(InvalidRequestError) as info:
        hook.submit_video(request, str(uuid.uuid4()))
    assert info.value.parameter == "numberResults" and info.value.http_status == 400


def test_wan27_through_the_general_operator_is_priced(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan27_generic")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert value["model"] == "alibaba:wan@2.7" and value["estimated_cost"] == pytest.approx(0.2)
    assert value["cost"] == pytest.approx(0.2)


def test_extra_fields_reach_the_wire_and_change_the_identity(emulator) -> None:  # type: ignore[no-untyped-def]
    first = _run("wan_extra_fields")
    assert first.state == "success", [(t.task_id, t.state) for t in first.get_task_instances()]
    value = _xcom(first)
    assert value["model"] == "alibaba:wan@2.7"
    assert _sent(value["task_uuid"])["routing"] == {"region": "eu"}
    second = _run("wan_extra_fields", region="us")
    assert second.state == "success"
    uuid_us = _xcom(second)["task_uuid"]
    assert uuid_us != value["task_uuid"] and _sent(uuid_us)["routing"] == {"region": "us"}


# --- no server needed -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "request_", "parameter"),
    [
        ("wan 3", {"positivePrompt": "p"}, "model"),
        ("klingai:5@3", {"negativePrompt": "blur"}, "positivePrompt"),
        ("klingai:5@3", {"positivePrompt": "p", "model": "other:1@1"}, "model"),
        ("klingai:5@3", {"positivePrompt": "p", "taskType": "imageInference"}, "taskType"),
        ("klingai:5@3", {"inputs": []}, "inputs"),
        ("klingai:5@3", "[1, 2]", "request"),
        ("klingai:5@3", {"positivePrompt": "p", "numberResults": 0}, "numberResults"),
        ("alibaba:wan@3.0", {"positivePrompt": "p", "shotType": "multi"}, "shotType"),
        ("alibaba:wan@3.0", {"positivePrompt": "p", "resolution": "4k"}, "resolution"),
        ("alibaba:wan@3.0", {"positivePrompt": "p", "duration": "five"}, "duration"),
        ("alibaba:wan@2.6", {"positivePrompt": "p", "duration": 7}, "duration"),
        ("alibaba:wan@2.6", {"positivePrompt": "p", "duration": "5"}, "duration"),
        ("alibaba:wan@2.6", {"positivePrompt": "p", "resolution": "480p"}, "resolution"),
        ("alibaba:wan@2.6", {"positivePrompt": "p", "settings": {}}, "settings"),
        ("alibaba:wan@3.0", {"positivePrompt": "p", "providerSettings": {}}, "providerSettings"),
        ("klingai:5@3", {"inputs": {"frameImages": [{"image": "s3://b/k"}]}}, "inputs.frameImages[0].image"),
    ],
)
def test_structural_checks_name_the_parameter(model: str, request_: Any, parameter: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        RunwareVideoRequest.build(model, request_)
    assert info.value.parameter == parameter


def test_wire_envelope_and_defaults() -> None:
    request = RunwareVideoRequest.build(
        "alibaba:wan@3.0", '{"positivePrompt": "p", "duration": "5", "model": "alibaba:wan@3.0"}'
    )
    wire = request.to_wire("11111111-2222-4333-8444-555555555555")
    assert wire["taskType"] == "videoInference" and wire["deliveryMethod"] == "async"
    assert wire["includeCost"] is True and wire["duration"] == "5"
    assert request.effective_duration == 5 and request.effective_number_results == 1
    assert RunwareVideoRequest.build("alibaba:wan@2.6", {"inputs": {"frameImages": []}, "duration": 10})


def test_prices_known_only_for_wan27() -> None:
    assert estimate_any("alibaba:wan@2.7", {"positivePrompt": "p", "width": 1920, "height": 1080}) == 0.75
    assert estimate_any("alibaba:wan@3.0", {"positivePrompt": "p"}) is None
    assert estimate_any("alibaba:wan@2.7", {"positivePrompt": "p", "width": 1, "height": 1}) is None


def test_extra_fields_checks_and_fingerprint() -> None:
    wire = {"taskType": "videoInference", "positivePrompt": "p"}
    with pytest.raises(InvalidRequestError, match="extra_fields"):
        check_extra_fields({"positivePrompt": "q"}, wire)
    with pytest.raises(InvalidRequestError, match="extra_fields"):
        check_extra_fields({"model": "x:y@1"}, wire)
    with pytest.raises(InvalidRequestError, match="extra_fields"):
        check_extra_fields([1], wire)
    assert check_extra_fields('{"routing": {"a": 1}}', wire) == {"routing": {"a": 1}}
    assert fingerprint_with("abc", {}) == "abc"
    assert fingerprint_with("abc", {"routing": 1}) != fingerprint_with("abc", {"routing": 2})


def test_operator_arguments_refused_at_parse_or_before_any_request() -> None:
    with pytest.raises(InvalidRequestError, match="delivery"):
        RunwareVideoOperator(task_id="t", model="klingai:5@3", delivery="upload_endpoint")
    with pytest.raises(InvalidRequestError, match="RunwareVideoOperator") as info:
        WanVideoOperator(task_id="w", model="klingai:5@3", positive_prompt="p")
    assert info.value.parameter == "model" and "alibaba:wan@3.0-prime" in (info.value.allowed_values or [])
    wan30 = WanVideoOperator(task_id="w", model="alibaba:wan@3.0", positive_prompt="p", negative_prompt="n")
    with pytest.raises(InvalidRequestError) as info:
        wan30.build_request()
    assert info.value.parameter == "negativePrompt"  # Wan 3.0's SDK type has none
    op = WanVideoOperator(task_id="w", positive_prompt="p", size="720p_16_9", extra_fields={"seed": 3})
    with pytest.raises(InvalidRequestError, match="extra_fields"):
        op.fingerprint(op.build_request().replace(seed=3))


def test_wan_family_request_merges_keyword_arguments_without_changing_it() -> None:
    given = {"positivePrompt": "p", "settings": {"audio": True}}
    op = WanVideoOperator(
        task_id="w", model="alibaba:wan@3.0", request=given, prompt_enhancer="False", seed="7"
    )
    wire = op.build_request().to_wire()
    assert wire["settings"] == {"audio": True, "promptEnhancer": False} and wire["seed"] == 7
    assert given == {"positivePrompt": "p", "settings": {"audio": True}}
    wan26 = WanVideoOperator(
        task_id="w", model="alibaba:wan@2.6", request={"positive_prompt": "p"}, duration="10"
    )
    assert wan26.build_request().to_wire()["duration"] == 10
