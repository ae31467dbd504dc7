"""Run every benchmark; print a table per benchmark and a goal summary; write benchmarks/results/latest.json.

    python -m benchmarks.run                     # quick (~20 min: B2 at 5,000 jobs, B3's 300 s class)
    python -m benchmarks.run --full              # the sizes of docs/benchmarks.md (~30 min)
    python -m benchmarks.run --only b2,b3        # a subset (names or their prefixes)
    python -m benchmarks.run --full --only b2 --merge   # re-run one, keep the others in the results file
    make bench BENCH_ARGS="--full"

Benchmarks run one after another (never concurrently: the machine is small and shared). Each one compares
against a baseline measured side by side in the same run and reports the ratio; a benchmark that fails is
recorded with its error and the others still run (exit status 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, goals_table, load_average

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def _b4(full: bool) -> dict[str, Any]:
    module = importlib.import_module("benchmarks.b4_s3_copy")
    # The goal's size in both modes (~1 min): at 64 MiB the copy is over before streaming can overlap it.
    result: dict[str, Any] = module.main(["--size-mb", "1024", "--rounds", "5" if full else "3"])
    return result


def _plain(module: str, quick: dict[str, Any], full: dict[str, Any]) -> Callable[[bool], dict[str, Any]]:
    def call(is_full: bool) -> dict[str, Any]:
        result: dict[str, Any] = importlib.import_module(module).run(**(full if is_full else quick))
        return result

    return call


# name -> how to run it (quick or full). Sizes: see each module's docstring.
BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "b5_import_time": _plain("benchmarks.b5_import_time", {"repeats": 7}, {"repeats": 21}),
    "emulator_capacity": _plain(
        "benchmarks.emulator_capacity",
        {"tasks": 5000, "load_seconds": 5.0},
        {"tasks": 20_000, "load_seconds": 15.0},
    ),
    "b1_worker_hold": _plain(
        "benchmarks.b1_worker_hold",
        {"generation_seconds": 20.0, "videos": 2},
        {"generation_seconds": 60.0, "videos": 3},
    ),
    "b2_event_loop": _plain(
        "benchmarks.b2_event_loop",
        {"sizes": (1000, 5000), "processing_seconds": 12.0, "jitter": 0.5},
        {"sizes": (100, 1000, 5000), "processing_seconds": 30.0, "jitter": 0.5},
    ),
    # The 300 s class is real in both modes: ~5.5 min of wall time whatever the job count.
    "b3_detection_latency": _plain("benchmarks.b3_detection_latency", {"jobs": 6}, {"jobs": 20}),
    "b4_s3_copy": _b4,
}


def _select(only: str | None, skip: str | None) -> list[str]:
    def match(spec: str | None) -> set[str]:
        if not spec:
            return set()
        wanted = [w.strip() for w in spec.split(",") if w.strip()]
        return {name for name in BENCHMARKS for w in wanted if name == w or name.startswith(w)}

    names = [n for n in BENCHMARKS if not only or n in match(only)]
    return [n for n in names if n not in match(skip)]


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return (
            done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if done.returncode == 0 else None
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/meminfo") as meminfo:
            info["mem_gib"] = round(int(meminfo.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["airflow"] = version("apache-airflow")
    except Exception:
        pass
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="the full sizes (see docs/benchmarks.md)")
    parser.add_argument("--only", help=f"comma list of benchmarks or prefixes: {', '.join(BENCHMARKS)}")
    parser.add_argument("--skip", help="comma list of benchmarks or prefixes to leave out")
    parser.add_argument(
        "--out", default=str(RESULTS), help=f"results file (default {RESULTS.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other benchmarks' results already in --out (each result records its own command)",
    )
    args = parser.parse_args(argv)
    names = _select(args.only, args.skip)
    if not names:
        parser.error("no benchmark selected")

    command = (
        "python -m benchmarks.run" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    started = time.time()
    document: dict[str, Any] = {
        "command": command,
        "mode": "full" if args.full else "quick",
        "started_at": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {**_machine(), "load_average_at_start": load_average()},
        "results": {},
    }
    failed = False
    for name in names:
        print(f"\n=== {name} ({'full' if args.full else 'quick'}) ===", flush=True)
        began = time.perf_counter()
        try:
            result = BENCHMARKS[name](args.full)
        except Exception as exc:
            failed = True
            traceback.print_exc()
            result = {"benchmark": name, "error": f"{type(exc).__name__}: {exc}"[-4000:]}
        result["elapsed_seconds"] = round(time.perf_counter() - began, 1)
        result["load_average_after"] = load_average()
        result["command"] = command
        result["git_commit"] = document["git_commit"]
        result["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        document["results"][name] = result
        print(f"--- {name}: {result['elapsed_seconds']:.0f} s", flush=True)

    document["duration_seconds"] = round(time.time() - started, 1)
    document["machine"]["load_average_at_end"] = load_average()
    out = Path(args.out)
    if args.merge and out.exists():
        previous = json.loads(out.read_text())
        kept = {k: v for k, v in previous.get("results", {}).items() if k not in document["results"]}
        for result in kept.values():  # results written before per-result provenance existed
            result.setdefault("command", previous.get("command"))
            result.setdefault("git_commit", previous.get("git_commit"))
        document["results"] = {**kept, **document["results"]}
        document["merged_from"] = [previous.get("command"), *previous.get("merged_from", [])]
    goals = [
        {**g, "goal": f"{name}: {g['goal']}"}
        for name, result in document["results"].items()
        for g in result.get("goals", [])
    ]
    document["goals"] = goals
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print("\n=== summary ===")
    if goals:
        print(goals_table(goals))
    for name, result in document["results"].items():
        if "error" in result:
            print(f"{name}: FAILED: {result['error'][:300]}")
    print(f"\n{command}: {document['duration_seconds']:.0f} s; results in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
