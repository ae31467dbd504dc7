"""WanVideoOperator / trigger / sensor flows in real Airflow (``dag.test()``) against the emulator.

The emulator's ledger is the witness for "never pays twice": it counts accepted submissions and
conflicting resubmissions independently of the provider.
"""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_wan.compat import TaskDeferred
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.operators.video import WanVideoOperator
from airflow_provider_wan.results import xcom_value
from tests.conftest import API_KEY, CONTRACT_KEYS, VIDEO_KEYS, load_dag

pytestmark = pytest.mark.usefixtures("airflow_db")


def _run(dag_id: str, logical_date: pendulum.DateTime | None = None, **conf: object):  # type: ignore[no-untyped-def]
    dag = load_dag("tests.dags.operator_flows", dag_id)
    when = logical_date or pendulum.now("UTC")
    return dag.test(logical_date=when, run_after=when, run_conf=dict(conf))


def _ti(dag_run, task_id: str = "gen", map_index: int = -1):  # type: ignore[no-untyped-def]
    for ti in dag_run.get_task_instances():
        if ti.task_id == task_id and ti.map_index == map_index:
            return ti
    raise AssertionError(f"no task instance {task_id}[{map_index}]")


def _xcom(dag_run, task_id: str = "gen", key: str = "return_value", map_index: int = -1):  # type: ignore[no-untyped-def]
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


@pytest.mark.parametrize("dag_id", ["wan_deferrable", "wan_sync"])
def test_flow_succeeds_with_xcom_contract(emulator, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dr = _run(dag_id)
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert set(value) == CONTRACT_KEYS  # exactly the documented keys, no more
    assert value["model"] == "alibaba:wan@2.7" and value["status"] == "success"
    assert len(value["videos"]) == 1 and set(value["videos"][0]) == VIDEO_KEYS
    assert value["video_url"] == value["videos"][0]["video_url"] == value["video_urls"][0]
    # 720p, 2 s: $0.20 estimated, and the emulator charged exactly that.
    assert value["estimated_cost"] == pytest.approx(0.2) and value["cost"] == pytest.approx(0.2)
    assert _xcom(dr, key="task_uuid") == value["task_uuid"]
    assert _xcom(dr, key="video_url") == value["video_url"]
    assert _xcom(dr, key="cost") == pytest.approx(0.2)
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["charged_usd"] == pytest.approx(0.2)
    assert API_KEY not in str(value)


def test_fire_and_forget_then_sensors(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_fire_and_forget")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    submitted = _xcom(dr, task_id="submit")
    assert submitted["status"] == "submitted"
    poked = _xcom(dr, task_id="wait_poke")
    deferred = _xcom(dr, task_id="wait_deferred")
    assert poked["task_uuid"] == deferred["task_uuid"] == submitted["task_uuid"]
    assert set(poked) == CONTRACT_KEYS and poked["videos"] == deferred["videos"]
    assert emulator.ledger()["submissions"] == 1


def test_sensor_reports_the_submitters_estimate(emulator) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    from airflow_provider_wan.sensors.video import RunwareVideoSensor

    dr = _run("wan_fire_and_forget")
    submitted = _xcom(dr, task_id="submit")
    ti = mock.MagicMock(start_date=None)
    sensor = RunwareVideoSensor(
        task_id="wait", task_uuid=submitted["task_uuid"], estimated_cost=str(submitted["estimated_cost"])
    )
    done = sensor.poke({"ti": ti})  # type: ignore[arg-type]
    value = done.xcom_value  # type: ignore[union-attr]
    assert value["estimated_cost"] == pytest.approx(submitted["estimated_cost"]) == pytest.approx(0.2)
    assert value["cost"] == pytest.approx(0.2)
    # Nothing pushed upstream renders as "None": unknown, not an error.
    unknown = RunwareVideoSensor(task_id="w2", task_uuid=submitted["task_uuid"], estimated_cost="None")
    assert unknown.poke({"ti": ti}).xcom_value["estimated_cost"] is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"task_uuid": "not-a-uuid"}, "task_uuid"),
        ({"task_uuid": ""}, "task_uuid"),
        ({"task_uuid": "{{ ti.xcom_pull('x') }}"}, "task_uuid"),  # left unrendered
        ({"estimated_cost": "about a dollar"}, "estimated_cost"),
        ({"estimated_cost": -0.5}, "estimated_cost"),
        ({"estimated_cost": "nan"}, "estimated_cost"),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_bad_input_named_before_any_request(emulator, kwargs, parameter, deferrable) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    from airflow_provider_wan.sensors.video import RunwareVideoSensor

    params = {"task_uuid": "11111111-2222-4333-8444-555555555555", **kwargs}
    sensor = RunwareVideoSensor(task_id="wait", deferrable=deferrable, poke_interval=0.1, timeout=5, **params)
    with pytest.raises(InvalidRequestError) as info:
        if deferrable:
            sensor.execute({"ti": mock.MagicMock(start_date=None)})  # type: ignore[arg-type]
        else:
            sensor.poke({"ti": mock.MagicMock(start_date=None)})  # type: ignore[arg-type]
    assert info.value.parameter == parameter and parameter in str(info.value)
    assert emulator.ledger()["http_requests"] == 0


def test_crash_after_submit_reattaches(emulator, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAN_TEST_CRASH_MARKER", str(tmp_path / "crashed"))
    dr = _run("wan_crash_after_submit")
    assert dr.state == "success"
    assert (tmp_path / "crashed").exists()  # the first try did die after its submit
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["conflicts"] == 1


def test_lost_acknowledgment_reattaches(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(p_ack_lost=1.0)
    dr = _run("wan_deferrable")
    assert dr.state == "success"
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1 and ledger["conflicts"] >= 1
    assert ledger["charged_usd"] == pytest.approx(0.2)


def test_clear_and_rerun_reattaches_changed_prompt_pays(emulator) -> None:  # type: ignore[no-untyped-def]
    when = pendulum.datetime(2026, 3, 1, tz="UTC")
    first = _run("wan_deferrable", logical_date=when)
    again = _run("wan_deferrable", logical_date=when)  # dag.test clears and re-runs the same run
    assert first.run_id == again.run_id and again.state == "success"
    assert emulator.ledger()["submissions"] == 1
    assert _xcom(again)["task_uuid"] == _xcom(first)["task_uuid"]
    changed = _run("wan_deferrable", logical_date=when, prompt="a blue whale breaching at sunset")
    assert changed.state == "success"
    assert emulator.ledger()["submissions"] == 2


def test_provider_failure_fails_then_retry_submits_new_generation(emulator, capfd) -> None:  # type: ignore[no-untyped-def]
    emulator.set_faults(p_generation_fail=1.0)
    dr = _run("wan_retry")
    assert dr.state == "failed"
    ledger = emulator.ledger()
    # Try 1 failed; try 2 paid for a NEW generation instead of re-polling the dead one.
    assert ledger["submissions"] == 2
    failed = [t for t in ledger["tasks"] if t.get("failure_code") == "timeoutProvider"]
    assert len(failed) == 2
    out = "".join(capfd.readouterr())
    # The task log names the Runware code and the failed task UUIDs.
    assert "[timeoutProvider]" in out
    assert all(f"taskUUID={t['taskUUID']}" in out for t in failed)


def test_budget_refused_before_any_request(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_budget", duration=5)  # 720p x 5 s = $0.50 > $0.05
    assert dr.state == "failed"
    ledger = emulator.ledger()
    assert ledger["http_requests"] == 0 and ledger["submissions"] == 0


def test_mapped_prompts_distinct_and_rerun_reattaches(emulator) -> None:  # type: ignore[no-untyped-def]
    when = pendulum.datetime(2026, 4, 1, tz="UTC")
    dr = _run("wan_mapped", logical_date=when)
    assert dr.state == "success"
    uuids = {_xcom(dr, map_index=i)["task_uuid"] for i in range(5)}
    assert len(uuids) == 5
    assert emulator.ledger()["submissions"] == 5
    again = _run("wan_mapped", logical_date=when)
    assert again.state == "success"
    assert {_xcom(again, map_index=i)["task_uuid"] for i in range(5)} == uuids
    ledger = emulator.ledger()
    assert ledger["submissions"] == 5 and ledger["conflicts"] == 5


def test_expand_kwargs(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_mapped_kwargs")
    assert dr.state == "success"
    assert _xcom(dr, map_index=1)["videos"][0]["seed"] == 7
    assert emulator.ledger()["submissions"] == 2


# -- unit-level: no DAG run needed -----------------------------------------------------------------


def test_bad_input_raises_before_any_request(emulator) -> None:  # type: ignore[no-untyped-def]
    op = WanVideoOperator(task_id="x", positive_prompt="p", width=1280, height=721)
    with pytest.raises(InvalidRequestError) as info:
        op.build_request()
    assert info.value.parameter == "width"
    with pytest.raises(InvalidRequestError) as info:
        WanVideoOperator(task_id="y", positive_prompt="p", size="4k").build_request()
    assert info.value.parameter == "size"
    # In a task it fails fast: a retry cannot fix a bad request (and nothing was sent).
    from unittest import mock

    from airflow_provider_wan.compat import AirflowFailException

    with pytest.raises(AirflowFailException, match="width"):
        op.execute({"ti": mock.MagicMock(dag_id="d", task_id="x", run_id="r", map_index=-1)})  # type: ignore[arg-type]
    assert emulator.ledger()["http_requests"] == 0


def test_request_dict_and_kwargs_merge() -> None:
    op = WanVideoOperator(
        task_id="x",
        request={"positivePrompt": "from xcom", "width": 1280, "height": 720, "settings": {"audio": False}},
        duration="3",
    )
    req = op.build_request()
    assert req.positive_prompt == "from xcom" and req.duration == 3 and req.generate_audio is False


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {"status": "weird", "task_uuid": "x"},
        {"status": "success"},
        {"status": "success", "task_uuid": "t", "videos": "nope"},
    ],
)
def test_execute_complete_rejects_malformed_events(event: object) -> None:
    with pytest.raises(RunwareError):
        xcom_value(event)


def test_execute_complete_error_and_timeout_raise_with_code_and_uuid() -> None:
    error_event = {
        "status": "error",
        "task_uuid": "t-1",
        "videos": [],
        "expected_results": 1,
        "error": {
            "code": "timeoutProvider",
            "message": "provider slow",
            "category": "timeout",
            "parameter": None,
            "task_uuid": "t-1",
        },
    }
    with pytest.raises(RunwareError) as info:
        xcom_value(error_event)
    assert info.value.code == "timeoutProvider" and "t-1" in str(info.value)
    with pytest.raises(RunwareError) as info:
        xcom_value({"status": "timeout", "task_uuid": "t-2", "videos": []})
    assert "t-2" in str(info.value)


def test_partial_results_and_nsfw_policies() -> None:
    videos = [{"video_uuid": "a", "video_url": "u", "seed": 1, "nsfw_content": True, "cost": 0.1}]
    event = {
        "status": "error",
        "task_uuid": "t",
        "videos": videos,
        "expected_results": 2,
        "error": {"code": "inferenceError", "message": "one failed", "category": "provider"},
    }
    with pytest.raises(RunwareError):
        xcom_value(event)
    value = xcom_value(event, allow_partial_results=True)
    assert value["status"] == "partial" and len(value["videos"]) == 1
    with pytest.raises(RunwareError, match="NSFW"):
        xcom_value({**event, "status": "success", "error": None}, fail_on_nsfw=True)


def test_deferral_carries_absolute_end_time_and_backstop(emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    emulator.set_faults()  # defaults
    op = WanVideoOperator(
        task_id="gen",
        positive_prompt="p",
        size="720p_16_9",
        duration=2,
        deferrable=True,
        poll_initial_delay=0.5,
        generation_timeout=120,
    )
    ti = mock.MagicMock(dag_id="d", task_id="gen", run_id="r1", map_index=-1)
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    trigger = info.value.trigger
    _, kwargs = trigger.serialize()
    assert kwargs["end_time"] > pendulum.now("UTC").timestamp() + 100
    assert info.value.timeout is not None and info.value.timeout.total_seconds() > 120
    ti.xcom_push.assert_any_call(key="task_uuid", value=kwargs["task_uuid"])
    # The triggerer polls with exactly the cadence the worker would have used, plateau included
    # (regression: the plateau was serialized but dropped, so deferred tasks polled with the x1.5 backoff).
    intended = op._cadence(op.build_request())
    assert intended.plateau_seconds is not None
    rebuilt = type(trigger)(**kwargs)  # what the triggerer runs, from the serialized kwargs
    assert trigger.cadence == intended and rebuilt.cadence == intended


def test_on_kill_says_remote_task_keeps_running(capfd) -> None:  # type: ignore[no-untyped-def]
    op = WanVideoOperator(task_id="gen", positive_prompt="p", size="720p_16_9")
    op._submitted_uuid = "11111111-2222-4333-8444-555555555555"
    op.on_kill()
    out = "".join(capfd.readouterr())
    assert "keeps running and is billed" in out and op._submitted_uuid in out


# -- operator arguments, a Jinja-rendered request, the final summary ------------------------------


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"generation_timeout": "abc"}, "generation_timeout"),
        ({"generation_timeout": None}, "generation_timeout"),
        ({"generation_timeout": 0}, "generation_timeout"),
        ({"generation_timeout": -5}, "generation_timeout"),
        ({"generation_timeout": float("inf")}, "generation_timeout"),
        ({"generation_timeout": pendulum.duration(days=30)}, "generation_timeout"),  # a timedelta
        ({"poll_interval": "x"}, "poll_interval"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_initial_delay": -1}, "poll_initial_delay"),
        ({"poll_max_interval": float("nan")}, "poll_max_interval"),
        ({"delivery": "bogus"}, "delivery"),
        ({"delivery": "upload_endpoint"}, "delivery"),  # without s3_destination
        ({"s3_input_mode": "bogus"}, "s3_input_mode"),
        ({"s3_destination": "nope"}, "s3_destination"),  # not templated: final at parse time
        ({"s3_destination": "s3:///videos/"}, "s3_destination"),
        ({"s3_destination": 42}, "s3_destination"),
        ({"deferrable": "yes"}, "deferrable"),
        ({"wait_for_completion": None}, "wait_for_completion"),
        ({"fail_on_nsfw": 1}, "fail_on_nsfw"),
    ],
)
def test_bad_operator_argument_refused_when_the_dag_is_parsed(emulator, kwargs, parameter) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequestError) as info:
        WanVideoOperator(task_id="gen", positive_prompt="p", size="720p_16_9", **kwargs)
    assert info.value.parameter == parameter and parameter in str(info.value)
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize(
    ("rendered", "parameter"),
    [
        ({"s3_destination": "nope"}, "s3_destination"),
        ({"s3_destination": "None"}, "s3_destination"),  # a template that rendered nothing
        ({"s3_destination": ""}, "s3_destination"),
        ({"s3_destination": "s3://"}, "s3_destination"),
        ({"s3_destination": None, "delivery": "upload_endpoint"}, "delivery"),
        ({"aws_conn_id": ""}, "aws_conn_id"),
        ({"runware_conn_id": " "}, "runware_conn_id"),
        ({"task_uuid": "not-a-uuid"}, "task_uuid"),
        ({"max_cost_usd": "about a dollar"}, "max_cost_usd"),
        ({"max_cost_usd": "inf"}, "max_cost_usd"),
        ({"max_cost_usd": "-1"}, "max_cost_usd"),
        ({"input_video_seconds": "nan"}, "input_video_seconds"),
    ],
)
def test_bad_rendered_argument_fails_before_any_request(emulator, rendered, parameter) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    from airflow_provider_wan.compat import AirflowFailException
    from tests.dags.operator_flows import FAST

    op = WanVideoOperator(
        task_id="gen",
        positive_prompt="p",
        size="720p_16_9",
        duration=2,
        s3_destination="s3://wan-it/{{ ds }}/",
        **FAST,
    )
    for name, value in rendered.items():  # as Jinja left them just before execute
        setattr(op, name, value)
    ti = mock.MagicMock(dag_id="d", task_id="gen", run_id="r", map_index=-1)
    with pytest.raises(AirflowFailException, match=parameter):
        op.execute({"ti": ti})  # type: ignore[arg-type]
    assert emulator.ledger()["http_requests"] == 0
    ti.xcom_push.assert_not_called()


def test_upload_endpoint_staging_token_is_per_task_instance() -> None:
    from unittest import mock

    op = WanVideoOperator(
        task_id="gen",
        positive_prompt="p",
        size="720p_16_9",
        s3_destination="s3://wan-it/videos/",
        delivery="upload_endpoint",
    )
    fingerprint = op.build_request().fingerprint()

    def context(run_id: str, map_index: int = -1, try_number: int = 1) -> dict[str, object]:
        return {
            "ti": mock.MagicMock(
                dag_id="d", task_id="gen", run_id=run_id, map_index=map_index, try_number=try_number
            )
        }

    def token(fp: str = fingerprint, **kwargs: object) -> str:
        return op.delivery_token(fp, context(**kwargs))  # type: ignore[arg-type]

    first = token(run_id="run-1")
    # A retry of the same task instance finds the file an earlier try had delivered...
    assert token(run_id="run-1", try_number=2) == first
    # ...while another run, another mapped instance or another request never shares it.
    assert token(run_id="run-2") != first
    assert token(run_id="run-1", map_index=0) != first
    assert token("0" * 64, run_id="run-1") != first


def test_request_dict_from_upstream_task_through_jinja(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_request_from_xcom")
    assert dr.state == "success", [(t.task_id, t.state) for t in dr.get_task_instances()]
    value = _xcom(dr)
    assert value["status"] == "success" and set(value) == CONTRACT_KEYS
    ledger = emulator.ledger()
    assert ledger["submissions"] == 1
    record = next(t for t in ledger["tasks"] if t["taskUUID"] == value["task_uuid"])
    assert (record["width"], record["height"], record["duration"]) == (1280, 720, 2)


@pytest.mark.parametrize("dag_id", ["wan_deferrable", "wan_sync"])
def test_final_summary_logs_videos_seconds_cost_and_wait(emulator, capfd, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    import re

    dr = _run(dag_id, duration=3)
    assert dr.state == "success"
    value = _xcom(dr)
    out = "".join(capfd.readouterr())
    lines = [line for line in out.splitlines() if f"Runware task {value['task_uuid']}: 1 video(s)" in line]
    assert lines, out[-2000:]
    line = lines[-1]
    assert "3 s of video" in line and "cost $0.3000 (estimated $0.3000)" in line, line
    assert re.search(r"waited \d+\.\d s since submit", line), line
    assert set(value) == CONTRACT_KEYS  # the summary is a log line: the XCom keys do not change


def test_summary_omits_what_is_unknown() -> None:
    from airflow_provider_wan.finish import summary

    value = {
        "task_uuid": "t-1",
        "cost": 1.0,
        "estimated_cost": 1.0,
        "videos": [{"video_uuid": "a", "video_url": "u1"}, {"video_uuid": "b", "video_url": "u2"}],
    }
    assert summary(value, video_duration=5, waited_seconds=42.04).splitlines()[0] == (
        "Runware task t-1: 2 video(s), 10 s of video, cost $1.0000 (estimated $1.0000), "
        "waited 42.0 s since submit"
    )
    # A sensor never saw the request: no seconds of video, no wait.
    assert summary(value).splitlines()[0] == "Runware task t-1: 2 video(s), cost $1.0000 (estimated $1.0000)"


def test_request_dict_may_hold_local_and_s3_media(emulator) -> None:  # type: ignore[no-untyped-def]
    # The model alone refuses paths for videos/audio; a whole request dict must still carry them to
    # the media resolution step like the keyword arguments do.
    op = WanVideoOperator(
        task_id="x",
        request=str(
            {
                "positive_prompt": "restyle",
                "width": 1280,
                "height": 720,
                "duration": 2,
                "reference_videos": ["/data/clip.mp4"],
                "audio": "s3://bucket/voice.wav",
            }
        ),
    )
    values = op.build_values()
    assert (
        list(values["reference_videos"]) == ["/data/clip.mp4"] and values["audio"] == "s3://bucket/voice.wav"
    )
    assert op.build_request().duration == 2
    assert emulator.ledger()["http_requests"] == 0
