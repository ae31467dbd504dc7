"""``@task.wan_video`` and prompt/request template files, in real Airflow (``dag.test()``) on the emulator.

What Runware received is read back from the emulator (it keeps every accepted request), so these tests
check the wire, not the operator's attributes.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pendulum
import pytest
from airflow.sdk import DAG, task
from airflow.sdk.definitions.template import literal  # airflow.sdk exports it only from 3.2

from airflow_provider_wan.compat import TaskDeferred
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.operators.video import WanVideoOperator
from tests.conftest import API_KEY, CONTRACT_KEYS, load_dag
from tests.test_operator import _ti, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")
WHEN = pendulum.datetime(2026, 5, 4, 6, tz="UTC")
DS = "2026-05-04"


def _run(dag_id: str, when: pendulum.DateTime = WHEN, **conf: object) -> Any:
    dag = load_dag("tests.dags.authoring_flows", dag_id)
    return dag.test(logical_date=when, run_after=when, run_conf=dict(conf))


def _sent(emulator: Any, task_uuid: str) -> dict[str, Any]:
    """The videoInference task exactly as the emulator accepted it."""
    job = emulator.state.jobs.get(task_uuid)
    assert job is not None, f"the emulator never saw {task_uuid}"
    request: dict[str, Any] = job.request
    return request


def _states(dag_run: Any) -> dict[str, str]:
    return {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in dag_run.get_task_instances()}


# -- @task.wan_video ---------------------------------------------------------------------------------


def test_decorator_is_registered_through_the_provider_info() -> None:
    import airflow_provider_wan
    from airflow_provider_wan.decorators.wan_video import wan_video_task

    entries = airflow_provider_wan.get_provider_info()["task-decorators"]
    assert entries == [
        {"name": "wan_video", "class-name": "airflow_provider_wan.decorators.wan_video.wan_video_task"}
    ]
    assert task.wan_video is wan_video_task  # what Airflow's ProvidersManager found


def test_decorated_prompt_and_request_return_the_operator_contract(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_decorated")
    assert dr.state == "success", _states(dr)
    prompt = _xcom(dr, "prompt_clip")
    request = _xcom(dr, "request_clip")
    for value in (prompt, request):
        assert set(value) == CONTRACT_KEYS and value["status"] == "success"
        assert value["model"] == "alibaba:wan@2.7" and value["cost"] == pytest.approx(0.2)
    assert _xcom(dr, "prompt_clip", key="task_uuid") == prompt["task_uuid"]
    assert _xcom(dr, "check_contract")["task_uuid"] == prompt["task_uuid"]
    sent = _sent(emulator, prompt["task_uuid"])
    # The function got its argument and the context key it asked for; the size came from the decorator.
    assert sent["positivePrompt"] == f"a red fox on {DS}, golden hour"
    assert (sent["width"], sent["height"], sent["duration"]) == (1280, 720, 2)
    wire = _sent(emulator, request["task_uuid"])
    assert wire["positivePrompt"] == "a kite over dunes" and (wire["width"], wire["height"]) == (720, 1280)
    assert wire["negativePrompt"] == "blurry"  # a decorator argument joins the returned request
    assert emulator.ledger()["submissions"] == 2
    assert API_KEY not in str(prompt)
    from airflow_provider_wan.plugins.spend_app import load_records

    # The spend view counts decorated tasks too (their task_type is the decorator's name).
    records = {r.value["task_uuid"] for r in load_records({"wan_decorated"}, days=1) if r.value}
    assert {prompt["task_uuid"], request["task_uuid"]} <= records


def test_decorated_mapping_expands_over_the_function_arguments(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_decorated_mapped")
    assert dr.state == "success", _states(dr)
    values = [_xcom(dr, "scene", map_index=i) for i in range(3)]
    assert all(set(v) == CONTRACT_KEYS for v in values)
    assert len({v["task_uuid"] for v in values}) == 3
    prompts = [_sent(emulator, v["task_uuid"])["positivePrompt"] for v in values]
    assert prompts == [f"{s} at dusk, slow pan" for s in ("a lighthouse", "a windmill", "a tram")]
    assert [v["videos"][0]["seed"] for v in values] == [len("a lighthouse"), len("a windmill"), len("a tram")]
    # The function's "-> dict" annotation does not unroll the contract into separate XComs.
    assert _xcom(dr, "scene", key="videos", map_index=0) is None
    # A rerun of the same run re-attaches every mapped video: nothing is paid twice.
    again = _run("wan_decorated_mapped")
    assert again.state == "success"
    assert [_xcom(again, "scene", map_index=i)["task_uuid"] for i in range(3)] == [
        v["task_uuid"] for v in values
    ]
    assert emulator.ledger()["submissions"] == 3


def test_decorated_bad_return_fails_at_once_before_any_request(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_decorated_bad_return")
    assert dr.state == "failed"
    ti = _ti(dr, "nothing")
    assert ti.state == "failed" and ti.try_number == 1  # deterministic: the two retries are not used
    assert emulator.ledger()["http_requests"] == 0


@pytest.mark.parametrize("returned", [None, "  ", {}, ["a prompt"], 42])
def test_decorated_return_value_is_checked(returned: object) -> None:
    from airflow_provider_wan.compat import AirflowFailException

    with DAG("check_returns", schedule=None, start_date=WHEN):

        @task.wan_video(size="720p_1_1")
        def make() -> Any:
            return returned

        op = make().operator
    with pytest.raises(AirflowFailException, match=r"make\(\) return value"):
        op.execute({"ti": mock.MagicMock(map_index=-1)})


@pytest.mark.parametrize("argument", ["positive_prompt", "request"])
def test_decorator_refuses_what_the_function_returns(argument: str) -> None:
    with DAG("check_arguments", schedule=None, start_date=WHEN):

        @task.wan_video(**{argument: "a fox"})
        def make() -> str:
            return "a fox"

        with pytest.raises(InvalidRequestError) as info:
            make()
    assert info.value.parameter == argument


def test_decorated_deferral_resumes_on_a_fresh_instance(emulator) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    calls: list[str] = []

    def build() -> Any:
        with DAG("decorated_defer", schedule=None, start_date=WHEN):

            @task.wan_video(size="720p_16_9", duration=2, deferrable=True)
            def clip(subject: str) -> str:
                calls.append(subject)
                return f"{subject} in the rain"

            return clip("a tram").operator

    emulator.set_faults(processing_seconds=30)  # still running at the first check: the task defers
    ti = mock.MagicMock(dag_id="decorated_defer", task_id="clip", run_id="r1", map_index=-1)
    with pytest.raises(TaskDeferred) as info:
        build().execute({"ti": ti})
    assert info.value.method_name == "execute_complete" and calls == ["a tram"]
    _, kwargs = info.value.trigger.serialize()
    emulator.advance_clock(120)

    async def first_event() -> dict[str, Any]:
        events = RunwareVideoTrigger(**kwargs).run()  # what the triggerer runs
        event = await asyncio.wait_for(events.__anext__(), timeout=30)
        await events.aclose()
        return dict(event.payload)

    event = asyncio.run(first_event())
    fresh = build()  # the worker resumes on a new instance: the function does not run again
    value = fresh.execute_complete({"ti": mock.MagicMock(map_index=-1)}, event)
    assert calls == ["a tram"]
    assert set(value) == CONTRACT_KEYS and value["task_uuid"] == kwargs["task_uuid"]
    assert _sent(emulator, value["task_uuid"])["positivePrompt"] == "a tram in the rain"
    assert emulator.ledger()["submissions"] == 1


# -- prompt and request files ------------------------------------------------------------------------


def test_prompt_and_request_files_are_rendered_into_the_request(emulator) -> None:  # type: ignore[no-untyped-def]
    dr = _run("wan_prompt_files", subject="a snow hare", negative="smudges, see style.md")
    assert dr.state == "success", _states(dr)
    files = _sent(emulator, _xcom(dr, "from_files")["task_uuid"])
    # Jinja with the run's context and conf, an {% include %} resolved through the search path too.
    assert files["positivePrompt"] == (
        f"a snow hare crossing a frozen lake at dawn on {DS}, shot on 35mm film, slow dolly-in"
    )
    assert files["negativePrompt"] == "blurry, watermark, text overlay (from_files)"
    request = _sent(emulator, _xcom(dr, "from_request_file")["task_uuid"])
    assert request["positivePrompt"] == f"a paper boat drifting down a rain gutter on {DS}"
    assert request["seed"] == int(DS.replace("-", "")) and (request["width"], request["height"]) == (
        1280,
        720,
    )
    literal = _sent(emulator, _xcom(dr, "literal")["task_uuid"])
    assert literal["positivePrompt"] == "a neon sign that reads config.json"  # not a file: no .json here
    assert literal["negativePrompt"] == "smudges, see style.md"  # rendered text is never a file name
    mapped = [_sent(emulator, _xcom(dr, "mapped_files", map_index=i)["task_uuid"]) for i in range(2)]
    assert (
        mapped[0]["positivePrompt"]
        == f"# Lighthouse\n\nA lighthouse beam sweeping over a stormy sea, run {dr.run_id}"
    )
    assert mapped[1]["positivePrompt"] == "shot on 35mm film, slow dolly-in"


def _context(op: Any) -> dict[str, Any]:
    return {"ds": DS, "dag_run": SimpleNamespace(conf={}), "task": op, "run_id": "r1"}


def test_only_prompt_and_request_fields_read_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "spec.json").write_text('{"positive_prompt": "from a file"}')
    (tmp_path / "note.txt").write_text("a file prompt on {{ ds }}")
    with DAG("files", schedule=None, start_date=WHEN, template_searchpath=[str(tmp_path)]):
        op = WanVideoOperator(
            task_id="gen",
            positive_prompt="note.txt",
            negative_prompt="spec.json",  # .json is the request's extension, not the prompts'
            reference_images=["s3://bucket/note.txt", "spec.json"],
            webhook_url="https://hooks.test/spec.json",
            s3_destination="s3://bucket/out/spec.json",
            idempotency_key="note.txt",
        )
    op.render_template_fields(_context(op))
    assert op.positive_prompt == f"a file prompt on {DS}"
    assert op.negative_prompt == "spec.json"
    assert op.reference_images == ["s3://bucket/note.txt", "spec.json"]
    assert op.webhook_url == "https://hooks.test/spec.json"
    assert op.s3_destination == "s3://bucket/out/spec.json" and op.idempotency_key == "note.txt"
    assert op.template_ext == (".txt", ".j2", ".md", ".json")  # the class attribute shows again
    with DAG("files2", schedule=None, start_date=WHEN, template_searchpath=[str(tmp_path)]):
        whole = WanVideoOperator(
            task_id="gen",
            request="spec.json",
            positive_prompt="kept as text.md.",
            negative_prompt=literal("x.txt"),
        )
    whole.render_template_fields(_context(whole))
    assert whole.request == '{"positive_prompt": "from a file"}'
    assert whole.positive_prompt == "kept as text.md."
    assert whole.negative_prompt == "x.txt"  # Airflow's literal(): text that ends like a file name


def test_parse_time_resolution_reads_only_file_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.md").write_text("# A prompt from markdown")
    with DAG("resolve", schedule=None, start_date=WHEN, template_searchpath=[str(tmp_path)]) as dag:
        op = WanVideoOperator(
            task_id="gen", positive_prompt="p.md", webhook_url="https://hooks.test/p.md", request=None
        )
    dag.resolve_template_files()  # what Airflow's DagBag does when it loads the file
    assert op.positive_prompt == "# A prompt from markdown"
    assert op.webhook_url == "https://hooks.test/p.md"
    # A file whose text ends like a file name: rendering takes the text, not another file.
    (tmp_path / "q.txt").write_text("{{ ds }}: see style.txt")
    with DAG("resolve2", schedule=None, start_date=WHEN, template_searchpath=[str(tmp_path)]) as dag:
        text = WanVideoOperator(task_id="gen", positive_prompt="q.txt")
    dag.resolve_template_files()
    text.render_template_fields(_context(text))
    assert text.positive_prompt == f"{DS}: see style.txt"


def test_missing_prompt_file_names_the_parameter_before_any_request(emulator) -> None:  # type: ignore[no-untyped-def]
    op = load_dag("tests.dags.authoring_flows", "wan_missing_prompt_file").get_task("gen")
    with pytest.raises(InvalidRequestError) as info:
        op.render_template_fields(_context(op))
    assert info.value.parameter == "positive_prompt"
    assert "prompts/nowhere.j2" in str(info.value) and "template_searchpath" in str(info.value)
    dr = _run("wan_missing_prompt_file")
    assert dr.state == "failed" and emulator.ledger()["http_requests"] == 0
