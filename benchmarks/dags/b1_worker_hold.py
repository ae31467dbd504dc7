"""DAGs of benchmark B1 (worker-seconds held per video), run with ``dag.test()`` by
``benchmarks.b1_worker_hold``.

* ``b1_deferrable`` — ``WanVideoOperator(deferrable=True)``, instrumented to time ``execute()`` (up to its
  ``TaskDeferred``) and ``execute_complete()``: the only time it holds a worker slot.
* ``b1_blocking`` — the baseline users hand-write today: a ``PythonOperator`` that submits with the
  ``RunwareHook`` and polls every ``WAN_B1_POLL_SECONDS`` (default 2) until the video is done.

Both map over ``dag_run.conf["n"]`` prompts. Timings are appended as JSON lines to ``$WAN_BENCH_TIMINGS``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_wan.operators.video import WanVideoOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
# The operator's own cadence unless told otherwise (the smoke test shortens it).
_INITIAL = os.environ.get("WAN_B1_POLL_INITIAL_DELAY")
CADENCE: dict[str, Any] = {"poll_initial_delay": float(_INITIAL)} if _INITIAL else {}
SIZE = {"width": 1280, "height": 720}
DURATION = 5


def _record(**fields: Any) -> None:
    path = os.environ.get("WAN_BENCH_TIMINGS")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(fields) + "\n")


def _map_index(context: Any) -> int:
    index = getattr(context["ti"], "map_index", -1)
    return -1 if index is None else int(index)


class TimedWanVideoOperator(WanVideoOperator):
    """``WanVideoOperator`` that records how long each of its worker-side phases runs."""

    def execute(self, context: Any) -> Any:
        began, wall = time.perf_counter(), time.time()
        outcome = "returned"
        try:
            return super().execute(context)
        except TaskDeferred:
            outcome = "deferred"
            raise
        except BaseException:
            outcome = "failed"
            raise
        finally:
            _record(
                variant="deferrable",
                phase="execute",
                map_index=_map_index(context),
                seconds=time.perf_counter() - began,
                started=wall,
                outcome=outcome,
            )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        began, wall = time.perf_counter(), time.time()
        outcome = "returned"
        try:
            return super().execute_complete(context, event)
        except BaseException:
            outcome = "failed"
            raise
        finally:
            _record(
                variant="deferrable",
                phase="execute_complete",
                map_index=_map_index(context),
                seconds=time.perf_counter() - began,
                started=wall,
                outcome=outcome,
            )


def hand_written_blocking(prompt: str, **context: Any) -> dict[str, Any]:
    """What users write without a provider: submit, then sleep-and-poll inside the worker."""
    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.models import WanVideoRequest

    began, wall = time.perf_counter(), time.time()
    poll_seconds = float(os.environ.get("WAN_B1_POLL_SECONDS", "2"))
    outcome = "failed"
    try:
        hook = RunwareHook("runware_default")
        task_uuid = str(uuid.uuid4())
        hook.submit_video(WanVideoRequest(positive_prompt=prompt, duration=DURATION, **SIZE), task_uuid)
        while True:
            time.sleep(poll_seconds)
            state = hook.get_responses([task_uuid]).get(task_uuid)
            status = state.status(1) if state is not None else "running"
            if status == "success":
                outcome = "returned"
                assert state is not None
                return {"task_uuid": task_uuid, "video_url": state.results[0].video_url}
            if status == "error":
                raise RuntimeError(f"generation {task_uuid} failed")
    finally:
        _record(
            variant="blocking",
            phase="execute",
            map_index=_map_index(context),
            seconds=time.perf_counter() - began,
            started=wall,
            outcome=outcome,
        )


@task
def prompts(**context: Any) -> list[str]:
    """Also the warm-up task: the first task run of a process pays the in-process API start-up."""
    conf = context["dag_run"].conf or {}
    nonce = conf.get("nonce", "")
    return [f"b1 {nonce} video {i}: a lighthouse at dusk" for i in range(int(conf.get("n", 2)))]


@task
def as_kwargs(items: list[str]) -> list[dict[str, str]]:
    return [{"prompt": p} for p in items]


with DAG(
    "b1_deferrable", schedule=None, start_date=START, catchup=False, tags=["benchmark"]
) as deferrable_dag:
    TimedWanVideoOperator.partial(
        task_id="video", size="720p_16_9", duration=DURATION, deferrable=True, **CADENCE
    ).expand(positive_prompt=prompts())

with DAG("b1_blocking", schedule=None, start_date=START, catchup=False, tags=["benchmark"]) as blocking_dag:
    PythonOperator.partial(task_id="video", python_callable=hand_written_blocking).expand(
        op_kwargs=as_kwargs(prompts())
    )

dags = {"b1_deferrable": deferrable_dag, "b1_blocking": blocking_dag}
