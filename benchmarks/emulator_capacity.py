"""Emulator capacity: in-flight tasks it holds (and their memory), and getResponse requests/s on this machine.

    python -m benchmarks.emulator_capacity               # 5,000 in-flight tasks, 5 s load per batch size
    python -m benchmarks.emulator_capacity --full        # 20,000 tasks, 15 s per batch size

The emulator runs as its own ``runware-emulator`` process (log level warning). Its RSS and CPU are read
from ``/proc/<pid>``.

1. **In-flight capacity** — after a warm-up, ``tasks`` ``videoInference`` tasks that will not finish during
   the run (generation time one day) are submitted in arrays of 100; reported: emulator RSS before/after,
   KiB per in-flight task, submit throughput, and how long ``GET /_emulator/ledger`` takes with that many
   tasks. Baseline: the empty emulator's RSS, measured in the same run.
2. **getResponse throughput** — a bounded, self-stopping load loop in a separate client process (raw
   keep-alive HTTP/1.1, lighter than httpx): ``concurrency`` connections send ``getResponse`` for random
   in-flight UUIDs, batches of 1 and of 100 UUIDs, each for ``load_seconds`` (or ``max_requests``,
   whichever comes first). Reported: requests/s, task-polls/s, latency p50/p99, CPU of the emulator and of
   the client, emulator CPU per request. Both share this machine's 2 cores. Side by side: batch 100 vs 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections.abc import Sequence
from typing import Any

from benchmarks._common import (
    EmulatorProcess,
    _child_env,
    cpu_seconds,
    emit,
    ratio,
    run_child,
    submit_jobs,
    summary,
    table,
    video_task,
)

MODULE = "benchmarks.emulator_capacity"
ONE_DAY = 86_400


def run(
    tasks: int = 5000,
    load_seconds: float = 5.0,
    concurrency: int = 32,
    batch_sizes: Sequence[int] = (1, 100),
    max_requests: int = 200_000,
    verbose: bool = True,
) -> dict[str, Any]:
    with EmulatorProcess(processing_seconds=ONE_DAY, seconds_per_output_second=0) as emu:
        warm = [video_task(str(uuid.uuid4())) for _ in range(100)]
        submit_jobs(emu.base_url, emu.api_key, warm)
        emu.ledger()
        emu.reset(keep_faults=True)
        time.sleep(0.5)
        rss_empty = emu.rss_mb()

        uuids = [str(uuid.uuid4()) for _ in range(tasks)]
        payload = [video_task(u, prompt=f"capacity {i}") for i, u in enumerate(uuids)]
        cpu0 = emu.cpu_seconds()
        began = time.perf_counter()
        submit_jobs(emu.base_url, emu.api_key, payload)
        submit_seconds = time.perf_counter() - began
        submit_cpu = emu.cpu_seconds() - cpu0
        del payload
        time.sleep(0.5)
        rss_full = emu.rss_mb()
        began = time.perf_counter()
        ledger = emu.ledger()
        ledger_seconds = time.perf_counter() - began
        in_flight = sum(1 for t in ledger["tasks"] if t["status"] == "processing")
        del ledger

        loads = []
        for batch in batch_sizes:
            params = {
                "base_url": emu.base_url,
                "api_key": emu.api_key,
                "uuids": random.Random(batch).sample(uuids, min(len(uuids), 2000)),
                "batch": int(batch),
                "seconds": load_seconds,
                "concurrency": concurrency,
                "max_requests": max_requests,
                "emulator_pid": emu.pid,
            }
            loads.append(run_child(MODULE, params, _child_env(), timeout=load_seconds + 300))
        rss_after_load = emu.rss_mb()

    per_task_kib = (rss_full - rss_empty) * 1024 / tasks if tasks else 0.0
    capacity: dict[str, Any] = {
        "tasks": tasks,
        "in_flight_confirmed": in_flight,
        "rss_empty_mb": round(rss_empty, 1),
        "rss_with_tasks_mb": round(rss_full, 1),
        "rss_after_load_mb": round(rss_after_load, 1),
        "kib_per_in_flight_task": round(per_task_kib, 2),
        "in_flight_tasks_per_gib_estimate": int(1024 * 1024 / per_task_kib) if per_task_kib > 0 else None,
        "submit_tasks_per_s": round(tasks / submit_seconds, 1) if submit_seconds else None,
        "submit_emulator_cpu_ms_per_task": round(1000 * submit_cpu / tasks, 3) if tasks else None,
        "ledger_seconds": round(ledger_seconds, 3),
    }
    by_batch = {str(load["batch"]): load for load in loads}
    result: dict[str, Any] = {
        "benchmark": "emulator_capacity",
        "params": {
            "tasks": tasks,
            "load_seconds": load_seconds,
            "concurrency": concurrency,
            "batch_sizes": list(batch_sizes),
        },
        "capacity": capacity,
        "load": loads,
        "ratios": {
            "rss_with_tasks_over_empty": ratio(rss_full, rss_empty),
            "task_polls_per_s_batch100_over_batch1": ratio(
                by_batch["100"]["task_polls_per_s"], by_batch["1"]["task_polls_per_s"]
            )
            if "1" in by_batch and "100" in by_batch
            else None,
        },
    }
    if verbose:
        print(report(result))
    return result


def report(result: dict[str, Any]) -> str:
    c = result["capacity"]
    text = table(
        "Emulator in-flight capacity (separate process)",
        [
            "tasks",
            "RSS empty MB",
            "RSS with tasks MB",
            "KiB/task",
            "tasks per GiB (est.)",
            "submit tasks/s",
            "ledger s",
        ],
        [
            [
                c["tasks"],
                c["rss_empty_mb"],
                c["rss_with_tasks_mb"],
                c["kib_per_in_flight_task"],
                c["in_flight_tasks_per_gib_estimate"],
                c["submit_tasks_per_s"],
                c["ledger_seconds"],
            ]
        ],
    )
    rows = [
        [
            r["batch"],
            r["concurrency"],
            r["requests"],
            r["requests_per_s"],
            r["task_polls_per_s"],
            r["latency_ms"]["p50"],
            r["latency_ms"]["p99"],
            r["emulator_cpu_share"],
            r["client_cpu_share"],
            r["emulator_cpu_ms_per_request"],
            r["errors"],
        ]
        for r in result["load"]
    ]
    text += "\n\n" + table(
        f"Emulator getResponse throughput ({result['params']['load_seconds']:g} s per batch size; client "
        "and emulator share 2 cores; CPU share 1.0 = one core)",
        [
            "UUIDs/request",
            "workers",
            "requests",
            "req/s",
            "task polls/s",
            "lat p50 ms",
            "lat p99 ms",
            "emu CPU",
            "client CPU",
            "emu CPU ms/req",
            "errors",
        ],
        rows,
    )
    r = result["ratios"]
    text += (
        f"\nbatch 100 vs batch 1: x{r['task_polls_per_s_batch100_over_batch1']} task polls/s; "
        f"RSS with {c['tasks']:,} in-flight tasks = x{r['rss_with_tasks_over_empty']} the empty emulator"
    )
    return text


# --------------------------------------------------------------------------------------------------
# Child: the load client


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 exchange on a raw connection (a lighter client than httpx, so that the
    load generator, which shares the 2 cores, leaves more CPU to the emulator)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


def _requests(params: dict[str, Any], batch: int, count: int = 64) -> list[bytes]:
    """Pre-encoded getResponse requests for random in-flight UUIDs (built before the clock starts)."""
    from urllib.parse import urlsplit

    url = urlsplit(params["base_url"])
    rng = random.Random(batch)
    out = []
    for _ in range(count):
        body = json.dumps(
            [{"taskType": "getResponse", "taskUUID": u} for u in rng.sample(params["uuids"], batch)]
        ).encode()
        head = (
            f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {params['api_key']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _load(params: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import urlsplit

    batch, workers = int(params["batch"]), int(params["concurrency"])
    requests = _requests(params, batch)
    url = urlsplit(params["base_url"])
    latencies: list[float] = []
    errors = 0
    sent = 0
    limit = int(params["max_requests"])
    connections = [await asyncio.open_connection(url.hostname, url.port) for _ in range(workers)]
    for reader, writer in connections:  # warm every connection
        await _post(reader, writer, requests[0])
    deadline = time.perf_counter() + float(params["seconds"])

    async def worker(index: int) -> None:
        nonlocal errors, sent
        reader, writer = connections[index]
        while time.perf_counter() < deadline and sent < limit:
            sent += 1
            began = time.perf_counter()
            status, _ = await _post(reader, writer, requests[sent % len(requests)])
            latencies.append(time.perf_counter() - began)
            if status != 200:
                errors += 1

    emu_cpu0, cpu0 = cpu_seconds(params["emulator_pid"]), time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    wall = time.perf_counter() - began
    emu_cpu, cpu = cpu_seconds(params["emulator_pid"]) - emu_cpu0, time.process_time() - cpu0
    for _, writer in connections:
        writer.close()
    done = len(latencies)
    return {
        "batch": batch,
        "concurrency": workers,
        "seconds": round(wall, 2),
        "requests": done,
        "requests_per_s": round(done / wall, 1),
        "task_polls_per_s": round(done * batch / wall, 1),
        "latency_ms": summary([1000 * x for x in latencies], 2),
        "emulator_cpu_share": round(emu_cpu / wall, 2),
        "client_cpu_share": round(cpu / wall, 2),
        "emulator_cpu_ms_per_request": round(1000 * emu_cpu / done, 3) if done else None,
        "requests_per_emulator_cpu_second": round(done / emu_cpu, 1) if emu_cpu else None,
        "errors": errors,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="20,000 tasks, 15 s of load per batch size")
    parser.add_argument("--tasks", type=int, help="in-flight tasks to submit (default 5000, full 20000)")
    parser.add_argument(
        "--load-seconds", type=float, help="seconds of load per batch size (default 5, full 15)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once (default 32)")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        emit(asyncio.run(_load(json.loads(args.child))))
        return None
    result = run(
        tasks=args.tasks or (20_000 if args.full else 5000),
        load_seconds=args.load_seconds or (15.0 if args.full else 5.0),
        concurrency=args.concurrency,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
