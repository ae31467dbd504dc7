"""Fault-injection soak: hundreds of Wan2.7 generations through the real operator and trigger, under faults.

    python -m benchmarks.soak                           # 300 generations, 4 DAG runs, fuzz (~5 min)
    python -m benchmarks.soak --generations 600 --runs 6 --deadline 1500
    python -m benchmarks.soak --fuzz-examples 0         # the soak only, without the 5,000-example fuzz
    make soak SOAK_ARGS="--seed 11"

A real Airflow deployment (``tests.e2e_support.AirflowStack``: api-server, scheduler with the LocalExecutor,
dag-processor, triggerer, each its own process group, SQLite, loopback only) runs ``wan_soak``
(``benchmarks/soak_dags/wan_soak.py``): several DAG runs, each mapping dozens of deferrable
``WanVideoOperator`` instances (retries 3, 2 s retry delay) that land their videos in S3 (moto). The Runware
emulator runs as a separate process with, on ``POST /v1``:

* ~20 % of requests faulted: 429 (with ``Retry-After``), 500, 503, dropped connections, slow answers;
* 5 % of generations failing with ``timeoutProvider`` (a retry pays a new generation, by design);
* 5 % of accepted submissions with their acknowledgment lost (500 or a dropped connection after the task
  was created and charged).

Meanwhile the soak restarts the triggerer twice while tasks are deferred (first SIGKILL of its process
group: a crash, its trigger rows are taken over once its heartbeat is stale; then SIGTERM: a clean
shutdown), and the DAG SIGKILLs its own worker process right after the submit on the first try of 5 % of
the map indexes (the retry must re-attach).

PASS when: every task instance ends success/failed before the deadline; the ledger has no taskUUID charged
twice; per ``(run, map_index)`` the submissions are generations 0..k of the deterministic task UUID and all
but the last failed (none resubmitted while running or after success), and every submission is accounted
for; the charges of all generations of one task instance stay within its ``max_cost_usd`` (three
generations' price), and any generation the budget refused would have passed it; every successful video
is in S3 with the size and SHA-256 of the XCom, equal to the emulator's bytes; every failed generation
(and every failed task) is named with its Runware code and task UUID in a task log; both triggerer
restarts and every planned worker kill happened, and the killed tries re-attached.
Then the agreement and operator fuzz run at ``--fuzz-examples`` (default 5,000) examples each.

Prints a figures table and PASS/FAIL, writes ``benchmarks/results/soak.json``, exits 1 on FAIL.
``tests/test_soak.py`` runs a small variant of :func:`run_soak` in ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from benchmarks.soak_stack import (
    DAG_ID,
    TASK_ID,
    Restart,
    SoakStack,
    attempt_logs,
    heartbeat_timeouts,
    last_trigger_line,
    scheduler_state_mismatches,
    takeover,
)

ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = Path(__file__).resolve().parent / "soak_dags"
RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
TERMINAL = frozenset({"success", "failed"})
UNFINISHED_RUN = frozenset({"queued", "running"})
NOT_STARTED = frozenset({None, "none", "scheduled", "queued"})
SOAK_API_KEY = "soak-key-0123456789abcdef"

# ~20 % of POST /v1 requests faulted (independent draws in the emulator's order: drop, slow, 429, 500, 503).
REQUEST_FAULTS: dict[str, float] = {
    "p_drop": 0.04,
    "p_slow": 0.04,
    "p_429": 0.05,
    "p_500": 0.045,
    "p_503": 0.045,
}


@dataclasses.dataclass
class SoakConfig:
    generations: int = 300
    runs: int = 4
    seed: int = 7
    deadline: float = 720.0  # seconds from the first trigger until every task instance must be finished
    triggerer_restarts: int = 2
    kill_fraction: float = 0.05
    worker_kills: int = 0  # first tries that SIGKILL their whole Celery worker right after the submit
    parallelism: int = 12
    retries: int = 3
    retry_delay: float = 2.0
    # emulator
    request_faults: dict[str, float] = dataclasses.field(default_factory=lambda: dict(REQUEST_FAULTS))
    slow_seconds: float = 1.0
    retry_after: float = 1.0
    p_generation_fail: float = 0.05
    p_ack_lost: float = 0.05
    processing_seconds: float = 20.0
    seconds_per_output_second: float = 2.0
    jitter: float = 0.5
    media_scale: float = 0.1
    # soak driver
    min_deferred_at_restart: int = 20
    restart_gap: float = 20.0
    triggerer_health_check_threshold: int = 15
    fuzz_examples: int = 5000

    @classmethod
    def small(cls) -> SoakConfig:
        """The ``make test`` variant: ~36 generations, one triggerer crash, two killed workers."""
        return cls(
            generations=36,
            runs=2,
            deadline=150.0,
            triggerer_restarts=1,
            kill_fraction=1 / 18,
            parallelism=8,
            # Generations of >= ~10 s: a trigger firing within a few seconds of its deferral makes the
            # scheduler's stale-event race (see scheduler_state_mismatches) likelier; that race is Airflow's.
            processing_seconds=12.0,
            seconds_per_output_second=1.0,
            jitter=0.3,
            min_deferred_at_restart=4,
            restart_gap=10.0,
            triggerer_health_check_threshold=8,
            fuzz_examples=0,
        )

    def per_run(self) -> list[int]:
        base, extra = divmod(self.generations, self.runs)
        return [base + (1 if i < extra else 0) for i in range(self.runs)]

    def knobs(self) -> dict[str, Any]:
        return {
            **self.request_faults,
            "slow_seconds": self.slow_seconds,
            "retry_after": self.retry_after,
            "p_generation_fail": self.p_generation_fail,
            "p_ack_lost": self.p_ack_lost,
            "ack_lost_mode": "random",
            "failure_shape": "errors",
            "processing_seconds": self.processing_seconds,
            "seconds_per_output_second": self.seconds_per_output_second,
            "jitter": self.jitter,
            "media_scale": self.media_scale,
        }


class Emulator(Protocol):
    """What the soak needs of an emulator: ``RunningEmulator`` (tests) or ``EmulatorProcess`` (CLI)."""

    @property
    def base_url(self) -> str: ...

    root_url: str
    api_key: str

    def set_faults(self, **knobs: Any) -> dict[str, Any]: ...

    def ledger(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------------
# The soak


def connections(emulator: Emulator, s3_endpoint: str) -> dict[str, str]:
    runware = {
        "conn_type": "runware",
        "host": emulator.base_url,
        "password": emulator.api_key,
        # Short backoff: the soak's faults are frequent and the emulator recovers at once.
        "extra": {
            "timeout": 15,
            "connect_timeout": 5,
            "max_retries": 8,
            "backoff_base": 0.2,
            "backoff_max": 2.0,
            "retry_max_seconds": 60,
            # The emulator serves its videos over plain http on 127.0.0.1: allowed explicitly.
            "download_allow_http": True,
            "download_allowed_networks": "127.0.0.1/32",
        },
    }
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    return {"AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(runware), "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws)}


def _s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run_soak(
    cfg: SoakConfig,
    *,
    emulator: Emulator,
    s3_endpoint: str,
    workdir: Path,
    say: Callable[[str], None] = print,
    stack_factory: Callable[..., SoakStack] = SoakStack,
) -> dict[str, Any]:
    """Run the soak against ``emulator`` and the S3 endpoint; returns figures, checks and ``passed``.

    ``stack_factory`` builds the Airflow deployment (``SoakStack``: SQLite + LocalExecutor, one triggerer;
    ``benchmarks.soak_distributed.DistributedStack``: Postgres + Redis + Celery, two triggerers)."""
    began = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    nonce = hashlib.sha256(f"wan-soak-{cfg.seed}".encode()).hexdigest()[:10]
    bucket = f"wan-soak-{nonce}"
    events_path = workdir / "soak-events.jsonl"
    s3 = _s3_client(s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    emulator.set_faults(**cfg.knobs())

    stack = stack_factory(
        home=workdir / "airflow-home",
        dags_folder=DAGS_FOLDER,
        extra_env={
            **connections(emulator, s3_endpoint),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "WAN_SOAK_BUCKET": bucket,
            "WAN_SOAK_EVENTS": str(events_path),
            "WAN_SOAK_RETRIES": str(cfg.retries),
            "WAN_SOAK_RETRY_DELAY": str(cfg.retry_delay),
            "WAN_SOAK_GENERATION_TIMEOUT": str(max(300.0, cfg.deadline)),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
            "AIRFLOW__CORE__PARALLELISM": str(cfg.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "512",
            "AIRFLOW__CORE__MAX_MAP_LENGTH": "4096",
            "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
            "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(cfg.triggerer_health_check_threshold),
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        },
    )
    figures: dict[str, Any] = {}
    timeline: dict[str, float] = {}
    restarts: list[Restart] = []
    runs: dict[str, int] = {}
    try:
        stack.migrate()
        stack.start()
        stack.wait_healthy(timeout=120)
        stack.wait_for_dag(DAG_ID, timeout=120)
        stack.unpause(DAG_ID)
        timeline["stack_ready_s"] = time.monotonic() - began
        say(
            f"[soak] Airflow up in {timeline['stack_ready_s']:.0f}s; "
            f"triggering {cfg.runs} runs of {cfg.per_run()} generations"
        )
        first = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        for i, n in enumerate(cfg.per_run()):
            run_id = stack.trigger(
                DAG_ID,
                (first + dt.timedelta(hours=i)).isoformat(),
                conf={
                    "n": n,
                    "nonce": f"{nonce}-{i}",
                    "kill_fraction": cfg.kill_fraction,
                    "worker_kills": cfg.worker_kills if i == 0 else 0,
                },
            )
            runs[run_id] = n
        started = time.monotonic()
        final_tis, final_runs = _drive(stack, emulator, cfg, runs, restarts, started, say)
        timeline["runs_s"] = time.monotonic() - started
        ledger = emulator.ledger()  # before the verification downloads add to it
        with stack.client() as api:
            xcoms = {
                (ti["dag_run_id"], ti["map_index"]): stack.mapped_xcom(api, ti["dag_run_id"], ti["map_index"])
                for ti in final_tis
                if ti["task_id"] == TASK_ID and ti["state"] == "success"
            }
            job_ids = stack.triggerer_job_ids(api)
            lost = heartbeat_timeouts(stack, api)
        checks, figures = verify(
            cfg=cfg,
            stack=stack,
            runs=runs,
            final_tis=final_tis,
            final_runs=final_runs,
            xcoms=xcoms,
            ledger=ledger,
            restarts=restarts,
            events=_read_events(events_path),
            s3=s3,
            bucket=bucket,
            job_ids=job_ids,
            lost=lost,
        )
    except Exception as exc:
        checks = [{"check": "soak ran to completion", "ok": False, "detail": f"{type(exc).__name__}: {exc}"}]
        with contextlib.suppress(Exception):
            checks[0]["detail"] += "\n" + stack.logs()
    finally:
        stack.stop()
        for component in stack.retired:
            with contextlib.suppress(Exception):
                component.log_file.close()
    leftovers = stack.leftovers()
    _check(
        checks,
        "no process of the deployment left once it stopped",
        not leftovers,
        {"left": leftovers[:10], "ended_after_stop": stack.swept[:10]},
    )
    figures["processes_ended_after_stop"] = len(stack.swept)
    timeline["total_s"] = time.monotonic() - began
    figures["wall_time_s"] = round(timeline["total_s"], 1)
    figures["runs_wall_time_s"] = round(timeline.get("runs_s", 0.0), 1)
    figures["stack_start_s"] = round(timeline.get("stack_ready_s", 0.0), 1)
    return {
        "benchmark": "soak",
        "config": dataclasses.asdict(cfg),
        "figures": figures,
        "restarts": [dataclasses.asdict(r) | {"deferred": len(r.deferred)} for r in restarts],
        "checks": checks,
        "passed": all(c["ok"] for c in checks),
    }


def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _drive(
    stack: SoakStack,
    emulator: Emulator,
    cfg: SoakConfig,
    runs: Mapping[str, int],
    restarts: list[Restart],
    started: float,
    say: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Poll until every run is finished (or the deadline), restarting the triggerer on the way."""
    total = sum(runs.values())
    plan = stack.triggerer_plan(cfg.triggerer_restarts)
    last_print = last_restart = 0.0
    waiting_since: float | None = None
    pending_takeover: Restart | None = None
    with stack.client() as api:
        while True:
            now = time.monotonic() - started
            stack.check_alive()
            tis = stack.task_instances(api, DAG_ID)
            run_states = stack.run_states(api, DAG_ID)
            videos = [ti for ti in tis if ti["task_id"] == TASK_ID and ti["map_index"] >= 0]
            states = Counter(ti["state"] for ti in videos)
            done = sum(states[s] for s in TERMINAL)
            if pending_takeover is not None and pending_takeover.new_job_id is None:
                new = sorted(set(stack.triggerer_job_ids(api)) - set(pending_takeover.known_job_ids))
                if new:
                    pending_takeover.new_job_id = new[0]
                    stack.job_of[pending_takeover.component] = new[0]
            if pending_takeover is not None and takeover(stack, pending_takeover).latencies:
                pending_takeover = None  # the new triggerer runs the old one's triggers: the next may go
            if now - last_print >= 10:
                last_print = now
                summary = " ".join(f"{s}={c}" for s, c in sorted(states.items(), key=lambda x: str(x[0])))
                say(f"[soak] t={now:5.0f}s videos {done}/{total} done ({summary}) restarts={len(restarts)}")
            if (
                all(run_states.get(run) not in UNFINISHED_RUN for run in runs)
                and len(videos) >= total
                and all(ti["state"] in TERMINAL for ti in tis)
            ):
                return tis, run_states
            if now > cfg.deadline:
                return tis, run_states
            # Triggerer event k once k/(events+1) of the tasks have started, while tasks are deferred, after
            # the previous event's triggers were taken over.
            deferred = [ti for ti in videos if ti["state"] == "deferred"]
            begun = sum(1 for ti in videos if ti["state"] not in NOT_STARTED)
            due = (len(restarts) + 1) / (len(plan) + 1)
            if (
                len(restarts) < len(plan)
                and begun / total >= due
                and now - last_restart >= cfg.restart_gap
                and pending_takeover is None
                and deferred
            ):
                waiting_since = waiting_since if waiting_since is not None else now
                keys = [(ti["dag_run_id"], ti["map_index"], ti["try_number"]) for ti in deferred]
                event = stack.resolve(plan[len(restarts)], keys)
                if event is not None and (
                    len(deferred) >= cfg.min_deferred_at_restart or now - waiting_since > 20
                ):
                    known = stack.triggerer_job_ids(api)
                    survivors = [
                        job
                        for name, job in stack.job_of.items()
                        if name != event.component and name in stack.components
                    ]
                    restart = Restart(
                        number=len(restarts) + 1,
                        signal=event.signal.name,
                        at_seconds=round(now, 1),
                        killed_at=time.time(),
                        begun_fraction=round(begun / total, 3),
                        deferred=keys,
                        old_job_ids=stack.job_ids_of(api, event.component),
                        component=event.component,
                        restarted=event.restart,
                        known_job_ids=known,
                        new_job_id=None if event.restart else next(iter(survivors), None),
                    )
                    action = "restart" if event.restart else "kill (no restart: failover)"
                    say(
                        f"[soak] t={now:5.0f}s #{restart.number}: {action} of {event.component} "
                        f"({event.signal.name}) with {len(deferred)} deferred task(s)"
                    )
                    stack.kill_component(event.component, event.signal, restart=event.restart)
                    restarts.append(restart)
                    pending_takeover = restart
                    last_restart = now
                    waiting_since = None
                    # Failed generations are reported in both documented shapes over one soak.
                    emulator.set_faults(failure_shape="nested" if len(restarts) % 2 else "errors")
            time.sleep(2.0)


# --------------------------------------------------------------------------------------------------
# Verification


def _expected_uuids(run_id: str, map_index: int, nonce: str, generations: int) -> tuple[list[str], float]:
    """The task UUIDs of generations 0..n-1 of one map index, as the operator derives them, and its price."""
    from airflow_provider_wan.idempotency import task_uuid_for
    from airflow_provider_wan.operators.video import WanVideoOperator
    from airflow_provider_wan.pricing import estimate
    from benchmarks.soak_dags.wan_soak import spec_for

    operator = WanVideoOperator(task_id=f"probe_{map_index}", **spec_for(nonce, map_index))
    request = operator.build_request()
    fingerprint = request.fingerprint()
    uuids = [
        task_uuid_for(
            dag_id=DAG_ID,
            task_id=TASK_ID,
            run_id=run_id,
            map_index=map_index,
            fingerprint=fingerprint,
            generation=g,
        )
        for g in range(generations)
    ]
    return uuids, estimate(request).total_usd


def _check(checks: list[dict[str, Any]], name: str, ok: bool, detail: Any = "") -> None:
    checks.append({"check": name, "ok": bool(ok), "detail": detail})


def verify(
    *,
    cfg: SoakConfig,
    stack: SoakStack,
    runs: Mapping[str, int],
    final_tis: list[dict[str, Any]],
    final_runs: Mapping[str, str],
    xcoms: Mapping[tuple[str, int], Any],
    ledger: Mapping[str, Any],
    restarts: Sequence[Restart],
    events: Sequence[Mapping[str, Any]],
    s3: Any,
    bucket: str,
    job_ids: Sequence[int],
    lost: set[tuple[str, int, int]] = frozenset(),  # type: ignore[assignment]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The soak's checks and figures. ``lost``: tries the scheduler failed for a missing heartbeat."""
    from airflow_provider_wan.idempotency import MAX_GENERATIONS
    from benchmarks.soak_dags.wan_soak import kill_indexes, spec_for, worker_kill_indexes

    checks: list[dict[str, Any]] = []
    videos = {(ti["dag_run_id"], ti["map_index"]): ti for ti in final_tis if ti["task_id"] == TASK_ID}
    total = sum(runs.values())

    # 1. Nothing stuck.
    unfinished = sorted(
        f"{ti['task_id']}[{ti['map_index']}]@{ti['dag_run_id']}={ti['state']}"
        + (
            last_trigger_line(stack.ti_log_dir(ti["dag_run_id"], ti["map_index"]))
            if ti["map_index"] >= 0
            else ""
        )
        for ti in final_tis
        if ti["state"] not in TERMINAL
    )
    _check(
        checks,
        "every task instance finished (success/failed) before the deadline",
        not unfinished,
        unfinished[:20],
    )
    _check(
        checks, f"all {total} mapped task instances exist", len(videos) == total, f"{len(videos)} of {total}"
    )
    _check(
        checks,
        "every DAG run finished",
        all(final_runs.get(r) in TERMINAL for r in runs),
        {r: final_runs.get(r) for r in runs},
    )

    # 2. The ledger: one charge per taskUUID; every submission is a generation of a known task instance.
    video_tasks = {t["taskUUID"].lower(): t for t in ledger["tasks"]}
    nonce_of = _run_nonces(stack, runs)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    owner: dict[str, tuple[str, int, int]] = {}
    estimates: dict[tuple[str, int], float] = {}
    for run_id, n in runs.items():
        for index in range(n):
            uuids, price = _expected_uuids(run_id, index, str(nonce_of[run_id]), MAX_GENERATIONS)
            estimates[(run_id, index)] = price
            chain = []
            for generation, task_uuid in enumerate(uuids):
                owner[task_uuid] = (run_id, index, generation)
                if task_uuid in video_tasks:
                    chain.append({**video_tasks[task_uuid], "generation": generation})
            groups[(run_id, index)] = chain
    strangers = sorted(set(video_tasks) - set(owner))
    _check(
        checks,
        "zero duplicate charges (ledger: no taskUUID charged twice)",
        ledger["duplicates"] == 0 and not ledger["duplicate_task_uuids"],
        ledger["duplicate_task_uuids"][:10],
    )
    _check(
        checks,
        "every submission is a deterministic generation of a soak task instance",
        not strangers and ledger["submissions"] == len(video_tasks),
        {
            "unknown_task_uuids": strangers[:10],
            "submissions": ledger["submissions"],
            "tasks": len(video_tasks),
        },
    )
    bad_chains: list[str] = []
    for key, chain in groups.items():
        ti = videos.get(key)
        generations = [t["generation"] for t in chain]
        label = f"{key[0]}[{key[1]}]"
        if generations != list(range(len(chain))):
            bad_chains.append(f"{label}: generations {generations} not contiguous from 0")
            continue
        if not chain:
            bad_chains.append(f"{label}: never submitted")
            continue
        earlier = [t for t in chain[:-1] if t["status"] != "error"]
        if earlier:
            bad_chains.append(f"{label}: resubmitted after a non-failed generation {earlier[0]['taskUUID']}")
        last = chain[-1]
        if ti is not None and ti["state"] == "success" and last["status"] != "success":
            bad_chains.append(f"{label}: task succeeded but its last generation is {last['status']}")
        if ti is not None and ti["state"] == "failed" and last["status"] not in ("error", "processing"):
            bad_chains.append(f"{label}: task failed but its last generation is {last['status']}")
    _check(
        checks,
        "per task instance: at most one non-failed submission, all earlier ones failed",
        not bad_chains,
        bad_chains[:10],
    )
    failed_generations = [t for chain in groups.values() for t in chain if t["status"] == "error"]
    ledger_sum = round(sum(t["cost"] for t in video_tasks.values()), 4)
    priced = round(sum(estimates[key] for key, chain in groups.items() for _ in chain), 4)
    _check(
        checks,
        "charged USD = sum of submitted generations at the estimated price",
        abs(ledger["charged_usd"] - ledger_sum) < 1e-6 and abs(ledger_sum - priced) < 1e-6,
        {"charged": ledger["charged_usd"], "sum_of_tasks": ledger_sum, "estimates_x_generations": priced},
    )
    # The budget is per task instance, across ALL its generations (failed ones are billed too): the ledger's
    # charges of every generation of one (run, map_index) sum to at most its max_cost_usd, and a refused
    # generation is one that would have passed it.
    caps = {key: float(spec_for(str(nonce_of[key[0]]), key[1])["max_cost_usd"]) for key in groups}
    spent = {key: round(sum(t["cost"] for t in chain), 4) for key, chain in groups.items()}
    over_cap = [f"{k[0]}[{k[1]}]: ${spent[k]} > ${caps[k]}" for k in groups if spent[k] > caps[k] + 1e-9]
    logs = {key: attempt_logs(stack.ti_log_dir(*key)) for key in groups}
    refused = {key for key in groups if "[budgetExceeded]" in "\n".join(logs[key].values())}
    over_cap += [
        f"{k[0]}[{k[1]}]: refused at ${spent[k]} + ${estimates[k]} <= ${caps[k]}"
        for k in refused
        if spent[k] + estimates[k] <= caps[k] + 1e-9
    ]
    _check(
        checks,
        "per task instance: all its generations together cost at most its max_cost_usd",
        not over_cap,
        {"problems": over_cap[:10], "refused": len(refused)},
    )

    # 3. Every successful video: XCom vs S3 vs the emulator's bytes.
    landing_errors: list[str] = []
    verified = 0
    with httpx.Client(timeout=30, trust_env=False) as http:
        for key, value in sorted(xcoms.items()):
            label = f"{key[0]}[{key[1]}]"
            chain = groups.get(key) or []
            if not isinstance(value, Mapping) or not value.get("videos"):
                landing_errors.append(f"{label}: no XCom videos ({value!r})"[:200])
                continue
            if not chain or value.get("task_uuid") != chain[-1]["taskUUID"]:
                landing_errors.append(
                    f"{label}: XCom task_uuid {value.get('task_uuid')} is not its last generation"
                )
            for video in value["videos"]:
                uri = video.get("s3_uri")
                if not isinstance(uri, str) or not uri.startswith(f"s3://{bucket}/"):
                    landing_errors.append(f"{label}: no s3_uri in {video}"[:200])
                    continue
                obj = s3.get_object(Bucket=bucket, Key=uri.split("/", 3)[3])
                body = obj["Body"].read()
                digest = hashlib.sha256(body).hexdigest()
                served = http.get(video["video_url"])
                served_digest = (
                    hashlib.sha256(served.content).hexdigest() if served.status_code == 200 else None
                )
                if not (
                    len(body) == video.get("size_bytes") and digest == video.get("sha256") == served_digest
                ):
                    landing_errors.append(
                        f"{label}: S3 {len(body)}B {digest[:12]} vs XCom {video.get('size_bytes')}B "
                        f"{str(video.get('sha256'))[:12]} vs emulator {served.status_code} "
                        f"{str(served_digest)[:12]}"
                    )
                elif video.get("video_uuid") not in (chain[-1]["video_uuids"] if chain else []):
                    landing_errors.append(
                        f"{label}: video {video.get('video_uuid')} not in the ledger's task"
                    )
                else:
                    verified += 1
    succeeded = sum(1 for ti in videos.values() if ti["state"] == "success")
    _check(
        checks,
        "every successful video is in S3 with the XCom's size and SHA-256, equal to the emulator's bytes",
        not landing_errors and verified == succeeded,
        {"verified": verified, "succeeded": succeeded, "errors": landing_errors[:10]},
    )

    # 4. Logs name the Runware code and task UUID of every failed generation and every failed task.
    unnamed: list[str] = []
    for key, chain in groups.items():
        text = "\n".join(logs[key].values())
        for task in chain:
            if task["status"] == "error" and not (
                task["taskUUID"] in text and (task["failure_code"] or "timeoutProvider") in text
            ):
                unnamed.append(
                    f"{key[0]}[{key[1]}]: failed generation {task['taskUUID']} not named in a task log"
                )
    for key, ti in videos.items():
        if ti["state"] == "failed":
            last_log = logs.get(key, {}).get(int(ti["try_number"]), "")
            if not (re.search(r"\[[A-Za-z]+\]", last_log) and "taskUUID=" in last_log):
                unnamed.append(
                    f"{key[0]}[{key[1]}]: failed task's last log names no Runware code and task UUID"
                )
    _check(
        checks,
        "every failed generation and failed task is named (code + task UUID) in a task log",
        not unnamed,
        unnamed[:10],
    )

    # 5. Worker kills: exactly the planned ones, each re-attached by its retry.
    planned = {(run, i) for run, n in runs.items() for i in kill_indexes(run, n, cfg.kill_fraction)}
    first_run = next(iter(runs))
    planned_workers = {
        (first_run, i)
        for i in worker_kill_indexes(first_run, runs[first_run], cfg.kill_fraction, cfg.worker_kills)
    }
    planned |= planned_workers
    killed = {(e["run_id"], int(e["map_index"])): e for e in events if e.get("event") == "worker_killed"}
    workers = {key for key, event in killed.items() if event.get("scope") == "worker"}
    reattached = 0
    kill_problems: list[str] = []
    for key, event in killed.items():
        ti = videos.get(key)
        second = logs.get(key, {}).get(int(event["try_number"]) + 1, "")
        if ti is None or ti["try_number"] < 2:
            kill_problems.append(f"{key}: killed on try 1 but never retried")
        elif f"Re-attached to Runware task {event['task_uuid']}" in second or (
            f"task {event['task_uuid']}) failed earlier" in second
        ):
            reattached += 1
        else:
            kill_problems.append(f"{key}: try 2 did not re-attach to {event['task_uuid']}")
    # A planned kill cannot happen when its first try was lost with a killed Celery worker before that.
    preempted = {key for key in planned - set(killed) if workers and (key[0], key[1], 1) in lost}
    _check(
        checks,
        "every planned worker kill happened (SIGKILL right after submit, first try)",
        set(killed) | preempted == planned and bool(planned),
        {
            "planned": len(planned),
            "killed": len(killed),
            "preempted_by_the_worker_kill": sorted(map(str, preempted)),
            "missing": sorted(map(str, planned - set(killed) - preempted))[:5],
        },
    )
    if cfg.worker_kills:
        _check(
            checks,
            f"{cfg.worker_kills} Celery worker(s) SIGKILLed (whole process group) right after a submit",
            workers == planned_workers and all(killed[key].get("worker_pid") for key in workers),
            {"planned": sorted(map(str, planned_workers)), "killed": [killed[k] for k in sorted(workers)]},
        )
    _check(
        checks,
        "every killed worker's retry re-attached (or moved past a failed generation)",
        not kill_problems,
        kill_problems[:10],
    )

    # 5b. Every failed try is explained by an injected fault that needs a retry: the planned worker kill,
    # or a failed generation. Anything else (a trigger crash, retries exhausted, a landing error, a
    # timeout) is a robustness bug the other checks could miss, since the retry may still succeed.
    # One Airflow-core race is told apart and counted, not failed: the scheduler drains the executor's
    # stale "success" of the try that deferred after the trigger already fired and re-queued the task,
    # calls it a state mismatch and fails the try (apache/airflow #66374, #67287, #72716).
    raced = scheduler_state_mismatches(stack.home / "scheduler.log")
    failed_tries = Counter[str]()
    unexplained: list[str] = []
    for key, ti in videos.items():
        last_try = int(ti["try_number"])
        for attempt in range(1, last_try + 1):
            if attempt == last_try and ti["state"] != "failed":
                continue
            text = logs.get(key, {}).get(attempt, "")
            kill = killed.get(key)
            if kill is not None and int(kill["try_number"]) == attempt:
                failed_tries["worker killed"] += 1
            elif workers and (key[0], key[1], attempt) in lost:
                # Another task of the Celery worker that was killed: its try lost its heartbeat.
                failed_tries["lost with the killed Celery worker"] += 1
            elif "Task failed with exception" in text and "[timeoutProvider]" in text:
                failed_tries["generation failed"] += 1
            elif key in refused and "[budgetExceeded]" in text:  # checked against the ledger above
                failed_tries["budget refused a new generation"] += 1
            elif key in raced:
                failed_tries["airflow stale executor event"] += 1
            else:
                failed_tries["unexplained"] += 1
                errors = [line for line in text.splitlines() if '"level":"error"' in line]
                unexplained.append(
                    f"{key[0]}[{key[1]}] try {attempt}: {(errors or ['(no error line)'])[-1][:400]}"
                )
    _check(
        checks,
        "every failed try is explained by an injected kill or generation failure",
        not unexplained,
        unexplained[:10],
    )

    # 6. Triggerer events: each task deferred on a killed triggerer resumed its trigger in the new triggerer
    # (the restarted one, or the surviving one that adopted it) from the serialized trigger row, same try,
    # unless its trigger had fired just before the kill.
    restart_problems: list[str] = []
    for restart in restarts:
        if restart.new_job_id is None:
            restart_problems.append(f"#{restart.number}: no triggerer job took over")
        found = takeover(stack, restart)
        restart.resumed, restart.fired_before, restart.elsewhere = (
            len(found.latencies),
            found.fired_before,
            found.elsewhere,
        )
        restart.takeover_max_s = round(max(found.latencies), 1) if found.latencies else None
        restart_problems += [
            f"#{restart.number}: {run}[{index}] try {try_number} deferred at the kill never resumed"
            for run, index, try_number in found.missing
        ]
        restart_problems += [
            f"#{restart.number}: {run}[{index}] never finished"
            for run, index, _ in restart.deferred
            if videos.get((run, index), {}).get("state") not in TERMINAL
        ]
        if not found.latencies:
            restart_problems.append(f"#{restart.number}: no deferred task resumed in another triggerer job")
    triggerer_events = [
        f"{r.component} {r.signal}{'' if r.restarted else ' (not restarted)'}" for r in restarts
    ]
    _check(
        checks,
        f"{cfg.triggerer_restarts} triggerer event(s) with tasks deferred; each killed trigger resumed",
        len(restarts) == cfg.triggerer_restarts and not restart_problems,
        {"events": triggerer_events, "problems": restart_problems[:10]},
    )

    # Figures.
    ti_states = Counter(ti["state"] for ti in videos.values())
    faults = dict(ledger.get("faults_injected", {}))
    request_faults = sum(v for k, v in faults.items() if k != "ack_lost")
    estimated_usd = round(sum(estimates.values()), 4)
    figures = {
        "generations": total,
        "dag_runs": len(runs),
        "submissions": ledger["submissions"],
        "conflicts": ledger["conflicts"],
        "duplicates": ledger["duplicates"],
        "charged_usd": ledger["charged_usd"],
        "estimated_usd": estimated_usd,
        "extra_paid_for_failed_generations_usd": round(sum(t["cost"] for t in failed_generations), 4),
        "max_share_of_budget_spent": round(max((spent[k] / caps[k] for k in groups), default=0.0), 3),
        "budget_refusals": len(refused),
        "tasks_succeeded": ti_states.get("success", 0),
        "tasks_failed": ti_states.get("failed", 0),
        "tasks_retried": sum(1 for ti in videos.values() if ti["try_number"] > 1),
        "tries_total": sum(ti["try_number"] for ti in videos.values()),
        "triggerer_restarts": len(restarts),
        "triggerer_restart_signals": [r.signal for r in restarts],
        "triggerer_events": triggerer_events,
        "ran_by_the_survivor_all_along": [r.elsewhere for r in restarts],
        "deferred_at_restarts": [len(r.deferred) for r in restarts],
        "resumed_in_new_triggerer": [r.resumed for r in restarts],
        "fired_before_restart": [r.fired_before for r in restarts],
        "takeover_max_seconds": [r.takeover_max_s for r in restarts],
        "triggerer_jobs": len(job_ids),
        "failed_tries": dict(failed_tries),
        "workers_killed": len(killed),
        "celery_workers_killed": len(workers),
        "workers_killed_planned": len(planned),
        "planned_kills_preempted_by_the_worker_kill": len(preempted),
        "killed_reattached": reattached,
        "generations_failed": len(failed_generations),
        "faults_injected": faults,
        "http_requests": ledger["http_requests"],
        "request_fault_rate": round(request_faults / ledger["http_requests"], 3)
        if ledger["http_requests"]
        else 0,
        "rejected_codes": ledger.get("rejected", {}),
        "get_response_uuids_per_request": ledger.get("get_response_uuids_per_request", {}),
        "videos_verified_in_s3": verified,
    }
    return checks, figures


def _run_nonces(stack: SoakStack, runs: Mapping[str, int]) -> dict[str, str]:
    with stack.client() as api:
        return {run: api.get(f"/dags/{DAG_ID}/dagRuns/{run}").json()["conf"]["nonce"] for run in runs}


# --------------------------------------------------------------------------------------------------
# The fuzz at soak size


def run_fuzz(examples: int, timeout: float = 900.0) -> dict[str, Any]:
    """The agreement and operator-argument fuzz at ``examples`` examples (counts: Hypothesis' statistics)."""
    results: dict[str, Any] = {}
    for name, variable in (
        ("test_agreement", "WAN_AGREEMENT_EXAMPLES"),
        ("test_fuzz_operator", "WAN_FUZZ_EXAMPLES"),
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env[variable] = str(examples)
        began = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"tests/{name}.py",
                "--hypothesis-show-statistics",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out = proc.stdout + proc.stderr
        per_test: dict[str, int] = {}
        current = None
        for line in out.splitlines():
            header = re.match(r"^tests/\S+::(\S+):", line.strip())
            if header:
                current = header.group(1)
            passing = re.search(r"(\d+) passing\b", line)
            if passing and current:
                per_test[current] = per_test.get(current, 0) + int(passing.group(1))
        results[name] = {
            "examples_requested": examples,
            "passing_examples": per_test,
            "passed": proc.returncode == 0,
            "seconds": round(time.monotonic() - began, 1),
            "summary": (out.strip().splitlines() or [""])[-1],
        }
    return results


# --------------------------------------------------------------------------------------------------
# Report and CLI


def report(result: Mapping[str, Any]) -> str:
    from benchmarks._common import table

    f = result["figures"]
    faults = f.get("faults_injected", {})
    rows: list[list[Any]] = [
        ["generations (mapped task instances)", f.get("generations")],
        ["DAG runs", f.get("dag_runs")],
        ["submissions (accepted videoInference)", f.get("submissions")],
        ["conflicts (conflictTaskUUID: re-attach probes)", f.get("conflicts")],
        ["duplicate charges (must be 0)", f.get("duplicates")],
        ["charged USD", f.get("charged_usd")],
        ["estimated USD (one generation per task)", f.get("estimated_usd")],
        ["  of which re-paid failed generations", f.get("extra_paid_for_failed_generations_usd")],
        [
            "largest share of a task's max_cost_usd spent (all generations)",
            f.get("max_share_of_budget_spent"),
        ],
        ["  generations refused by the budget", f.get("budget_refusals")],
        ["tasks succeeded", f.get("tasks_succeeded")],
        ["tasks failed", f.get("tasks_failed")],
        ["tasks retried (try_number > 1)", f.get("tasks_retried")],
        ["tries in all", f.get("tries_total")],
        [
            "triggerer restarts (signals)",
            f"{f.get('triggerer_restarts')} {f.get('triggerer_restart_signals')}",
        ],
        ["  events (component, signal)", "; ".join(f.get("triggerer_events") or [])],
        ["  deferred at each restart", f.get("deferred_at_restarts")],
        ["  run by the other triggerer all along", f.get("ran_by_the_survivor_all_along")],
        ["  resumed there from the trigger rows (same try)", f.get("resumed_in_new_triggerer")],
        ["  fired just before the kill", f.get("fired_before_restart")],
        ["  kill -> last resumed trigger running (failover), s", f.get("takeover_max_seconds")],
        [
            "workers killed after submit (planned)",
            f"{f.get('workers_killed')} ({f.get('workers_killed_planned')})",
        ],
        ["  of which whole Celery workers", f.get("celery_workers_killed")],
        ["  re-attached on retry", f.get("killed_reattached")],
        ["generations failed (timeoutProvider)", f.get("generations_failed")],
        ["failed tries by cause", json.dumps(f.get("failed_tries"))],
        ["POST /v1 requests", f.get("http_requests")],
        [
            "faults: 429 / 500 / 503 / drop / slow",
            " / ".join(str(faults.get(k, 0)) for k in ("429", "500", "503", "drop", "slow")),
        ],
        ["faults: acknowledgments lost", faults.get("ack_lost", 0)],
        ["request fault rate", f.get("request_fault_rate")],
        ["videos verified (S3 = XCom = emulator)", f.get("videos_verified_in_s3")],
        ["wall time, s (Airflow start-up)", f"{f.get('wall_time_s')} ({f.get('stack_start_s')})"],
        ["DAG runs wall time, s", f.get("runs_wall_time_s")],
    ]
    for name, fuzz in (result.get("fuzz") or {}).items():
        counts = fuzz.get("passing_examples") or {}
        rows.append(
            [
                f"fuzz {name}: properties x passing examples",
                " + ".join(str(c) for c in counts.values()) or "-",
            ]
        )
    text = table("Soak figures", ["figure", "value"], rows)
    lines = [text, "", "Checks"]
    for check in result["checks"]:
        lines.append(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['check']}")
        if not check["ok"]:
            lines.append(f"         {json.dumps(check['detail'], default=str)[:1500]}")
    lines.append("")
    lines.append("PASS" if result["passed"] else "FAIL")
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    *,
    defaults: SoakConfig | None = None,
    results: Path = RESULTS,
    description: str = (__doc__ or "").splitlines()[0],
    topology: Callable[[SoakConfig], contextlib.AbstractContextManager[Callable[..., SoakStack]]]
    | None = None,
) -> int:
    """The CLI. ``topology(cfg)`` enters the services a deployment needs beyond the emulator and S3 and
    yields its stack factory (default: none, ``SoakStack``); ``benchmarks.soak_distributed`` passes its own.
    """
    parser = argparse.ArgumentParser(description=description)
    defaults = defaults or SoakConfig()
    parser.add_argument("--generations", type=int, default=defaults.generations, help="mapped tasks in all")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="DAG runs to spread them over")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="emulator RNG and request nonce")
    parser.add_argument("--deadline", type=float, default=defaults.deadline, help="seconds for the DAG runs")
    parser.add_argument("--parallelism", type=int, default=defaults.parallelism)
    parser.add_argument("--triggerer-restarts", type=int, default=defaults.triggerer_restarts)
    parser.add_argument("--kill-fraction", type=float, default=defaults.kill_fraction)
    parser.add_argument(
        "--worker-kills", type=int, default=defaults.worker_kills, help="whole Celery workers"
    )
    parser.add_argument(
        "--request-fault-rate",
        type=float,
        default=sum(REQUEST_FAULTS.values()),
        help="sum of the 429/500/503/drop/slow probabilities, split as by default (0.22: ~20%% faulted)",
    )
    parser.add_argument("--p-generation-fail", type=float, default=defaults.p_generation_fail)
    parser.add_argument("--p-ack-lost", type=float, default=defaults.p_ack_lost)
    parser.add_argument("--fuzz-examples", type=int, default=defaults.fuzz_examples, help="0 skips the fuzz")
    parser.add_argument("--json", default=str(results), help="where to write the result")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (Airflow home, logs)")
    args = parser.parse_args(argv)
    cfg = dataclasses.replace(
        defaults,
        generations=args.generations,
        runs=args.runs,
        seed=args.seed,
        deadline=args.deadline,
        parallelism=args.parallelism,
        triggerer_restarts=args.triggerer_restarts,
        kill_fraction=args.kill_fraction,
        worker_kills=args.worker_kills,
        fuzz_examples=args.fuzz_examples,
        request_faults={
            k: round(v * args.request_fault_rate / sum(REQUEST_FAULTS.values()), 4)
            for k, v in REQUEST_FAULTS.items()
        },
        p_generation_fail=args.p_generation_fail,
        p_ack_lost=args.p_ack_lost,
    )
    workdir = Path(tempfile.mkdtemp(prefix="wan-soak-"))
    # This process imports Airflow (to derive task UUIDs): give it a throw-away home too.
    os.environ["AIRFLOW_HOME"] = str(workdir / "driver-home")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ[name] = value
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    from moto.server import ThreadedMotoServer

    from benchmarks._common import EmulatorProcess
    from tests.e2e_support import free_port

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    try:
        services = topology(cfg) if topology is not None else contextlib.nullcontext(SoakStack)
        with services as stack_factory, EmulatorProcess(api_key=SOAK_API_KEY, seed=cfg.seed) as emulator:
            print(
                f"[soak] emulator {emulator.root_url}, S3 (moto) http://127.0.0.1:{moto_port}, "
                f"work dir {workdir}"
            )
            result = run_soak(
                cfg,
                emulator=emulator,
                s3_endpoint=f"http://127.0.0.1:{moto_port}",
                workdir=workdir,
                stack_factory=stack_factory,
            )
    finally:
        moto.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if cfg.fuzz_examples > 0:
        print(f"[soak] fuzz at {cfg.fuzz_examples} examples per property ...")
        result["fuzz"] = run_fuzz(cfg.fuzz_examples)
        for name, fuzz in result["fuzz"].items():
            counts = fuzz["passing_examples"]
            _check(
                result["checks"],
                f"fuzz {name} passed at >= {cfg.fuzz_examples} examples per property",
                fuzz["passed"] and bool(counts) and all(c >= cfg.fuzz_examples for c in counts.values()),
                fuzz,
            )
        result["passed"] = all(c["ok"] for c in result["checks"])
    result["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if args.keep:
        result["workdir"] = str(workdir)
    print(report(result))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"[soak] wrote {out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
