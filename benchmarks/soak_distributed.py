"""The fault-injection soak on the production topology: Postgres + Redis + CeleryExecutor + two triggerers.

    make soak-distributed                                    # 300 generations, 4 DAG runs
    python -m benchmarks.soak_distributed --generations 20 --runs 1 --triggerer-restarts 1 --deadline 420
    make soak-distributed SOAK_ARGS="--seed 11 --keep"

Everything runs on this machine as real processes bound to 127.0.0.1 (no container engine needed):
PostgreSQL and Redis started from Debian's packages (``benchmarks.local_services``: private data
directories, free ports, removed afterwards), then ``airflow db migrate`` on Postgres and the api-server,
scheduler (CeleryExecutor, Redis broker, Postgres result backend), dag-processor, two Celery workers and
two triggerers, each in its own process group, plus the Runware emulator and a moto S3 server. This is
the topology of ``docker-compose.yml`` with the worker and triggerer doubled for failover.

The soak itself is ``benchmarks.soak``'s (same DAG, same faults, same checks: ~20 % of requests
faulted, 5 % failed generations, 5 % lost acknowledgments, 5 % of first tries SIGKILLing their task
process after the submit), plus:

* the first triggerer is SIGKILLed mid-run and NOT restarted: the second must adopt its triggers once its
  heartbeat is stale (the failover time, kill -> last adopted trigger running, is measured); the full run
  then SIGTERMs and restarts the second one;
* one first try SIGKILLs its whole Celery worker (main process, pool, supervisors) right after its submit:
  the scheduler fails that try when its heartbeat times out and the other worker runs the retry, which
  must re-attach to the paid generation.

PASS = the soak's checks (zero duplicate charges, every video in S3 with the XCom's size and SHA-256 equal
to the emulator's bytes, nothing stuck, every failure explained and named) plus both kills, and no process
of this deployment left behind. Writes ``benchmarks/results/soak-distributed.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.soak import SoakConfig, main
from benchmarks.soak_stack import SoakStack, TriggererEvent

RESULTS = Path(__file__).resolve().parent / "results" / "soak-distributed.json"
WORKERS = ("celery-worker-1", "celery-worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
BUSIEST, SURVIVOR = "<the triggerer running the most triggers>", "<the remaining triggerer>"


def distributed_config(*, small: bool = False) -> SoakConfig:
    """The full run (300 generations, failover kill + survivor restart, one Celery worker kill) or the
    small one (~20 generations, the failover kill, one Celery worker kill)."""
    if not small:
        return SoakConfig(deadline=3000.0, worker_kills=1, fuzz_examples=0)
    return dataclasses.replace(
        SoakConfig.small(),
        generations=20,
        runs=1,
        deadline=420.0,
        kill_fraction=0.05,
        worker_kills=1,
        min_deferred_at_restart=3,
    )


@dataclasses.dataclass
class DistributedStack(SoakStack):
    """``SoakStack`` on Postgres + Redis with the CeleryExecutor, two Celery workers and two triggerers."""

    database_url: str = ""
    result_backend: str = ""
    broker_url: str = ""
    worker_concurrency: int = 6
    heartbeat_timeout: int = 30  # seconds: how soon the try of a killed worker is failed and retried
    queued_timeout: int = 120  # seconds: how soon a task stuck in a killed worker's queue is requeued

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": self.result_backend,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                # A killed worker takes the messages it had reserved with it (acks_late: Redis would
                # redeliver them only after the visibility timeout, a day): the scheduler requeues such
                # tasks once they have been queued this long.
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(self.queued_timeout),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
            }
        )
        return env

    def component_env(self, name: str) -> dict[str, str]:
        env = self.env()
        if name in WORKERS:
            env["WAN_SOAK_CELERY_WORKER"] = name  # lets the soak DAG find (and kill) its worker
        return env

    def command(self, name: str) -> list[str]:
        airflow = [sys.executable, "-m", "airflow"]
        # --skip-serve-logs: no log server on 0.0.0.0 (nor two on one port); the logs are on this disk.
        if name in WORKERS:
            return [*airflow, "celery", "worker", "--skip-serve-logs", "--celery-hostname",
                    f"wan-soak-{name}@%h", "--concurrency", str(self.worker_concurrency)]  # fmt: skip
        if name in TRIGGERERS:
            return [*airflow, "triggerer", "--skip-serve-logs"]
        return super().command(name)

    def start(self) -> None:
        """The api-server, scheduler, dag-processor and workers; then each triggerer, noting its job id."""
        for name in ("api-server", "scheduler", "dag-processor", *WORKERS):
            self.launch(name, self.home / f"{name}.log")
        self.wait_healthy(timeout=240)
        for name in TRIGGERERS:
            known = set(self.job_ids("TriggererJob"))
            self.launch(name, self.home / f"{name}.log")
            deadline = time.monotonic() + 180
            while not (new := sorted(set(self.job_ids("TriggererJob")) - known)):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} registered no job in 180 s:\n{self.components[name].tail()}")
                time.sleep(1.0)
            self.job_of[name] = new[0]

    def triggerer_plan(self, count: int) -> list[TriggererEvent]:
        """First a crash, with no restart, of the triggerer running the most triggers (failover), then
        restarts of the survivor (SIGTERM, SIGKILL, ...). Components are chosen by :meth:`resolve`."""
        plan = [TriggererEvent(BUSIEST, signal.SIGKILL, restart=False)]
        signals = (signal.SIGTERM, signal.SIGKILL)
        plan += [TriggererEvent(SURVIVOR, signals[i % 2]) for i in range(count - 1)]
        return plan[:count]

    def resolve(self, event: TriggererEvent, deferred: list[tuple[str, int, int]]) -> TriggererEvent | None:
        live = [name for name in TRIGGERERS if name in self.components]
        if event.component == SURVIVOR:
            return dataclasses.replace(event, component=live[0]) if live else None
        if event.component != BUSIEST:
            return event
        # Only a triggerer that runs deferred triggers now makes a failover worth measuring.
        jobs = [job for key in deferred for job in self.trigger_jobs(*key)]
        load = {name: jobs.count(self.job_of[name]) for name in live if name in self.job_of}
        busiest = max(load, key=load.__getitem__, default=None)
        return dataclasses.replace(event, component=busiest) if busiest and load[busiest] else None

    def check_alive(self) -> None:
        """A Celery worker that the soak DAG killed on purpose is retired (not restarted); anything else
        that exits fails the soak."""
        killed = {int(e["worker_pid"]) for e in self._kill_events() if e.get("worker_pid")}
        for name in [n for n in WORKERS if n in self.components]:
            component = self.components[name]
            if component.process.poll() is not None and component.process.pid in killed:
                component.log_file.close()
                self.retired.append(self.components.pop(name))
        super().check_alive()

    def _kill_events(self) -> list[dict[str, Any]]:
        path = Path(self.extra_env.get("WAN_SOAK_EVENTS", "/nonexistent"))
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def topology(cfg: SoakConfig) -> Iterator[Callable[..., SoakStack]]:
    """Postgres and Redis on loopback for the run; yields the ``DistributedStack`` factory using them."""
    from benchmarks.local_services import PostgresServer, RedisServer

    with PostgresServer() as postgres, RedisServer() as redis:
        print(f"[soak] Postgres 127.0.0.1:{postgres.port}, Redis 127.0.0.1:{redis.port}")
        yield functools.partial(
            DistributedStack,
            database_url=postgres.sqlalchemy_url,
            result_backend=postgres.celery_result_backend,
            broker_url=redis.url,
            worker_concurrency=max(2, cfg.parallelism // len(WORKERS)),
        )


def run(argv: Sequence[str] | None = None) -> int:
    return main(
        argv,
        defaults=distributed_config(),
        results=RESULTS,
        description=(__doc__ or "").splitlines()[0],
        topology=topology,
    )


if __name__ == "__main__":
    sys.exit(run())
