"""The DAG of the fault-injection soak (``benchmarks.soak``), run under a real scheduler and triggerer.

``wan_soak``: ``specs`` builds ``dag_run.conf["n"]`` requests, then ``video`` maps one deferrable
``SoakWanVideoOperator`` per request (retries, short retry delay, videos landed in S3 on moto).

``SoakWanVideoOperator`` is the real ``WanVideoOperator`` plus one fault: on the FIRST try of a
deterministic ``kill_fraction`` of the map indexes (:func:`kill_indexes`: the lowest SHA-256 ranks of
``(run_id, map_index)``), the task process SIGKILLs itself right after ``_submit_or_attach`` returns — the
generation is submitted and paid, nothing is in XCom yet. The executor's supervisor then fails the try
and Airflow retries it; the retry must re-attach instead of paying again. On ``conf["worker_kills"]`` more
indexes (:func:`worker_kill_indexes`) it SIGKILLs its whole Celery worker first (``make
soak-distributed``): the scheduler fails the try once its heartbeat times out; another worker retries.
Each kill is appended (and fsynced) to ``$WAN_SOAK_EVENTS`` first, so the soak can count and check them.

Settings come from the environment of the Airflow processes (``WAN_SOAK_*``) and from ``dag_run.conf``.
Short polls and retry delays keep the soak quick; they are not recommendations.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_wan.operators.video import WanVideoOperator

DAG_ID = "wan_soak"
TASK_ID = "video"
BUCKET = os.environ.get("WAN_SOAK_BUCKET", "wan-soak")
PREFIX = "soak"
# Sizes and durations vary so outputs (and prices) differ: 720p is $0.10/s, 1080p $0.15/s.
SIZES = ("720p_16_9", "720p_1_1", "1080p_9_16", "720p_4_3")
DURATIONS = (2, 3, 4)
# Each task instance's max_cost_usd: the price of this many generations. Failed generations are billed, so
# the cap counts all of them: a fourth generation (three failed ones first) is refused.
BUDGET_GENERATIONS = 3


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


def spec_for(nonce: str, index: int) -> dict[str, Any]:
    """The request of map index ``index`` and its budget (a pure function: the soak recomputes it to check
    the ledger)."""
    from airflow_provider_wan.models import WanVideoRequest
    from airflow_provider_wan.presets import SIZE_PRESETS
    from airflow_provider_wan.pricing import estimate

    size, duration = SIZES[index % len(SIZES)], DURATIONS[(index // len(SIZES)) % len(DURATIONS)]
    prompt = f"soak {nonce} #{index}: a paper boat drifting down a rainy street"
    preset = SIZE_PRESETS[size]
    request = WanVideoRequest(
        positive_prompt=prompt, width=preset.width, height=preset.height, duration=duration
    )
    cap = round(BUDGET_GENERATIONS * estimate(request).total_usd, 4)
    return {"positive_prompt": prompt, "size": size, "duration": duration, "max_cost_usd": cap}


def _ranked(run_id: str, count: int) -> list[int]:
    return sorted(range(count), key=lambda i: hashlib.sha256(f"{run_id}|{i}".encode()).hexdigest())


def kill_indexes(run_id: str, count: int, fraction: float) -> set[int]:
    """Exactly ``round(count * fraction)`` map indexes, chosen by hashing ``(run_id, map_index)``."""
    return set(_ranked(run_id, count)[: round(count * fraction)])


def worker_kill_indexes(run_id: str, count: int, fraction: float, kills: int) -> set[int]:
    """The ``kills`` map indexes ranked right after :func:`kill_indexes`: they kill their whole worker."""
    first = round(count * fraction)
    return set(_ranked(run_id, count)[first : first + kills])


def _celery_worker_group() -> int | None:
    """The process group of the Celery worker running this task, when it is one (``WAN_SOAK_CELERY_WORKER``
    is set on the soak's workers). The worker leads its own group; the task's supervisor is in it, while
    the task process has a group of its own."""
    if not os.environ.get("WAN_SOAK_CELERY_WORKER"):
        return None
    return os.getpgid(os.getppid())


def _record(event: dict[str, Any]) -> None:
    path = os.environ.get("WAN_SOAK_EVENTS")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(event) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class SoakWanVideoOperator(WanVideoOperator):
    """``WanVideoOperator`` whose worker process dies (SIGKILL) right after the submit, on chosen tries."""

    def _submit_or_attach(self, request: Any, fingerprint: str, context: Any) -> Any:
        result = super()._submit_or_attach(request, fingerprint, context)
        ti = context["ti"]
        conf = context["dag_run"].conf or {}
        map_index = -1 if ti.map_index is None else int(ti.map_index)
        count, fraction = int(conf.get("n", 0)), float(conf.get("kill_fraction", 0.0))
        victims = kill_indexes(ti.run_id, count, fraction)
        whole = worker_kill_indexes(ti.run_id, count, fraction, int(conf.get("worker_kills", 0)))
        if ti.try_number == 1 and map_index in victims | whole:
            worker_pid = _celery_worker_group() if map_index in whole else None
            _record(
                {
                    "event": "worker_killed",
                    "scope": "worker" if map_index in whole else "task",
                    "worker_pid": worker_pid,
                    "run_id": ti.run_id,
                    "map_index": map_index,
                    "try_number": ti.try_number,
                    "task_uuid": result[0],
                    "pid": os.getpid(),
                    "time": time.time(),
                }
            )
            self.log.warning("Soak: SIGKILL of this worker process right after submitting %s", result[0])
            if worker_pid is not None:
                os.killpg(worker_pid, signal.SIGKILL)  # main process, pool and supervisors
            os.kill(os.getpid(), signal.SIGKILL)
        return result


@task
def specs(**context: Any) -> list[dict[str, Any]]:
    conf = context["dag_run"].conf or {}
    return [spec_for(str(conf.get("nonce", "")), i) for i in range(int(conf.get("n", 0)))]


with DAG(
    DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    max_active_tasks=512,
    tags=["soak"],
) as dag:
    SoakWanVideoOperator.partial(
        task_id=TASK_ID,
        deferrable=True,
        retries=int(_env_float("WAN_SOAK_RETRIES", 3)),
        retry_delay=timedelta(seconds=_env_float("WAN_SOAK_RETRY_DELAY", 2.0)),
        s3_destination=f"s3://{BUCKET}/{PREFIX}/{{{{ dag_run.conf['nonce'] }}}}/",
        generation_timeout=_env_float("WAN_SOAK_GENERATION_TIMEOUT", 900.0),
        poll_initial_delay=_env_float("WAN_SOAK_POLL_INITIAL_DELAY", 2.0),
        poll_interval=_env_float("WAN_SOAK_POLL_INTERVAL", 1.0),
        poll_max_interval=_env_float("WAN_SOAK_POLL_MAX_INTERVAL", 3.0),
    ).expand_kwargs(specs())
