"""The benchmarks run: each at a tiny size, asserting structure only (keys present, numbers >= 0).

Timing goals live in the benchmarks themselves (``make bench``), never in tests: nothing here compares a
duration with a limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _common

SUMMARY_KEYS = {"n", "min", "p50", "p95", "p99", "max", "mean"}
# Trigger outcomes the benchmarks count ("hung": still waiting long after its own deadline).
OUTCOMES = {"success", "error", "timeout", "hung"}


def _non_negative(value: Any, path: str = "") -> None:
    """Every number in ``value`` (recursively) is >= 0, except goal margins (which may be negative)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        assert value >= 0, f"{path} = {value}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key != "margin":
                _non_negative(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _non_negative(item, f"{path}[{i}]")


def _is_summary(value: Any) -> None:
    assert isinstance(value, dict) and set(value) >= SUMMARY_KEYS, value


def _goals_ok(result: Mapping[str, Any]) -> None:
    for g in result["goals"]:
        assert {"goal", "value", "limit", "unit", "met", "margin"} <= set(g)
        assert isinstance(g["met"], bool)


def test_helpers() -> None:
    assert _common.percentile([], 50) == 0.0
    assert _common.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert _common.percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    s = _common.summary([1, 2, 3, 4])
    _is_summary(s)
    assert s["n"] == 4 and s["min"] <= s["p50"] <= s["p99"] <= s["max"]
    assert _common.ratio(1, 0) is None and _common.ratio(3, 2) == 1.5
    g = _common.goal("x", 3.0, 2.0, unit="s")
    assert g["met"] is False and g["margin"] == -1.0
    assert "x" in _common.goals_table([g]) and "MISSED" in _common.goals_table([g])
    assert _common.rss_mb() > 0 and _common.cpu_seconds("self") >= 0


def test_b5_import_time() -> None:
    from benchmarks import b5_import_time

    result = b5_import_time.run(repeats=1, verbose=False)
    for key in (
        "baseline_sdk_only_ms",
        "provider_total_ms",
        "added_in_process_ms",
        "added_in_process_cpu_ms",
    ):
        _is_summary(result[key])
    assert isinstance(result["forbidden_present"], list)
    assert any(m.startswith("airflow_provider_wan.operators") for m in result["provider_modules_added"])
    _goals_ok(result)
    _non_negative({k: v for k, v in result.items() if k != "added_difference_of_medians_ms"})
    json.dumps(result)


def test_emulator_capacity() -> None:
    from benchmarks import emulator_capacity

    result = emulator_capacity.run(tasks=200, load_seconds=0.5, concurrency=4, verbose=False)
    capacity = result["capacity"]
    assert capacity["tasks"] == 200 and capacity["in_flight_confirmed"] == 200
    assert {load["batch"] for load in result["load"]} == {1, 100}
    for load in result["load"]:
        assert load["requests"] > 0 and load["errors"] == 0
        _is_summary(load["latency_ms"])
    _non_negative({k: v for k, v in result.items() if k != "capacity"})
    assert "capacity" in emulator_capacity.report(result).lower()


def test_b2_event_loop() -> None:
    from benchmarks import b2_event_loop

    result = b2_event_loop.run(
        sizes=(6,),
        processing_seconds=1.0,
        jitter=0.5,
        poll_initial_delay=0.3,
        poll_interval=0.2,
        poll_max_interval=0.4,
        deadline_slack=15.0,
        verbose=False,
    )
    assert [(r["n"], r["mode"]) for r in result["runs"]] == [(6, "coalesced"), (6, "naive")]
    for r in result["runs"]:
        assert sum(r["events"].values()) == 6 and set(r["events"]) <= OUTCOMES
        for key in ("requests_per_tick", "loop_lag_ms", "detection_latency_s", "requests_per_window"):
            _is_summary(r[key])
        assert r["requests_total"] > 0 and r["emulator_get_response_requests"] >= r["requests_total"]
    assert set(result["ratios"]["6"]) >= {"requests_total", "client_cpu_seconds", "rss_growth_mb"}
    _goals_ok(result)
    _non_negative(result)
    assert "naive" in b2_event_loop.report(result)


def test_b3_detection_latency() -> None:
    from benchmarks import b3_detection_latency

    result = b3_detection_latency.run(
        classes={"short": 1.0, "medium": 2.0},
        jobs=4,
        jitter=0.1,
        late_start=1.5,
        default_cadence=(0.3, 0.3, 0.6),
        deadline_slack=15.0,
        verbose=False,
    )
    rows = {(r["class"], r["variant"]) for r in result["rows"]}
    # The generation time is the class's; the requested durations cycle through every class.
    assert rows == {(c, v) for c in ("short", "medium") for v in ("default", "naive")} | {("short", "late")}
    for r in result["rows"]:
        assert sum(r["events"].values()) == 4 and set(r["events"]) <= OUTCOMES
        _is_summary(r["latency_s"])
        _is_summary(r["polls"])
        assert set(r["latency_p50_by_duration"]) <= {str(d) for d in b3_detection_latency.REQUESTED_DURATIONS}
    assert result["variants"]["naive"]["coalesce"] is False
    assert result["trigger_cadence_consistency"]["matches"] is True
    _goals_ok(result)
    _non_negative(result)  # a video is only reported done after the emulator completed it: latency >= 0
    assert "naive p50 / ours" in b3_detection_latency.report(result)


@pytest.mark.slow
def test_b1_worker_hold() -> None:
    from benchmarks import b1_worker_hold

    result = b1_worker_hold.run(generation_seconds=1.0, videos=1, poll_initial_delay=0.5, verbose=False)
    assert set(result["variants"]) == {"deferrable", "blocking"}
    for v in result["variants"].values():
        assert v["succeeded"] == 1, v
        for key in ("operator_hold_s", "execute_s", "runner_hold_s", "end_to_end_s"):
            _is_summary(v[key])
    assert result["variants"]["deferrable"]["execute_complete_s"]["n"] == 1
    assert result["variants"]["deferrable"]["runner_starts_per_video"] == 2
    _goals_ok(result)
    _non_negative(result)


@pytest.mark.slow
def test_b4_s3_copy() -> None:
    from benchmarks import b4_s3_copy

    result = b4_s3_copy.main(["--size-mb", "20", "--rounds", "2"])
    assert len(result["rounds"]) == 2 and len(result["round_ratios"]) == 2
    for pair in result["rounds"]:
        assert set(pair) == set(b4_s3_copy.VARIANTS)
        land = pair["land_videos"]
        assert land["tags"]["sha256"] == land["sha256"] and land["tags"]["size"] == str(20 * 1024 * 1024)
        assert land["s3_operations"]["UploadPart"] == 3  # 20 MiB in parts of 8 MiB
    assert result["throughput_ratio"] == pytest.approx(sum(result["round_ratios"]) / 2)  # the median of 2
    _goals_ok(result)
    _non_negative(result)


def test_runner_writes_results_and_records_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import run

    def ok(full: bool) -> dict[str, Any]:
        return {"benchmark": "ok", "full": full, "goals": [_common.goal("g", 1.0, 2.0)]}

    def broken(full: bool) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "BENCHMARKS", {"ok_bench": ok, "broken_bench": broken})
    out = tmp_path / "latest.json"
    assert run.main(["--only", "ok", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["command"] == f"python -m benchmarks.run --only ok --out {out}"
    assert document["results"]["ok_bench"]["full"] is False
    assert document["goals"][0]["goal"] == "ok_bench: g" and document["goals"][0]["met"] is True
    assert run.main(["--full", "--out", str(out)]) == 1
    document = json.loads(out.read_text())
    assert "boom" in document["results"]["broken_bench"]["error"] and document["mode"] == "full"
    assert run.main(["--only", "broken", "--merge", "--out", str(out)]) == 1
    document = json.loads(out.read_text())
    assert set(document["results"]) == {"ok_bench", "broken_bench"}
    assert document["results"]["ok_bench"]["command"] == f"python -m benchmarks.run --full --out {out}"
    assert document["results"]["broken_bench"]["command"].endswith("--merge --out " + str(out))
