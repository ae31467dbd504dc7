"""uploadEndpoint PUTs and webhookURL POSTs when results complete.

Jobs themselves are lazy; only jobs that asked for a delivery get scheduled. A single scheduler
task per app sleeps until the earliest due result (a heap), so the cost is one heap entry per
result, not one coroutine per job. Targets must be loopback or a host named with ``--allow-host``:
anything else is recorded as skipped and never contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from .downloads import ByteSource
from .jobs import Job
from .ledger import DeliveryStats

if TYPE_CHECKING:
    from .state import EmulatorState

ATTEMPT_TIMEOUT_SECONDS = 5.0  # Runware treats "no answer in ~5 s" as a failed delivery
FIRST_RETRY_DELAY = 0.25
MAX_RETRY_DELAY = 8.0
MAX_CONCURRENT_DELIVERIES = 16
RETRY_JITTER = 0.2  # each delay is drawn from nominal x (1 +- this), then capped at MAX_RETRY_DELAY


def nominal_retry_delay(retry: int) -> float:
    """Seconds before retry ``retry`` (1-based): 0.25, 0.5, 1, 2, 4, 8, 8, ... (Runware's webhooks)."""
    return min(FIRST_RETRY_DELAY * 2.0 ** (retry - 1), MAX_RETRY_DELAY)


def retry_delay(retry: int, rng: random.Random) -> float:
    """The nominal delay with jitter, never above MAX_RETRY_DELAY."""
    return min(nominal_retry_delay(retry) * rng.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER), MAX_RETRY_DELAY)


class DeliveryScheduler:
    def __init__(self, state: EmulatorState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self._heap: list[tuple[float, int, str, int]] = []
        self._sequence = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # replaceable: tests skip the waits

    def schedule(self, job: Job) -> None:
        """Queue every result of ``job`` for delivery at its due time (call from the event loop)."""
        for index, due in enumerate(job.due_at):
            heapq.heappush(self._heap, (due, next(self._sequence), job.task_uuid, index))
        self._ensure_running()
        self.poke()

    def poke(self) -> None:
        """Re-check due times now (after a new job or a clock change)."""
        if self._wake is not None:
            self._wake.set()

    def clear(self) -> None:
        self._heap.clear()

    def pending(self) -> int:
        return len(self._heap) + len(self._inflight)

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._runner is not None and not self._runner.done() and self._loop is loop:
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._inflight = set()
        self._runner = loop.create_task(self._run(), name="runware-emulator-deliveries")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            now = self.state.now()
            while self._heap and self._heap[0][0] <= now:
                due, _, task_uuid, index = heapq.heappop(self._heap)
                job = self.state.jobs.get(task_uuid)
                if job is None or job.due_at[index] != due:
                    continue  # the emulator was reset since
                task = asyncio.get_running_loop().create_task(self._deliver(job, index))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            delay = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def aclose(self) -> None:
        tasks = [t for t in [self._runner, *self._inflight] if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks and self._loop is asyncio.get_running_loop():
            await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self._inflight = set()

    # --- one result --------------------------------------------------------------------------

    async def _deliver(self, job: Job, index: int) -> None:
        assert self._slots is not None
        async with self._slots:
            knobs = self.state.knobs
            succeeded = not job.failed[index]
            if succeeded and job.upload_endpoint:
                source = await self.state.output_source(job, index)
                await self._send(
                    self.state.ledger.upload,
                    "PUT",
                    job.upload_endpoint,
                    lambda: _stream(source),
                    {"content-type": job.mime, "content-length": str(source.size)},
                    job,
                    index,
                )
            if job.webhook_url and (succeeded or knobs.webhook_post_failures):
                item = job.success_item(index) if succeeded else job.failure_error()
                payload = {"data": [item]} if knobs.webhook_wrapped else item
                body = json.dumps(payload).encode()
                await self._send(
                    self.state.ledger.webhook,
                    "POST",
                    job.webhook_url,
                    lambda: body,
                    {"content-type": "application/json"},
                    job,
                    index,
                )

    async def _send(
        self,
        stats: DeliveryStats,
        method: str,
        url: str,
        content: Callable[[], bytes | AsyncIterator[bytes]],
        headers: dict[str, str],
        job: Job,
        index: int,
    ) -> bool:
        record: dict[str, Any] = {
            "taskUUID": job.task_uuid,
            "videoUUID": job.video_uuids[index],
            "url": url,
            "attempts": 0,
            "ok": False,
            "last": None,
        }
        if not self.state.hosts.allows_url(url):
            stats.skipped += 1
            record["last"] = "skipped: host not allowed (loopback or --allow-host only)"
            stats.log.append(record)
            return False
        attempts = self.state.knobs.delivery_max_attempts
        async with httpx.AsyncClient(timeout=ATTEMPT_TIMEOUT_SECONDS, trust_env=False) as client:
            for attempt in range(1, attempts + 1):
                stats.attempts += 1
                record["attempts"] = attempt
                try:
                    response = await client.request(method, url, content=content(), headers=headers)
                    record["last"] = response.status_code
                    if response.is_success:
                        stats.delivered += 1
                        record["ok"] = True
                        stats.log.append(record)
                        return True
                except httpx.HTTPError as exc:
                    record["last"] = repr(exc)
                if attempt < attempts:
                    await self.sleep(retry_delay(attempt, self.rng))
        stats.failed += 1
        stats.log.append(record)
        return False


async def _stream(source: ByteSource) -> AsyncIterator[bytes]:
    # Reads are 1 MiB from the page cache (or zeros for padding): short enough to run on the loop.
    for chunk in source.iter_range(0, source.size - 1):
        yield chunk
