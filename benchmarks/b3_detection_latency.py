"""B3: how soon a finished video is noticed, and how many polls that costs — our cadence vs the SDK's.

    python -m benchmarks.b3_detection_latency             # short (10 s) and medium (60 s) generations
    python -m benchmarks.b3_detection_latency --full      # + long (180 s)
    python -m benchmarks.b3_detection_latency --proposed -,2.5   # another cadence, side by side

One client process (the emulator is a separate ``runware-emulator`` process) submits, for every generation
class, ``jobs`` tasks per cadence variant — a 5 s 720p Wan2.7 video whose generation takes the class's time
+-10% (emulator ``processing_seconds``, set before each class is submitted) — then runs every
``RunwareVideoTrigger`` concurrently in one asyncio loop. Variants, side by side in the same loop:

* ``default`` — the cadence ``WanVideoOperator`` derives for the request (``PollCadence.for_video``: initial
  delay, steady interval until the plateau end, capped backoff; the operator's defaults), coalesced like
  in production;
* ``sdk`` — the baseline: the official SDKs' cadence (1 s, then 1.5 s growing x1.5 up to 10 s), one
  request per poll (``coalesce=False``, as the SDK does);
* ``proposed`` (optional, ``--proposed initial,interval,max,plateau``; ``-`` keeps the default's value) —
  a candidate tuning measured side by side;
* ``intended`` (only when needed) — a consistency check runs first: if ``RunwareVideoTrigger`` built from
  the operator's cadence values does not poll with that same :class:`PollCadence` (``trigger.cadence``),
  the result says so and this variant runs the operator's exact cadence inside the trigger (a subclass
  overriding ``cadence``), to measure what the operator intends side by side with what ships.

Per job: **detection latency** = time the trigger yielded its event - the emulator's ``completed_at`` for the
task (same clock, same machine) and **polls** = getResponse look-ups of that task (each is one HTTP request
without coalescing; with coalescing many jobs share a request). Goal for a 60 s job: p50 latency <= 2 s with
<= 12 polls.
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
QUICK_CLASSES = {"short": 10.0, "medium": 60.0}
FULL_CLASSES = {"short": 10.0, "medium": 60.0, "long": 180.0}
SDK_CADENCE = {
    "poll_initial_delay": 1.0,
    "poll_interval": 1.5,
    "poll_max_interval": 10.0,
    "poll_plateau_seconds": None,
}
VIDEO_DURATION = 5
GOAL_CLASS = "medium"


CADENCE_KEYS = ("poll_initial_delay", "poll_interval", "poll_max_interval", "poll_plateau_seconds")


def operator_cadence(duration: int = VIDEO_DURATION) -> dict[str, float | None]:
    """The cadence ``WanVideoOperator`` derives (with its defaults) for a ``duration``-second video."""
    from airflow_provider_wan.operators.video import WanVideoOperator

    op = WanVideoOperator(task_id="b3_probe", positive_prompt="probe", size="720p_16_9", duration=duration)
    cadence = op._cadence(op.build_request())
    return {
        "poll_initial_delay": cadence.initial_delay,
        "poll_interval": cadence.interval,
        "poll_max_interval": cadence.max_interval,
        "poll_plateau_seconds": getattr(cadence, "plateau_seconds", None),
    }


def run(
    classes: dict[str, float] | None = None,
    jobs: int = 12,
    jitter: float = 0.1,
    proposed: Sequence[float | None] | None = None,
    default_cadence: Sequence[float | None] | None = None,
    deadline_slack: float = 300.0,
    verbose: bool = True,
) -> dict[str, Any]:
    """All classes x variants concurrently in one child process; returns per-(class, variant) figures.

    ``proposed``: (initial, interval, max, plateau) of a candidate cadence, None entries = the default's.
    ``default_cadence``: the same, replacing the operator's derived cadence (tests only).
    """
    classes = dict(classes or QUICK_CLASSES)
    default = operator_cadence()
    if default_cadence is not None:
        default = _override(default, default_cadence)
    variants: dict[str, dict[str, Any]] = {
        "default": {**default, "coalesce": True},
        "sdk": {**SDK_CADENCE, "coalesce": False},
    }
    if proposed is not None:
        variants["proposed"] = {**_override(default, proposed), "coalesce": True}
    consistency = trigger_consistency(default)
    if not consistency["matches"]:
        variants["intended"] = {**default, "coalesce": True, "exact_cadence": True}
    longest = max(classes.values())
    deadline = longest * (1 + jitter) + deadline_slack
    with EmulatorProcess(processing_seconds=1, seconds_per_output_second=0, jitter=jitter) as emu:
        params = {
            "classes": classes,
            "variants": variants,
            "jobs": jobs,
            "base_url": emu.base_url,
            "api_key": emu.api_key,
            "deadline_seconds": deadline,
        }
        env = _child_env({CONN_ENV: emu.conn_json()})
        measured = run_child(MODULE, params, env, timeout=deadline + 300)
    rows = measured["rows"]
    result: dict[str, Any] = {
        "benchmark": "b3_detection_latency",
        "params": {
            "classes": classes,
            "jobs_per_variant": jobs,
            "jitter": jitter,
            "video_duration": VIDEO_DURATION,
        },
        "variants": variants,
        "trigger_cadence_consistency": consistency,
        "rows": rows,
        "ratios": _ratios(rows),
        "wall_seconds": measured["wall_seconds"],
    }
    result["goals"] = _goals(rows)
    result["tuning"] = _tuning_note(rows, variants)
    if verbose:
        print(report(result))
    return result


def trigger_consistency(cadence: dict[str, float | None]) -> dict[str, Any]:
    """Does ``RunwareVideoTrigger`` poll with the cadence the operator hands it (``trigger.cadence``)?"""
    from airflow_provider_wan.poller import PollCadence
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    kwargs = {k: v for k, v in cadence.items() if v is not None}
    try:
        trigger = RunwareVideoTrigger(task_uuid="b3-probe", end_time=time.time() + 60, **kwargs)
    except TypeError as exc:  # the trigger does not take one of the operator's cadence arguments
        return {"matches": False, "detail": f"trigger rejects the operator's cadence: {exc}"}
    intended = _poll_cadence(cadence)
    actual = trigger.cadence
    diff = {
        name: {"operator": getattr(intended, name), "trigger": getattr(actual, name, None)}
        for name in PollCadence.__dataclass_fields__
        if getattr(intended, name) != getattr(actual, name, None)
    }
    return {"matches": not diff, "detail": diff}


def _poll_cadence(cadence: dict[str, Any]) -> Any:
    from airflow_provider_wan.poller import PollCadence

    fields = {
        "initial_delay": cadence["poll_initial_delay"],
        "interval": cadence["poll_interval"],
        "max_interval": cadence["poll_max_interval"],
    }
    if cadence.get("poll_plateau_seconds") is not None:
        fields["plateau_seconds"] = cadence["poll_plateau_seconds"]
    return PollCadence(**fields)


def _override(base: dict[str, float | None], values: Sequence[float | None]) -> dict[str, float | None]:
    out = dict(base)
    for key, value in zip(CADENCE_KEYS, values, strict=False):
        if value is not None:
            out[key] = float(value)
    return out


def _row(rows: list[dict[str, Any]], cls: str, variant: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["class"] == cls and r["variant"] == variant), None)


def _ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per class: sdk latency / ours (x faster) and our polls / sdk's (fraction of the SDK's polls)."""
    out: dict[str, dict[str, float | None]] = {}
    for cls in dict.fromkeys(r["class"] for r in rows):
        sdk = _row(rows, cls, "sdk")
        if sdk is None:
            continue
        for variant in ("default", "intended", "proposed"):
            ours = _row(rows, cls, variant)
            if ours is None:
                continue
            out[f"{cls}/{variant}"] = {
                "sdk_latency_p50_over_ours": ratio(sdk["latency_s"]["p50"], ours["latency_s"]["p50"]),
                "our_polls_p50_over_sdk": ratio(ours["polls"]["p50"], sdk["polls"]["p50"]),
            }
    return out


def _goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for variant in ("default", "intended", "proposed"):
        r = _row(rows, GOAL_CLASS, variant)
        if r is None:
            continue
        job = f"{r['generation_seconds']:g} s job, {variant} cadence"
        out.append(goal(f"{job}: latency p50", r["latency_s"]["p50"], 2.0, unit="s"))
        out.append(goal(f"{job}: polls per job p50", r["polls"]["p50"], 12, unit="polls"))
    return out


def _tuning_note(rows: list[dict[str, Any]], variants: dict[str, dict[str, Any]]) -> str:
    default = _row(rows, GOAL_CLASS, "default")
    if default is None:
        return ""
    lat, polls = default["latency_s"]["p50"], default["polls"]["p50"]
    parts = []
    job = f"{default['generation_seconds']:g} s"
    if lat > 2.0 or polls > 12:
        parts.append(
            f"default cadence misses the {job} goal: p50 {lat:.2f} s ({lat - 2.0:+.2f} s vs 2 s), "
            f"{polls:.0f} polls ({polls - 12:+.0f} vs 12)"
        )
    else:
        parts.append(f"default cadence meets the {job} goal: p50 {lat:.2f} s, {polls:.0f} polls")
    for name in ("intended", "proposed"):
        candidate = _row(rows, GOAL_CLASS, name)
        if candidate is not None:
            parts.append(
                f"{name} {_cadence_text(variants[name])}: p50 {candidate['latency_s']['p50']:.2f} s, "
                f"{candidate['polls']['p50']:.0f} polls"
            )
    return "; ".join(parts)


def _cadence_text(v: dict[str, Any]) -> str:
    """initial/interval/max, with ``until <plateau end>`` when the interval stays steady that long."""
    text = f"{v['poll_initial_delay']:g}/{v['poll_interval']:g}"
    if v.get("poll_plateau_seconds") is not None:
        text += f" until {v['poll_plateau_seconds']:g}"
    text += f"/{v['poll_max_interval']:g}"
    if v.get("exact_cadence"):
        text += " (exact)"
    return text + ("" if v["coalesce"] else " (1 req/poll, x1.5)")


def report(result: dict[str, Any]) -> str:
    rows = []
    for r in result["rows"]:
        v = result["variants"][r["variant"]]
        rows.append(
            [
                r["class"],
                f"{r['generation_seconds']:g}",
                r["variant"],
                _cadence_text(v),
                r["jobs"],
                r["latency_s"]["p50"],
                r["latency_s"]["p95"],
                r["latency_s"]["max"],
                r["polls"]["p50"],
                r["polls"]["max"],
                f"{r['events'].get('success', 0)}/{r['jobs']}",
            ]
        )
    text = table(
        f"B3 detection latency (event time - emulator completed_at); {result['params']['video_duration']} s "
        f"video, generation time +-{result['params']['jitter'] * 100:.0f}%",
        [
            "class",
            "gen s",
            "variant",
            "cadence s",
            "jobs",
            "lat p50 s",
            "lat p95 s",
            "lat max s",
            "polls p50",
            "polls max",
            "ok",
        ],
        rows,
    )
    ratio_rows = [
        [k, v["sdk_latency_p50_over_ours"], v["our_polls_p50_over_sdk"]] for k, v in result["ratios"].items()
    ]
    text += "\n\n" + table(
        "B3 vs the SDK cadence (same run)",
        ["class/variant", "SDK p50 / ours", "our polls / SDK's"],
        ratio_rows,
    )
    if result.get("goals"):
        text += "\n\n" + goals_table(result["goals"])
    if result.get("tuning"):
        text += "\n" + result["tuning"]
    consistency = result.get("trigger_cadence_consistency") or {}
    if consistency and not consistency.get("matches"):
        text += (
            "\nWARNING: RunwareVideoTrigger does not poll with the operator's cadence "
            f"({consistency.get('detail')}); 'default' is what ships, 'intended' what the operator asks for."
        )
    return text


# --------------------------------------------------------------------------------------------------
# Child


async def _measure(params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.poller import CoalescingPoller
    from airflow_provider_wan.triggers.video import RunwareVideoTrigger

    class ExactCadenceTrigger(RunwareVideoTrigger):
        """Polls with exactly the given PollCadence (the ``intended`` variant)."""

        def __init__(self, *, exact: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._exact = exact

        @property
        def cadence(self) -> Any:
            return self._exact

    polls: Counter[str] = Counter()
    original = CoalescingPoller.get

    async def counted(self: CoalescingPoller, task_uuid: str) -> Any:
        polls[task_uuid] += 1
        return await original(self, task_uuid)

    CoalescingPoller.get = counted  # type: ignore[method-assign]
    await RunwareHook("runware_default").aconfig()  # warm the connection lookup

    root = params["base_url"].rsplit("/v1", 1)[0]
    jobs = int(params["jobs"])
    plan: list[tuple[str, str, str, float]] = []  # (uuid, class, variant, submitted_at)
    with httpx.Client(base_url=root, timeout=60, trust_env=False) as control:
        for cls, seconds in params["classes"].items():
            control.post("/_emulator/faults", json={"processing_seconds": seconds}).raise_for_status()
            batch = [(str(uuid.uuid4()), variant) for variant in params["variants"] for _ in range(jobs)]
            tasks = [video_task(u, prompt=f"b3 {cls} {v} {i}") for i, (u, v) in enumerate(batch)]
            submitted_at = submit_jobs(params["base_url"], params["api_key"], tasks)
            plan += [(u, cls, v, submitted_at) for u, v in batch]

    events: dict[str, tuple[float, str]] = {}

    async def drive(trigger: RunwareVideoTrigger) -> None:
        async for event in trigger.run():
            events[trigger.task_uuid] = (time.time(), str(event.payload.get("status")))

    triggers = []
    for task_uuid, _cls, variant, submitted_at in plan:
        v = params["variants"][variant]
        kwargs: dict[str, Any] = {
            "task_uuid": task_uuid,
            "end_time": submitted_at + float(params["deadline_seconds"]),
            "submitted_at": submitted_at,
            "poll_initial_delay": v["poll_initial_delay"],
            "poll_interval": v["poll_interval"],
            "poll_max_interval": v["poll_max_interval"],
            "coalesce": v["coalesce"],
        }
        if v.get("poll_plateau_seconds") is not None:
            kwargs["poll_plateau_seconds"] = v["poll_plateau_seconds"]
        if v.get("exact_cadence"):
            trigger = ExactCadenceTrigger(exact=_poll_cadence(v), **kwargs)
        else:
            trigger = RunwareVideoTrigger(**kwargs)
        triggers.append(trigger)
    began = time.perf_counter()
    waits = [asyncio.create_task(drive(t)) for t in triggers]
    # A trigger still waiting well past its own deadline is stuck: stop it and count it as "hung".
    _, stuck = await asyncio.wait(waits, timeout=float(params["deadline_seconds"]) + 60)
    for task in stuck:
        task.cancel()
    wall = time.perf_counter() - began

    ledger = httpx.get(f"{root}/_emulator/ledger", timeout=120, trust_env=False).json()
    records = {t["taskUUID"]: t for t in ledger["tasks"]}
    rows = []
    for cls, seconds in params["classes"].items():
        for variant in params["variants"]:
            mine = [p for p in plan if p[1] == cls and p[2] == variant]
            latencies, poll_counts, generations = [], [], []
            for task_uuid, _, _, _ in mine:
                record = records.get(task_uuid, {})
                done = record.get("completed_at")
                if done is not None and task_uuid in events:
                    latencies.append(events[task_uuid][0] - done)
                    generations.append(done - record["created_at"])
                poll_counts.append(polls[task_uuid])
            rows.append(
                {
                    "class": cls,
                    "generation_seconds": seconds,
                    "variant": variant,
                    "jobs": len(mine),
                    "latency_s": summary(latencies, 2),
                    "polls": summary(poll_counts, 1),
                    "actual_generation_s": summary(generations, 1),
                    "events": dict(Counter(events[u][1] if u in events else "hung" for u, *_ in mine)),
                }
            )
    return {"rows": rows, "wall_seconds": round(wall, 1)}


def _child(params: dict[str, Any]) -> None:
    emit(asyncio.run(_measure(params)))


def _cadence_arg(text: str) -> list[float | None]:
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 4:
        raise argparse.ArgumentTypeError("expected initial,interval,max,plateau ('-' keeps the default)")
    return [None if p in ("", "-") else float(p) for p in parts]


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="add the 180 s class, 20 jobs per variant")
    parser.add_argument("--jobs", type=int, help="jobs per class and variant (quick 12, full 20)")
    parser.add_argument("--classes", help="name=seconds,... (default short=10,medium=60[,long=180])")
    parser.add_argument(
        "--proposed",
        type=_cadence_arg,
        help="candidate cadence initial,interval,max,plateau in seconds, '-' = the default's value",
    )
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return None
    classes = FULL_CLASSES if args.full else QUICK_CLASSES
    if args.classes:
        classes = {k: float(v) for k, v in (item.split("=") for item in args.classes.split(","))}
    result = run(
        classes=classes,
        jobs=args.jobs or (20 if args.full else 12),
        proposed=args.proposed,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
