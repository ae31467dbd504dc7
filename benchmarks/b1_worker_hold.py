"""B1: worker-seconds held per video — deferrable ``WanVideoOperator`` vs a hand-written blocking task.

    python -m benchmarks.b1_worker_hold                  # 20 s generations, 2 videos per variant
    python -m benchmarks.b1_worker_hold --full           # 60 s generations, 3 videos per variant
    python -m benchmarks.b1_worker_hold --generation-seconds 45 --videos 4

Both variants run for real with ``dag.test()`` (tasks in-process, triggers inline), each in a fresh
subprocess with its own migrated SQLite metadata DB, side by side (concurrently) against ONE emulator
process whose generations all take the same ``generation_seconds`` (``benchmarks/dags/b1_worker_hold.py``):

* ``deferrable`` — ``WanVideoOperator(deferrable=True)`` with its default cadence; a subclass times
  ``execute()`` up to its ``TaskDeferred`` and ``execute_complete()``;
* ``blocking`` — the baseline: a ``PythonOperator`` that submits with ``RunwareHook`` and polls every 2 s
  until done (what users hand-write today).

Worker-seconds held per video, two ways:

* **operator** — time in the operator's own code: deferrable = ``execute`` + ``execute_complete``;
  blocking = the whole callable. This is the headline (goal: <= 2 s per video, whatever the generation time);
* **task runner** — every ``run_task_in_process`` call for that task instance (the Task SDK runner around
  the operator: context, XCom, state updates), summed: two task starts for the deferrable path, one for
  the blocking one. In a real deployment each task start also pays the executor's process start-up
  (not measured here; it is paid once more by the deferrable path).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    EmulatorProcess,
    airflow_home_env,
    child_result,
    emit,
    goal,
    goals_table,
    ratio,
    start_child,
    summary,
    table,
)

MODULE = "benchmarks.b1_worker_hold"
VARIANTS = ("deferrable", "blocking")
DAG_FOLDER = Path(__file__).resolve().parent / "dags"
QUICK = {"generation_seconds": 20.0, "videos": 2}
FULL = {"generation_seconds": 60.0, "videos": 3}
GOAL_SECONDS = 2.0


def run(
    generation_seconds: float = QUICK["generation_seconds"],
    videos: int = QUICK["videos"],
    blocking_poll_seconds: float = 2.0,
    poll_initial_delay: float | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Both variants concurrently, each in its own ``dag.test()`` process; returns per-variant figures."""
    homes = {v: tempfile.mkdtemp(prefix=f"b1-{v}-") for v in VARIANTS}
    variants: dict[str, dict[str, Any]] = {}
    try:
        with EmulatorProcess(
            processing_seconds=generation_seconds, seconds_per_output_second=0, jitter=0
        ) as emu:
            children = {}
            for variant in VARIANTS:
                env = airflow_home_env(
                    homes[variant],
                    **{
                        CONN_ENV: emu.conn_json(),
                        "WAN_BENCH_TIMINGS": str(Path(homes[variant]) / "timings.jsonl"),
                        "WAN_B1_POLL_SECONDS": str(blocking_poll_seconds),
                        "WAN_B1_POLL_INITIAL_DELAY": ""
                        if poll_initial_delay is None
                        else str(poll_initial_delay),
                        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                            [
                                {
                                    "name": "b1-benchmark",
                                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                                    "kwargs": {"path": str(DAG_FOLDER), "refresh_interval": 0},
                                }
                            ]
                        ),
                    },
                )
                params = {"variant": variant, "videos": videos}
                children[variant] = start_child(MODULE, params, env)
            budget = 600 + videos * (generation_seconds + 90)
            for variant, proc in children.items():
                variants[variant] = child_result(proc, timeout=budget)
    finally:
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    deferrable, blocking = variants["deferrable"], variants["blocking"]
    result: dict[str, Any] = {
        "benchmark": "b1_worker_hold",
        "params": {
            "generation_seconds": generation_seconds,
            "videos_per_variant": videos,
            "blocking_poll_seconds": blocking_poll_seconds,
            "deferrable_poll_initial_delay": poll_initial_delay or "derived by the operator",
        },
        "variants": variants,
        "ratios": {
            "operator_hold_p50_blocking_over_deferrable": ratio(
                blocking["operator_hold_s"]["p50"], deferrable["operator_hold_s"]["p50"], 1
            ),
            "runner_hold_p50_blocking_over_deferrable": ratio(
                blocking["runner_hold_s"]["p50"], deferrable["runner_hold_s"]["p50"], 1
            ),
        },
    }
    result["goals"] = [
        goal(
            f"deferrable worker-seconds per video (operator), max, {generation_seconds:g} s generations",
            deferrable["operator_hold_s"]["max"] if deferrable["operator_hold_s"]["n"] else None,
            GOAL_SECONDS,
            unit="s",
        ),
        goal(
            "deferrable worker-seconds per video (task runner, 2 starts), max",
            deferrable["runner_hold_s"]["max"] if deferrable["runner_hold_s"]["n"] else None,
            GOAL_SECONDS,
            unit="s",
        ),
    ]
    if verbose:
        print(report(result))
    return result


def report(result: dict[str, Any]) -> str:
    rows = []
    for name, v in result["variants"].items():
        rows.append(
            [
                name,
                f"{v['succeeded']}/{v['videos']}",
                v["operator_hold_s"]["p50"],
                v["operator_hold_s"]["max"],
                v["execute_s"]["p50"],
                v["execute_complete_s"]["p50"] if v["execute_complete_s"]["n"] else None,
                v["runner_hold_s"]["p50"],
                v["runner_hold_s"]["max"],
                v["runner_starts_per_video"],
                v["end_to_end_s"]["p50"],
            ]
        )
    p = result["params"]
    text = table(
        f"B1 worker-seconds held per video (dag.test, generation {p['generation_seconds']:g} s, "
        f"{p['videos_per_variant']} videos per variant, run concurrently)",
        [
            "variant",
            "ok",
            "operator p50 s",
            "operator max s",
            "execute p50 s",
            "exec_complete p50 s",
            "runner p50 s",
            "runner max s",
            "starts/video",
            "end-to-end p50 s",
        ],
        rows,
    )
    r = result["ratios"]
    text += (
        "\nblocking / deferrable worker-seconds: "
        f"x{r['operator_hold_p50_blocking_over_deferrable']} (operator), "
        f"x{r['runner_hold_p50_blocking_over_deferrable']} (task runner)\n\n"
    )
    return text + goals_table(result["goals"])


# --------------------------------------------------------------------------------------------------
# Child: one dag.test() process


def _child(params: dict[str, Any]) -> None:
    import logging

    from airflow.utils.db import upgradedb

    logging.disable(logging.INFO)  # dag.test() logs every task line: not what we measure
    upgradedb()
    import airflow.sdk.execution_time.supervisor as supervisor

    from benchmarks.dags.b1_worker_hold import dags

    runs: list[dict[str, Any]] = []
    original = supervisor.run_task_in_process

    def timed(ti: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(ti, task, *args, **kwargs)
        finally:
            runs.append(
                {"task_id": ti.task_id, "map_index": ti.map_index, "seconds": time.perf_counter() - began}
            )

    supervisor.run_task_in_process = timed  # type: ignore[assignment]
    variant, videos = params["variant"], int(params["videos"])
    dag = dags[f"b1_{variant}"]
    began = time.perf_counter()
    dag_run = dag.test(run_conf={"n": videos, "nonce": uuid.uuid4().hex[:8]})
    wall = time.perf_counter() - began

    timings = []
    path = os.environ.get("WAN_BENCH_TIMINGS")
    if path and os.path.exists(path):
        with open(path) as lines:
            timings = [json.loads(line) for line in lines if line.strip()]
    phases: dict[int, dict[str, float]] = defaultdict(dict)
    started: dict[int, float] = {}
    for t in timings:
        phases[t["map_index"]][t["phase"]] = phases[t["map_index"]].get(t["phase"], 0.0) + t["seconds"]
        started.setdefault(t["map_index"], t["started"])
        if t["phase"] == "execute_complete" or variant == "blocking":
            phases[t["map_index"]]["ended"] = t["started"] + t["seconds"]
    runner: dict[int, list[float]] = defaultdict(list)
    for r in runs:
        if r["task_id"] == "video":
            runner[r["map_index"]].append(r["seconds"])
    states = {ti.map_index: ti.state for ti in dag_run.get_task_instances() if ti.task_id == "video"}
    indexes = sorted(phases)
    emit(
        {
            "variant": variant,
            "videos": videos,
            "dag_run_state": str(dag_run.state),
            "succeeded": sum(1 for s in states.values() if str(s) == "success"),
            "wall_seconds": round(wall, 1),
            "operator_hold_s": summary(
                [phases[i].get("execute", 0.0) + phases[i].get("execute_complete", 0.0) for i in indexes]
            ),
            "execute_s": summary([phases[i].get("execute", 0.0) for i in indexes]),
            "execute_complete_s": summary(
                [phases[i]["execute_complete"] for i in indexes if "execute_complete" in phases[i]]
            ),
            "runner_hold_s": summary([sum(runner[i]) for i in sorted(runner)]),
            "runner_starts_per_video": round(sum(len(v) for v in runner.values()) / max(1, len(runner)), 2),
            "end_to_end_s": summary(
                [phases[i]["ended"] - started[i] for i in indexes if "ended" in phases[i]]
            ),
            "warmup_runner_s": round(sum(r["seconds"] for r in runs if r["task_id"] != "video"), 2),
        }
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="60 s generations, 3 videos per variant")
    parser.add_argument("--generation-seconds", type=float, help="emulator generation time")
    parser.add_argument("--videos", type=int, help="videos per variant")
    parser.add_argument("--blocking-poll-seconds", type=float, default=2.0)
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return None
    preset = FULL if args.full else QUICK
    result = run(
        generation_seconds=args.generation_seconds or preset["generation_seconds"],
        videos=args.videos or int(preset["videos"]),
        blocking_poll_seconds=args.blocking_poll_seconds,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
