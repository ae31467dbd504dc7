"""The small variant of the soak on the production topology (``benchmarks/soak_distributed.py``).

Postgres and Redis from the OS packages on loopback, Airflow with the CeleryExecutor, two Celery workers,
two triggerers, scheduler, dag-processor and api-server as real processes; ~20 mapped generations under
the soak's faults, the first triggerer SIGKILLed and not restarted (the second must adopt its triggers),
one Celery worker SIGKILLed right after a submit. ``make test`` installs the packages (``make
distributed-tools``); without them the tests are skipped, naming the install command.

The small soak runs in ``make test``: ~1.7 min on the idle 2-core machine since the cadence without a
guess (Airflow up in 16 s on Postgres, the DAG run ~75 s; up to ~2.5 min more when a task waits out the
queued timeout after the Celery worker kill). ``WAN_SOAK_DISTRIBUTED=0`` skips it for a quicker local
run; ``make soak-distributed`` runs the full one. The local services test always runs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.local_services import INSTALL_HINT, PostgresServer, RedisServer, postgres_binary
from benchmarks.soak import report, run_soak
from benchmarks.soak_distributed import distributed_config, topology

pytestmark = [pytest.mark.e2e, pytest.mark.soak, pytest.mark.timeout(900)]


def _missing_servers() -> str:
    try:
        postgres_binary("initdb")
    except FileNotFoundError as exc:
        return str(exc)
    return "" if shutil.which("redis-server") else f"redis-server is not installed: {INSTALL_HINT}"


def test_local_services_bind_loopback_and_leave_nothing(tmp_path: Path) -> None:
    if missing := _missing_servers():
        pytest.skip(missing)
    import psycopg2  # type: ignore[import-untyped]
    import redis

    with PostgresServer() as postgres, RedisServer() as broker:
        psycopg2.connect(host="127.0.0.1", port=postgres.port, user="airflow", dbname="airflow").close()
        assert redis.Redis(host="127.0.0.1", port=broker.port).ping()
        processes = [postgres.process, broker.process]
        directories = [postgres.dir, broker.dir]
    assert all(p is not None and p.poll() is not None for p in processes)
    assert not any(d.exists() for d in directories)


@pytest.mark.skipif(
    os.environ.get("WAN_SOAK_DISTRIBUTED") == "0",
    reason="WAN_SOAK_DISTRIBUTED=0 skips the small distributed soak (~1.7 min)",
)
def test_small_distributed_soak(emulator: Any, moto_s3: str, tmp_path: Path) -> None:
    if missing := _missing_servers():
        pytest.skip(missing)
    cfg = distributed_config(small=True)
    with topology(cfg) as stack_factory:
        result = run_soak(
            cfg, emulator=emulator, s3_endpoint=moto_s3, workdir=tmp_path, stack_factory=stack_factory
        )
    text = report(result)
    print(text)
    failed = [c for c in result["checks"] if not c["ok"]]
    assert result["passed"], json.dumps(failed, indent=2, default=str)[:6000] + "\n" + text
    figures = result["figures"]
    assert figures["duplicates"] == 0
    (event,) = figures["triggerer_events"]  # the busier triggerer, killed for good: the other adopts
    assert event.startswith("triggerer-") and event.endswith(" SIGKILL (not restarted)")
    assert figures["resumed_in_new_triggerer"][0] >= 1 and figures["takeover_max_seconds"][0] is not None
    assert figures["celery_workers_killed"] == 1 and figures["killed_reattached"] == figures["workers_killed"]
    assert figures["videos_verified_in_s3"] == figures["tasks_succeeded"] > 0
