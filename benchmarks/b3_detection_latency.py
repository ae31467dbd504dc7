"""B3: how soon a finished video is noticed, whatever the generation takes and whatever ``duration`` asked.

    python -m benchmarks.b3_detection_latency            # 10 s, 60 s and 300 s generations, 6 jobs each
    python -m benchmarks.b3_detection_latency --full     # the same classes, 20 jobs each
    python -m benchmarks.b3_detection_latency --classes 10s=10,60s=60 --jobs 4   # a shorter run

One client process (the emulator is a separate ``runware-emulator`` process) submits, for every
generation class, ``jobs`` Wan2.7 tasks per cadence variant, then runs every ``RunwareVideoTrigger``
concurrently in one asyncio loop. The emulator's generation time is the class's time +-10%
(``processing_seconds`` set before each class is submitted, ``seconds_per_output_second=0``), drawn
independently of the request: the requested ``duration`` cycles through 2, 5, 10 and 15 s in every class,
so a 2 s video may take 300 s and a 15 s one 10 s. The 300 s class is real in both modes (quick mode runs
fewer jobs; its wall time is the longest generation, ~5.5 min, whatever the job count). Variants, side by
side in the same loop:

* ``default`` — the cadence ``WanVideoOperator`` derives for each job's request (``_cadence``), coalesced
  as in production;
* ``naive`` — the baseline: a plain 2 s poll per task from the submit, one request per poll
  (``coalesce=False``), as most providers' triggers do;
* ``guess`` — the previous release's cadence for comparison: first poll at 60 % of ``20 + 6 x duration``
  s, then every 3 s until twice that, then backing off to 10 s (rebuilt from ``PollCadence``'s fields);
* ``late`` (10 s class only) — the default cadence in triggers started ``late_start`` s after the submit
  (a triggerer restart): measured is how soon after its start each trigger yields (``after_start_s``).

Per job: **detection latency** = time the trigger yielded its event - the emulator's ``completed_at``
(same clock, same machine); **polls** = ``getResponse`` look-ups of that task (with coalescing many jobs
share a request); **polls per 2 s** = polls / (seconds from submit to detection / 2). Goals for every
class, default cadence: p50 <= 2 s, p95 <= 4 s, <= 1 poll per job per 2 s on average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    EmulatorProcess,
    _child_env,
    emit,
    goal,
    goals_table,
    ratio,
    run_child,
    submit_jobs,
    summary,
    table,
    video_task,
)

MODULE = "benchmarks.b3_detection_latency"
CLASSES = {"10s": 10.0, "60s": 60.0, "300s": 300.0}
REQUESTED_DURATIONS = (2, 5, 10, 15)
NAIVE_CADENCE = {
    "poll_initial_delay": 2.0,
    "poll_interval": 2.0,
    "poll_max_interval": 10.0,
    "poll_plateau_seconds": None,
}
CADENCE_KEYS = ("poll_initial_delay", "poll_interval", "poll_max_interval", "poll_plateau_seconds")
GOALS = {"p50": 2.0, "p95": 4.0, "polls_per_2s": 1.0}


def operator_cadence(duration: int) -> dict[str, float | None]:
    """The cadence ``WanVideoOperator`` derives (with its defaults) for a ``duration``-second video."""
    from airflow_provider_wan.operators.video import WanVideoOperator

    op = WanVideoOperator(task_id="b3_probe", positive_prompt="probe", size="720p_16_9", duration=duration)
    cadence = op._cadence(op.build_request())
    return {
        "poll_initial_delay": cadence.initial_delay,
        "poll_interval": cadence.interval,
        "poll_max_interval": cadence.max_interval,
        "poll_plateau_seconds": cadence.plateau_seconds,
    }


def guessed_cadence(duration: int) -> dict[str, float | None]:
    """The previous release's cadence: it guessed the generation time from ``duration``."""
    expected = 20.0 + 6.0 * duration
    return {
        "poll_initial_delay": min(60.0, 0.6 * expected),
        "poll_interval": 3.0,
        "poll_max_interval": 10.0,
        "poll_plateau_seconds": 2.0 * expected,
    }


def run(
    classes: dict[str, float] | None = None,
    jobs: int = 6,
    jitter: float = 0.1,
    late_start: float = 30.0,
    default_cadence: Sequence[float | None] | None = None,
    deadline_slack: float = 300.0,
    verbose: bool = True,
) -> dict[str, Any]:
    """All classes x variants concurrently in one child process; returns per-(class, variant) figures.

    ``default_cadence``: (initial, interval, max, plateau) replacing the operator's (tests only).
    """
    classes = dict(classes or CLASSES)
    default = {d: operator_cadence(d) for d in REQUESTED_DURATIONS}
    if default_cadence is not None:
        default = {d: _override(c, default_cadence) for d, c in default.items()}
    variants: dict[str, dict[str, Any]] = {
        "default": {"coalesce": True, "by_duration": default},
        "naive": {"coalesce": False, "by_duration": {d: NAIVE_CADENCE for d in REQUESTED_DURATIONS}},
        "guess": {"coalesce": True, "by_duration": {d: guessed_cadence(d) for d in REQUESTED_DURATIONS}},
        "late": {"coalesce": True, "by_duration": default, "late_start": late_start},
    }
    if default_cadence is not None:  # the tests' tiny classes: the guess would wait far longer
        del variants["guess"]
    longest = max(classes.values())
    deadline = longest * (1 + jitter) + deadline_slack
    with EmulatorProcess(processing_seconds=1, seconds_per_output_second=0, jitter=jitter) as emu:
        params = {
            "classes": classes,
            "variants": {k: _jsonable(v) for k, v in variants.items()},
            "jobs": jobs,
            "base_url": emu.base_url,
            "api_key": emu.api_key,
            "deadline_seconds": deadline,
        }
        env = _child_env({CONN_ENV: emu.conn_json()})
        measured = run_child(MODULE, params, env, timeout=deadline + late_start + 300)
    rows = measured["rows"]
    result: dict[str, Any] = {
        "benchmark": "b3_detection_latency",
        "params": {
            "classes": classes,
            "jobs_per_variant": jobs,
            "jitter": jitter,
            "requested_durations": list(REQUESTED_DURATIONS),
            "late_start_seconds": late_start,
        },
        "variants": {k: _describe(v) for k, v in variants.items()},
        "trigger_cadence_consistency": trigger_consistency(default[REQUESTED_DURATIONS[0]]),
        "rows": rows,
        "ratios": _ratios(rows),
        "wall_seconds": measured["wall_seconds"],
    }
    result["goals"] = _goals(rows, result["trigger_cadence_consistency"])
    if verbose:
        print(report(result))
    return result


def _jsonable(variant: dict[str, Any]) -> dict[str, Any]:
    return {**variant, "by_duration": {str(d): c for d, c in variant["by_duration"].items()}}


def _describe(variant: dict[str, Any]) -> dict[str, Any]:
    """A variant as recorded: its cadence per requested duration (one entry when they are all equal)."""
    cadences = {json.dumps(c, sort_keys=True) for c in variant["by_duration"].values()}
    out = {k: v for k, v in variant.items() if k != "by_duration"}
    out["cadence"] = (
        next(iter(variant["by_duration"].values())) if len(cadences) == 1 else variant["by_duration"]
    )
    return out


def trigger_consistency(cadence: dict[str, float | None]) -> dict[str, Any]:
    """Does a trigger rebuilt from its serialized kwargs poll with the cadence the operator derived?"""
    from airflow_provider_wan.poller import PollCadence, Wait
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    intended = PollCadence(
        initial_delay=float(cadence["poll_initial_delay"] or 0),
        interval=float(cadence["poll_interval"] or 0),
        max_interval=float(cadence["poll_max_interval"] or 0),
        plateau_seconds=cadence["poll_plateau_seconds"],
    )
    wait = Wait("b3-probe", 1, time.time(), time.time() + 60, intended)
    trigger = RunwareVideoTrigger.for_wait(wait, runware_conn_id="runware_default")
    rebuilt = RunwareVideoTrigger(**trigger.serialize()[1])
    return {"matches": rebuilt.cadence == intended, "detail": repr(rebuilt.cadence)}


def _override(base: dict[str, float | None], values: Sequence[float | None]) -> dict[str, float | None]:
    out = dict(base)
    for key, value in zip(CADENCE_KEYS, values, strict=False):
        if value is not None:
            out[key] = float(value)
    return out


def _row(rows: list[dict[str, Any]], cls: str, variant: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["class"] == cls and r["variant"] == variant), None)


def _ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per class: the baseline's (naive) and the guess's latency / ours, and our polls / naive's."""
    out: dict[str, dict[str, float | None]] = {}
    for cls in dict.fromkeys(r["class"] for r in rows):
        ours, naive, guess = (_row(rows, cls, v) for v in ("default", "naive", "guess"))
        if ours is None or naive is None:
            continue
        out[cls] = {
            "naive_latency_p50_over_ours": ratio(naive["latency_s"]["p50"], ours["latency_s"]["p50"]),
            "guess_latency_p50_over_ours": (
                ratio(guess["latency_s"]["p50"], ours["latency_s"]["p50"]) if guess else None
            ),
            "our_polls_over_naive": ratio(ours["polls"]["mean"], naive["polls"]["mean"]),
        }
    return out


def _goals(rows: list[dict[str, Any]], consistency: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["variant"] != "default":
            continue
        job = f"{r['generation_seconds']:g} s generations, default cadence"
        out.append(goal(f"{job}: latency p50", r["latency_s"]["p50"], GOALS["p50"], unit="s"))
        out.append(goal(f"{job}: latency p95", r["latency_s"]["p95"], GOALS["p95"], unit="s"))
        out.append(goal(f"{job}: polls per job per 2 s", r["polls_per_2s"], GOALS["polls_per_2s"]))
        lost = r["jobs"] - r["events"].get("success", 0)
        out.append(goal(f"{job}: jobs not detected", float(lost), 0, unit="jobs"))
    out.append(
        goal("serialized trigger polls as the operator derived", 0.0 if consistency["matches"] else 1, 0)
    )
    return out


def _cadence_text(v: dict[str, Any]) -> str:
    c = v["cadence"]
    if "poll_interval" not in c:
        return "per duration"
    text = f"{c['poll_initial_delay']:g}/{c['poll_interval']:g}"
    if c.get("poll_plateau_seconds") is not None:
        text += f" until {c['poll_plateau_seconds']:g}"
    return text + f"/{c['poll_max_interval']:g}" + ("" if v["coalesce"] else " (1 req/poll)")


def report(result: dict[str, Any]) -> str:
    rows = []
    for r in result["rows"]:
        rows.append(
            [
                r["class"],
                f"{r['generation_seconds']:g}",
                r["variant"],
                _cadence_text(result["variants"][r["variant"]]),
                r["jobs"],
                r["latency_s"]["p50"],
                r["latency_s"]["p95"],
                r["latency_s"]["max"],
                r["after_start_s"]["p50"] if r["variant"] == "late" else None,
                r["polls"]["mean"],
                r["polls_per_2s"],
                f"{r['events'].get('success', 0)}/{r['jobs']}",
            ]
        )
    p = result["params"]
    text = table(
        f"B3 detection latency (event time - emulator completed_at); generation time +-"
        f"{p['jitter'] * 100:.0f}%, requested duration {'/'.join(map(str, p['requested_durations']))} s "
        f"in every class",
        [
            "class",
            "gen s",
            "variant",
            "cadence s",
            "jobs",
            "lat p50 s",
            "lat p95 s",
            "lat max s",
            "after start s",
            "polls/job",
            "polls/2 s",
            "ok",
        ],
        rows,
    )
    ratio_rows = [
        [k, v["naive_latency_p50_over_ours"], v["guess_latency_p50_over_ours"], v["our_polls_over_naive"]]
        for k, v in result["ratios"].items()
    ]
    text += "\n\n" + table(
        "B3 against the baselines (same run)",
        ["class", "naive p50 / ours", "guess p50 / ours", "our polls / naive's"],
        ratio_rows,
    )
    by_duration = [
        [r["class"], *(r["latency_p50_by_duration"].get(str(d)) for d in p["requested_durations"])]
        for r in result["rows"]
        if r["variant"] == "default"
    ]
    text += "\n\n" + table(
        "B3 default cadence: latency p50 (s) by requested duration",
        ["class", *(f"duration {d}" for d in p["requested_durations"])],
        by_duration,
    )
    return text + "\n\n" + goals_table(result["goals"])


# --------------------------------------------------------------------------------------------------
# Child


async def _measure(params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.poller import CoalescingPoller
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    polls: Counter[str] = Counter()
    original = CoalescingPoller.get

    async def counted(self: CoalescingPoller, task_uuid: str) -> Any:
        polls[task_uuid] += 1
        return await original(self, task_uuid)

    CoalescingPoller.get = counted  # type: ignore[method-assign]
    await RunwareHook("runware_default").aconfig()  # warm the connection lookup

    root = params["base_url"].rsplit("/v1", 1)[0]
    jobs, variants = int(params["jobs"]), params["variants"]
    durations = list(REQUESTED_DURATIONS)
    plan: list[dict[str, Any]] = []
    with httpx.Client(base_url=root, timeout=60, trust_env=False) as control:
        for cls, seconds in params["classes"].items():
            chosen = [v for v in variants if v != "late" or cls == next(iter(params["classes"]))]
            control.post("/_emulator/faults", json={"processing_seconds": seconds}).raise_for_status()
            batch = [
                {
                    "uuid": str(uuid.uuid4()),
                    "class": cls,
                    "variant": v,
                    "duration": durations[i % len(durations)],
                }
                for v in chosen
                for i in range(jobs)
            ]
            tasks = [
                video_task(j["uuid"], prompt=f"b3 {cls} {j['variant']} {i}", duration=j["duration"])
                for i, j in enumerate(batch)
            ]
            submitted_at = submit_jobs(params["base_url"], params["api_key"], tasks)
            plan += [{**j, "submitted_at": submitted_at} for j in batch]

    events: dict[str, tuple[float, str]] = {}
    started: dict[str, float] = {}

    async def drive(trigger: RunwareVideoTrigger, delay: float) -> None:
        await asyncio.sleep(delay)
        started[trigger.task_uuid] = time.time()
        async for event in trigger.run():
            events[trigger.task_uuid] = (time.time(), str(event.payload.get("status")))

    waits = []
    for job in plan:
        variant = variants[job["variant"]]
        cadence = variant["by_duration"][str(job["duration"])]
        trigger = RunwareVideoTrigger(
            task_uuid=job["uuid"],
            end_time=job["submitted_at"] + float(params["deadline_seconds"]),
            submitted_at=job["submitted_at"],
            coalesce=variant["coalesce"],
            **cadence,
        )
        late = float(variant.get("late_start", 0.0))
        waits.append(asyncio.create_task(drive(trigger, max(0.0, job["submitted_at"] + late - time.time()))))
    began = time.perf_counter()
    # A trigger still waiting well past its own deadline is stuck: stop it and count it as "hung".
    _, stuck = await asyncio.wait(waits, timeout=float(params["deadline_seconds"]) + 90)
    for task in stuck:
        task.cancel()
    wall = time.perf_counter() - began

    ledger = httpx.get(f"{root}/_emulator/ledger", timeout=120, trust_env=False).json()
    records = {t["taskUUID"]: t for t in ledger["tasks"]}
    rows = []
    for cls, seconds in params["classes"].items():
        for variant in variants:
            mine = [j for j in plan if j["class"] == cls and j["variant"] == variant]
            if not mine:
                continue
            latencies, after_start, generations, waited = [], [], [], 0.0
            by_duration: dict[str, list[float]] = {}
            for job in mine:
                record = records.get(job["uuid"], {})
                done = record.get("completed_at")
                if done is not None and job["uuid"] in events:
                    seen = events[job["uuid"]][0]
                    latencies.append(seen - done)
                    by_duration.setdefault(str(job["duration"]), []).append(seen - done)
                    after_start.append(seen - started[job["uuid"]])
                    generations.append(done - record["created_at"])
                    waited += seen - job["submitted_at"]
            count = sum(polls[j["uuid"]] for j in mine)
            rows.append(
                {
                    "class": cls,
                    "generation_seconds": seconds,
                    "variant": variant,
                    "jobs": len(mine),
                    "latency_s": summary(latencies, 2),
                    "after_start_s": summary(after_start, 2),
                    "latency_p50_by_duration": {d: summary(v, 2)["p50"] for d, v in by_duration.items()},
                    "polls": summary([polls[j["uuid"]] for j in mine], 1),
                    "polls_per_2s": round(count / (waited / 2), 3) if waited else None,
                    "actual_generation_s": summary(generations, 1),
                    "events": dict(
                        Counter(events[j["uuid"]][1] if j["uuid"] in events else "hung" for j in mine)
                    ),
                }
            )
    return {"rows": rows, "wall_seconds": round(wall, 1)}


def _child(params: dict[str, Any]) -> None:
    emit(asyncio.run(_measure(params)))


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="20 jobs per class and variant (quick: 6)")
    parser.add_argument("--jobs", type=int, help="jobs per class and variant")
    parser.add_argument("--classes", help="name=seconds,... (default 10s=10,60s=60,300s=300)")
    parser.add_argument("--late-start", type=float, default=30.0, help="seconds after the submit")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return None
    classes = CLASSES
    if args.classes:
        classes = {k: float(v) for k, v in (item.split("=") for item in args.classes.split(","))}
    result = run(classes=classes, jobs=args.jobs or (20 if args.full else 6), late_start=args.late_start)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
