"""B2: one event loop waiting for N in-flight videos, as the triggerer does — coalesced vs naive polling.

    python -m benchmarks.b2_event_loop                    # N = 1,000 and 5,000; 12 s generations (quick)
    python -m benchmarks.b2_event_loop --full             # N = 100, 1,000, 5,000; 30 s generations
    python -m benchmarks.b2_event_loop --sizes 1000 --processing-seconds 30

For each N and each mode, a fresh client process submits N Wan2.7 tasks to the emulator (a separate
``runware-emulator`` process; generation time ``processing_seconds`` +- ``jitter``, so completions are
spread over a window) and then runs ``RunwareVideoTrigger.run()`` for all N concurrently in ONE asyncio
loop, each trigger as its own task (what the triggerer does). Both modes use the same cadence, the
operator's default (``poller.DEFAULT_CADENCE``: a poll every 2 s counted from the submit):

* ``coalesced`` — ``coalesce=True``: the shared :class:`~airflow_provider_wan.poller.CoalescingPoller`
  (one client, up to ``DEFAULT_MAX_BATCH`` task UUIDs per ``getResponse`` request, flushed on a
  ``DEFAULT_WINDOW_SECONDS`` grid, at most ``MAX_REQUESTS_PER_FLUSH`` requests per flush; recorded in the
  results);
* ``naive`` — ``coalesce=False``: every trigger polls on its own (own client, one request per poll), the
  way most providers' triggers are written. This is the baseline, measured in the same run.

Measured in the client process only:

* **requests per tick** — a *tick* is one 1-second wall-clock window (the period of the triggerer's own
  main loop), from the first trigger's start to the last event; counted client-side at
  ``AsyncRunwareClient.get_responses`` (one call = one HTTP request) and cross-checked against the
  emulator's ledger. Also reported per 10-second window (one ``poll_max_interval``);
* total ``getResponse`` requests and task-polls (UUIDs asked for);
* CPU seconds of the client process (``time.process_time``) over the wait, and of the emulator process,
  with the emulator's RSS (start and peak, sampled every ~0.25 s);
* task-polls per job per 2 s: task-polls / (job-seconds from submit to detection / 2);
* RSS growth: peak VmRSS (VmHWM after a reset, cross-checked by sampling) minus VmRSS just before the
  triggers start (after imports, the submit and a warm-up);
* event-loop lag: a task sleeping 10 ms in a loop records its oversleep; p50/p99/max, and the total time
  lost in stalls longer than 100 ms (a single long stall is one sample: it shows in max and stalled
  seconds, not in p99);
* what stalled the loop: the loop thread's CPU during stalls over 100 ms (little CPU = a busy machine, not
  our code), its stack sampled during them (innermost provider frame), and the garbage collector's pauses
  per generation (a full collection of an unfrozen Airflow heap took ~0.5 s: see ``poller``);
* detection latency (event time - the emulator's ``completed_at``), for information.

Goals (coalesced): at N = 1,000 <= 10 requests per tick and <= 1 task-poll per job per 2 s; at N = 5,000
<= 30 requests per tick; at both, loop lag p99 < 100 ms, RSS growth <= 200 MB (150 MB at 1,000), and no
trigger lost or hung.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    EmulatorProcess,
    _child_env,
    cpu_seconds,
    emit,
    goal,
    goals_table,
    hwm_mb,
    ratio,
    reset_hwm,
    rss_mb,
    run_child,
    submit_jobs,
    summary,
    table,
    video_task,
)

MODULE = "benchmarks.b2_event_loop"
MODES = ("coalesced", "naive")
# Quick mode keeps both goal sizes so that `make bench` gives the verdicts.
QUICK = {"sizes": (1000, 5000), "processing_seconds": 12.0, "jitter": 0.5}
FULL = {"sizes": (100, 1000, 5000), "processing_seconds": 30.0, "jitter": 0.5}
# N -> (requests per 1 s tick, RSS growth MB); loop lag p99 < 100 ms at every N.
GOALS = {1000: (10, 150.0), 5000: (30, 200.0)}
LAG_PERIOD = 0.010
TICK_SECONDS = 1.0
WINDOW_SECONDS = 10.0


def run(
    sizes: Sequence[int] = QUICK["sizes"],  # type: ignore[assignment]
    processing_seconds: float = QUICK["processing_seconds"],  # type: ignore[assignment]
    jitter: float = QUICK["jitter"],  # type: ignore[assignment]
    poll_initial_delay: float | None = None,
    poll_interval: float | None = None,
    poll_max_interval: float | None = None,
    poll_plateau_seconds: float | None = None,
    modes: Sequence[str] = MODES,
    deadline_slack: float = 120.0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run every (N, mode) in a fresh client process against one emulator process; returns the results."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown mode(s) {sorted(unknown)}; choose from {MODES}")
    from airflow_provider_wan.poller import DEFAULT_CADENCE as D

    cadence = {
        "poll_initial_delay": D.initial_delay if poll_initial_delay is None else poll_initial_delay,
        "poll_interval": D.interval if poll_interval is None else poll_interval,
        "poll_max_interval": D.max_interval if poll_max_interval is None else poll_max_interval,
        "poll_plateau_seconds": D.plateau_seconds if poll_plateau_seconds is None else poll_plateau_seconds,
    }
    runs: list[dict[str, Any]] = []
    # A deadline far beyond the slowest job: a timeout would be a failure of the benchmark, not a result.
    timeout = (
        processing_seconds * (1 + jitter)
        + cadence["poll_initial_delay"]
        + 10 * cadence["poll_max_interval"]
        + deadline_slack
    )
    with EmulatorProcess(
        processing_seconds=processing_seconds, seconds_per_output_second=0, jitter=jitter
    ) as emu:
        env = _child_env({CONN_ENV: emu.conn_json()})
        for n in sizes:
            for mode in modes:
                emu.reset(keep_faults=True)
                params = {
                    "n": int(n),
                    "mode": mode,
                    "base_url": emu.base_url,
                    "api_key": emu.api_key,
                    "emulator_pid": emu.pid,
                    "deadline_seconds": timeout,
                    **cadence,
                }
                result = run_child(MODULE, params, env, timeout=timeout + 300)
                runs.append(result)
                if verbose:
                    print(
                        f"  b2 N={n:<5} {mode:<9} wall {result['wall_seconds']:.0f}s  "
                        f"req/tick max {result['requests_per_tick']['max']:.0f}  "
                        f"lag p99 {result['loop_lag_ms']['p99']:.1f} ms  "
                        f"RSS +{result['rss_growth_mb']:.1f} MB  "
                        f"emulator CPU {result['emulator_cpu_seconds']:.1f}s",
                        flush=True,
                    )
    from airflow_provider_wan import poller

    result = {
        "benchmark": "b2_event_loop",
        "params": {
            "poller_max_batch": poller.DEFAULT_MAX_BATCH,
            "poller_window_seconds": poller.DEFAULT_WINDOW_SECONDS,
            "poller_max_requests_per_flush": poller.MAX_REQUESTS_PER_FLUSH,
            "sizes": list(sizes),
            "processing_seconds": processing_seconds,
            "jitter": jitter,
            "tick_seconds": TICK_SECONDS,
            **cadence,
        },
        "runs": runs,
        "ratios": _ratios(runs),
    }
    result["goals"] = _goals(runs)
    if verbose:
        print(report(result))
    return result


def _ratios(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """naive / coalesced for each N (how many times more the baseline costs)."""
    by = {(r["n"], r["mode"]): r for r in runs}
    out: dict[str, dict[str, float | None]] = {}
    for n in sorted({r["n"] for r in runs}):
        c, b = by.get((n, "coalesced")), by.get((n, "naive"))
        if c is None or b is None:
            continue
        out[str(n)] = {
            "requests_total": ratio(b["requests_total"], c["requests_total"]),
            "requests_per_tick_max": ratio(b["requests_per_tick"]["max"], c["requests_per_tick"]["max"]),
            "client_cpu_seconds": ratio(b["client_cpu_seconds"], c["client_cpu_seconds"]),
            "emulator_cpu_seconds": ratio(b["emulator_cpu_seconds"], c["emulator_cpu_seconds"]),
            "rss_growth_mb": ratio(b["rss_growth_mb"], c["rss_growth_mb"]),
            "loop_lag_p99_ms": ratio(b["loop_lag_ms"]["p99"], c["loop_lag_ms"]["p99"]),
        }
    return out


def _goals(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        if r["mode"] != "coalesced":
            continue
        n = r["n"]
        requests, rss = GOALS.get(n, GOALS[1000] if n < 5000 else GOALS[5000])
        at = f"N={n:,}" + ("" if n in GOALS else " (goals are stated for N=1,000 and 5,000)")
        out.append(
            goal(f"requests per 1 s tick, max, {at}", r["requests_per_tick"]["max"], requests, unit="req")
        )
        out.append(goal(f"event-loop lag p99, {at}", r["loop_lag_ms"]["p99"], 100, unit="ms"))
        out.append(goal(f"RSS growth, {at}", r["rss_growth_mb"], rss, unit="MB"))
        if n <= 1000:
            out.append(goal(f"task-polls per job per 2 s, {at}", r["task_polls_per_job_per_2s"], 1.0))
        lost = n - r["events"].get("success", 0)
        out.append(goal(f"triggers lost or hung, {at}", float(lost), 0, unit="triggers"))
    return out


def report(result: dict[str, Any]) -> str:
    rows = []
    for r in result["runs"]:
        rows.append(
            [
                r["n"],
                r["mode"],
                r["requests_total"],
                r["task_polls"],
                r["requests_per_tick"]["p50"],
                r["requests_per_tick"]["p95"],
                r["requests_per_tick"]["max"],
                r["requests_per_task_poll"],
                r["requests_per_window"]["max"],
                r["client_cpu_seconds"],
                r["emulator_cpu_seconds"],
                r["emulator_rss_mb"]["peak"],
                r["rss_growth_mb"],
                r["loop_lag_ms"]["p50"],
                r["loop_lag_ms"]["p99"],
                r["loop_lag_ms"]["max"],
                r["loop_stalled_seconds"],
                r["loop_stalls_cpu_s"],
                r["gc_pauses_ms"]["gen2"]["max"],
                r["detection_latency_s"]["p50"],
                f"{r['events'].get('success', 0)}/{r['n']}",
            ]
        )
    p = result["params"]
    plateau = "" if p.get("poll_plateau_seconds") is None else f" until {p['poll_plateau_seconds']:g}"
    text = table(
        f"B2 one event loop, N in-flight jobs (generation {p['processing_seconds']:g} s +-"
        f"{p['jitter'] * 100:.0f}%, cadence {p['poll_initial_delay']:g}/{p['poll_interval']:g}{plateau}/"
        f"{p['poll_max_interval']:g} s; poller batch {p['poller_max_batch']}, grid "
        f"{p['poller_window_seconds']:g} s; tick = 1 s, window = 10 s)",
        [
            "N",
            "mode",
            "requests",
            "task polls",
            "req/tick p50",
            "req/tick p95",
            "req/tick max",
            "req/poll",
            "req/10s max",
            "client CPU s",
            "emu CPU s",
            "emu RSS MB",
            "RSS +MB",
            "lag p50 ms",
            "lag p99 ms",
            "lag max ms",
            "stalled s",
            "stall CPU s",
            "full GC ms",
            "detect p50 s",
            "ok",
        ],
        rows,
    )
    ratio_rows = [
        [
            n,
            v["requests_total"],
            v["requests_per_tick_max"],
            v["client_cpu_seconds"],
            v["emulator_cpu_seconds"],
            v["rss_growth_mb"],
            v["loop_lag_p99_ms"],
        ]
        for n, v in result["ratios"].items()
    ]
    if ratio_rows:
        text += "\n\n" + table(
            "B2 ratios naive / coalesced (x times the cost of coalescing)",
            ["N", "requests", "req/tick max", "client CPU", "emu CPU", "RSS growth", "lag p99"],
            ratio_rows,
        )
    stalls = [
        f"N={r['n']} {r['mode']}: "
        + ", ".join(f"{t['frame']} {t['sampled_ms']} ms" for t in r["stall_stacks"][:3])
        for r in result["runs"]
        if r["stall_stacks"]
    ]
    if stalls:
        text += "\n\nSampled during stalls > 100 ms (innermost provider frame):\n  " + "\n  ".join(stalls)
    if result.get("goals"):
        text += "\n\n" + goals_table(result["goals"])
    return text


# --------------------------------------------------------------------------------------------------
# Child: the measured client process


def _buckets(
    times: list[float], start: float, end: float, width: float, weights: list[int] | None = None
) -> list[int]:
    count = max(1, int((end - start) // width) + 1)
    buckets = [0] * count
    for i, t in enumerate(times):
        index = int((t - start) // width)
        if 0 <= index < count:
            buckets[index] += weights[i] if weights else 1
    return buckets


class StallSampler(threading.Thread):
    """Samples the event-loop thread's stack every ``period`` s while the loop has not ticked for more than
    ``threshold`` s: what the loop was doing during its stalls (file:function, innermost last)."""

    def __init__(self, threshold: float = 0.1, period: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.threshold, self.period = threshold, period
        self.loop_thread = threading.get_ident()
        self.last_beat = time.perf_counter()
        self.stacks: Counter[str] = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.period):
            if time.perf_counter() - self.last_beat <= self.threshold:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            names, ours = [], ""
            while frame is not None:
                code = frame.f_code
                names.append(f"{Path(code.co_filename).stem}:{code.co_name}")
                if not ours and "airflow_provider_wan" in code.co_filename:
                    ours = names[-1]
                frame = frame.f_back
            # The innermost provider frame names the cause; without one, the innermost frame.
            self.stacks[ours or names[0] if names else "-"] += 1

    def top(self, count: int = 6) -> list[dict[str, Any]]:
        return [
            {"frame": frame, "sampled_ms": round(n * self.period * 1000)}
            for frame, n in self.stacks.most_common(count)
        ]


async def _measure(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_wan.client import AsyncRunwareClient
    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    n, mode = int(params["n"]), params["mode"]
    sent: list[tuple[float, int]] = []
    original = AsyncRunwareClient.get_responses

    async def counted(self: AsyncRunwareClient, task_uuids: Sequence[str]) -> Any:
        sent.append((time.monotonic(), len(task_uuids)))
        return await original(self, task_uuids)

    AsyncRunwareClient.get_responses = counted  # type: ignore[method-assign]

    # Set-up (not measured): submit the jobs, warm the imports and the connection lookup.
    uuids = [str(uuid.uuid4()) for _ in range(n)]
    tasks = [video_task(u, prompt=f"b2 job {i}: a lighthouse at dusk") for i, u in enumerate(uuids)]
    submitted_at = submit_jobs(params["base_url"], params["api_key"], tasks)
    config = await RunwareHook("runware_default").aconfig()
    await AsyncRunwareClient(config).aclose()
    del tasks
    gc.collect()

    plateau = params.get("poll_plateau_seconds")
    extra: dict[str, Any] = {} if plateau is None else {"poll_plateau_seconds": plateau}
    triggers = [
        RunwareVideoTrigger(
            task_uuid=u,
            end_time=submitted_at + float(params["deadline_seconds"]),
            submitted_at=submitted_at,
            poll_initial_delay=params["poll_initial_delay"],
            poll_interval=params["poll_interval"],
            poll_max_interval=params["poll_max_interval"],
            coalesce=mode != "naive",
            **extra,
        )
        for u in uuids
    ]
    events: dict[str, tuple[float, float, str]] = {}
    lags: list[float] = []
    rss_samples: list[float] = []
    stop = asyncio.Event()

    stalls: list[tuple[float, float]] = []  # (wall s, CPU s of the loop thread) of each stall > 100 ms

    async def ticker() -> None:
        beats = 0
        while not stop.is_set():
            began = time.perf_counter()
            cpu_then = time.thread_time()
            await asyncio.sleep(LAG_PERIOD)
            sampler.last_beat = now = time.perf_counter()
            lags.append(now - began - LAG_PERIOD)
            cpu_now = time.thread_time()
            if lags[-1] > 0.1:  # CPU this thread burnt during the stall: ours, or a busy machine's
                stalls.append((lags[-1], cpu_now - cpu_then))
            beats += 1
            if beats % 25 == 0:
                rss_samples.append(rss_mb())
                emulator_rss.append(rss_mb(params["emulator_pid"]))

    async def drive(trigger: RunwareVideoTrigger) -> None:
        async for event in trigger.run():
            events[trigger.task_uuid] = (time.time(), time.monotonic(), str(event.payload.get("status")))

    sampler = StallSampler()
    gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    gc_began = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:  # how long each collection stops the loop
        if phase == "start":
            gc_began[0] = time.perf_counter()
        else:
            gc_pauses[info["generation"]].append(time.perf_counter() - gc_began[0])

    gc.callbacks.append(gc_timer)
    emulator_rss = [rss_mb(params["emulator_pid"])]
    base_rss = rss_mb()
    hwm_reset = reset_hwm()
    emu_cpu0 = cpu_seconds(params["emulator_pid"])
    cpu0 = time.process_time()
    t0 = time.monotonic()
    wall0 = time.perf_counter()
    lag_task = asyncio.create_task(ticker())
    sampler.start()
    waits = [asyncio.create_task(drive(t)) for t in triggers]
    # A trigger still waiting well past its own deadline is stuck: stop it and count it as "hung".
    _, stuck = await asyncio.wait(waits, timeout=float(params["deadline_seconds"]) + 60)
    for task in stuck:
        task.cancel()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    emu_cpu = cpu_seconds(params["emulator_pid"]) - emu_cpu0
    stop.set()
    await lag_task
    sampler.done.set()
    gc.callbacks.remove(gc_timer)
    end_rss = rss_mb()
    peak = max([end_rss, *rss_samples, hwm_mb() if hwm_reset else 0.0])
    del triggers, waits

    # Not measured: read the emulator's ledger for completion times and its own request count.
    import httpx

    root = params["base_url"].rsplit("/v1", 1)[0]
    ledger = httpx.get(f"{root}/_emulator/ledger", timeout=120, trust_env=False).json()
    completed = {t["taskUUID"]: t["completed_at"] for t in ledger["tasks"]}
    latency = [events[u][0] - completed[u] for u in uuids if u in events and completed.get(u) is not None]
    waited = sum(events[u][0] - submitted_at for u in uuids if u in events)  # job-seconds in flight
    t_end = max((e[1] for e in events.values()), default=t0)
    times = [t for t, _ in sent]
    counts = [c for _, c in sent]
    per_tick = _buckets(times, t0, t_end, TICK_SECONDS)
    per_tick_polls = _buckets(times, t0, t_end, TICK_SECONDS, counts)
    per_window = _buckets(times, t0, t_end, WINDOW_SECONDS)
    return {
        "n": n,
        "mode": mode,
        "wall_seconds": round(wall, 2),
        "requests_total": len(sent),
        "task_polls": sum(counts),
        "uuids_per_request": summary(counts, 1),
        "emulator_get_response_requests": ledger["get_response_uuids_per_request"]["count"],
        "emulator_http_requests": ledger["http_requests"],
        "requests_per_tick": summary(per_tick, 1),
        "requests_per_tick_series": per_tick,
        "requests_per_task_poll": round(len(sent) / sum(counts), 4) if counts else None,
        "task_polls_per_tick": summary(per_tick_polls, 1),
        "requests_per_window": summary(per_window, 1),
        "ticks": len(per_tick),
        "client_cpu_seconds": round(cpu, 3),
        "client_cpu_ms_per_job": round(1000 * cpu / n, 3),
        "emulator_cpu_seconds": round(emu_cpu, 3),
        "rss_base_mb": round(base_rss, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_end_mb": round(end_rss, 1),
        "rss_growth_mb": round(max(0.0, peak - base_rss), 1),
        "hwm_reset": hwm_reset,
        "loop_lag_ms": summary([1000 * x for x in lags], 2),
        "loop_stalled_seconds": round(sum(x for x in lags if x > 0.1), 2),
        "loop_stalls_over_100ms": len(stalls),
        "loop_stalls_cpu_s": round(sum(c for _, c in stalls), 2),
        "stall_stacks": sampler.top(),
        "gc_pauses_ms": {f"gen{g}": summary([1000 * x for x in v], 1) for g, v in gc_pauses.items()},
        "emulator_rss_mb": {"start": round(emulator_rss[0], 1), "peak": round(max(emulator_rss), 1)},
        "task_polls_per_job_per_2s": round(sum(counts) / (waited / 2), 3) if waited else None,
        "detection_latency_s": summary(latency, 2),
        "events": dict(Counter(e[2] for e in events.values())) | ({"hung": len(stuck)} if stuck else {}),
    }


def _child(params: dict[str, Any]) -> None:
    emit(asyncio.run(_measure(params)))


# --------------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="30 s generations instead of 12 s (same N)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="e.g. 100,1000")
    parser.add_argument("--processing-seconds", type=float, help="emulator generation time")
    parser.add_argument("--jitter", type=float, help="generation time spread, fraction (0.5 = +-50%%)")
    parser.add_argument("--poll-initial-delay", type=float, help="default: the operator's")
    parser.add_argument("--poll-interval", type=float, help="default: the operator's")
    parser.add_argument("--poll-max-interval", type=float, help="default: the operator's")
    parser.add_argument(
        "--poll-plateau-seconds", type=float, help="steady interval until this long after submit"
    )
    parser.add_argument(
        "--modes",
        type=lambda s: [m.strip() for m in s.split(",")],
        default=list(MODES),
        help=f"comma list of {', '.join(MODES)} (default both)",
    )
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return None
    preset = FULL if args.full else QUICK
    result = run(
        sizes=args.sizes or preset["sizes"],
        processing_seconds=args.processing_seconds or preset["processing_seconds"],
        jitter=preset["jitter"] if args.jitter is None else args.jitter,
        poll_initial_delay=args.poll_initial_delay,
        poll_interval=args.poll_interval,
        poll_max_interval=args.poll_max_interval,
        poll_plateau_seconds=args.poll_plateau_seconds,
        modes=args.modes,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
