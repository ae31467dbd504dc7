"""The small variant of the fault-injection soak (``benchmarks/soak.py``; the full one is ``make soak``).

~36 mapped, deferrable ``WanVideoOperator`` tasks in 2 DAG runs under a real scheduler (LocalExecutor),
triggerer, dag-processor and api-server, against the emulator with ~20 % of requests faulted (429, 500,
503, dropped, slow), 5 % of generations failing and 5 % of acknowledgments lost; the triggerer is crashed
(SIGKILL of its process group) and restarted while tasks are deferred, and 2 workers SIGKILL themselves
right after their submit. Passes only with zero duplicate charges, every video in S3 with the checksum of
the XCom and of the emulator's bytes, failures named in the task logs and nothing stuck.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.soak import SoakConfig, report, run_soak

pytestmark = [pytest.mark.e2e, pytest.mark.soak, pytest.mark.timeout(300)]


def test_small_soak(emulator: Any, moto_s3: str, tmp_path: Path) -> None:
    result = run_soak(SoakConfig.small(), emulator=emulator, s3_endpoint=moto_s3, workdir=tmp_path)
    text = report(result)
    print(text)
    failed = [c for c in result["checks"] if not c["ok"]]
    assert result["passed"], json.dumps(failed, indent=2, default=str)[:6000] + "\n" + text
    figures = result["figures"]
    assert figures["duplicates"] == 0
    assert figures["triggerer_restarts"] == 1 and figures["resumed_in_new_triggerer"][0] >= 1
    assert figures["workers_killed"] == 2 and figures["killed_reattached"] == 2
    # The faults really happened (the unseeded session emulator draws them: ~20 % of requests).
    assert sum(figures["faults_injected"].values()) > 0
