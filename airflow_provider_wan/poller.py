"""Coalesced ``getResponse`` polling and the poll cadence.

All :class:`~airflow_provider_wan.triggers.video.RunwareVideoTrigger` instances in one triggerer process
share one :class:`CoalescingPoller` per (event loop, base URL, credentials): one connection pool, and every
flush sends ONE request carrying ``getResponse`` for up to ``max_batch`` task UUIDs; each trigger awaits
only its own task's state. A thousand in-flight generations thus cost a handful of requests per tick
instead of a thousand.

Each trigger keeps its own cadence (:class:`PollCadence`) and deadline; the poller only batches whatever
polls fall due within the same short window. If Runware refuses a batch (a request-level validation
error), the poller falls back to one request per task from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_wan.client import AsyncRunwareClient, ClientConfig
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.responses import TaskState

log = logging.getLogger(__name__)

# Task UUIDs per getResponse request. 1,000 in-flight jobs all due at once cost 5 requests.
DEFAULT_MAX_BATCH = 200
# Flushes happen on a shared grid of this period, so every poll falling due within the same slot of the
# process rides in the same request (at most this much added latency).
DEFAULT_WINDOW_SECONDS = 0.5
MAX_CONCURRENT_REQUESTS = 4


def expected_generation_seconds(duration: int, number_results: int = 1) -> float:
    """Rough time Runware needs for a Wan2.7 video; public reports say 30-120 s for a few seconds."""
    return 20.0 + 6.0 * duration + 2.0 * max(0, number_results - 1)


@dataclass(frozen=True)
class PollCadence:
    """When to poll: an initial delay, a steady plateau around the expected end, then a slow backoff.

    Generation time is predictable from the requested duration, so polling early wastes requests and
    polling rarely near the end adds latency. The cadence therefore waits ``initial_delay``, polls every
    ``interval`` seconds until ``plateau_seconds`` after the submit, then lets the interval grow by one
    second per four seconds overdue up to ``max_interval``. Without a plateau it is the classic
    exponential backoff (x``factor`` per poll, as the official SDKs do). A ``progress`` percentage, when
    Runware sends one, aims the next poll at the projected end. Jitter spreads herds of mapped tasks.
    """

    initial_delay: float = 5.0
    interval: float = 1.0
    factor: float = 1.5
    max_interval: float = 10.0
    jitter: float = 0.1
    plateau_seconds: float | None = None

    @classmethod
    def for_video(cls, duration: int, number_results: int = 1, max_interval: float = 10.0) -> PollCadence:
        expected = expected_generation_seconds(duration, number_results)
        return cls(
            initial_delay=min(60.0, 0.6 * expected),
            interval=3.0,
            max_interval=max_interval,
            plateau_seconds=2.0 * expected,
        )

    def delay(self, poll_count: int, *, elapsed: float | None = None, progress: float | None = None) -> float:
        """Seconds to wait before poll number ``poll_count`` (0 = the first poll)."""
        if poll_count == 0:
            base = self.initial_delay
        elif self.plateau_seconds is not None and elapsed is not None:
            overdue = max(0.0, elapsed - self.plateau_seconds)
            base = min(self.max_interval, max(self.interval, self.interval + overdue / 4.0))
        else:
            base = min(self.max_interval, self.interval * (self.factor ** (poll_count - 1)))
        if poll_count and progress is not None and elapsed is not None and 0 < progress < 100:
            # Aim at the projected end, never later than the cadence would.
            remaining = elapsed * (100.0 - progress) / progress
            base = max(min(self.interval, base), min(base, remaining))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


class CoalescingPoller:
    """Batches concurrent ``getResponse`` polls into few HTTP requests over one client."""

    def __init__(
        self,
        client: AsyncRunwareClient,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self.client = client
        self.max_batch = max(1, max_batch)
        self.window_seconds = window_seconds
        self._pending: dict[str, list[asyncio.Future[TaskState]]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._semaphore = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self.batching_refused = False
        self.requests_sent = 0
        self.flushes = 0

    async def get(self, task_uuid: str) -> TaskState:
        """The current state of ``task_uuid``, fetched with the next batch."""
        future: asyncio.Future[TaskState] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(task_uuid, []).append(future)
        if len(self._pending) >= self.max_batch:
            self._start_flush(delay=0.0)
        elif self._flush_task is None or self._flush_task.done():
            self._start_flush(delay=self.window_seconds)
        return await future

    def _start_flush(self, delay: float) -> None:
        if self._flush_task is not None and not self._flush_task.done() and delay > 0:
            return
        loop = asyncio.get_running_loop()
        if delay > 0:
            # Align to the process-wide grid: polls due in the same slot share one flush.
            delay = delay - (loop.time() % delay)
        self._flush_task = loop.create_task(self._flush(delay))

    async def _flush(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        # Polls that arrive while a batch is in flight (slow answers, retry backoff) go in the next round
        # of this same task: get() starts a new flush only when none is running.
        while self._pending:
            batch, self._pending = self._pending, {}
            # Futures whose trigger was cancelled need no answer.
            live = {u: [f for f in fs if not f.done()] for u, fs in batch.items()}
            live = {u: fs for u, fs in live.items() if fs}
            if live:
                self.flushes += 1
                uuids = list(live)
                size = 1 if self.batching_refused else self.max_batch
                chunks = [uuids[i : i + size] for i in range(0, len(uuids), size)]
                await asyncio.gather(*(self._send(chunk, live) for chunk in chunks))
            if self._pending and self.window_seconds:
                loop = asyncio.get_running_loop()
                await asyncio.sleep(self.window_seconds - (loop.time() % self.window_seconds))

    async def _send(self, chunk: list[str], futures: dict[str, list[asyncio.Future[TaskState]]]) -> None:
        async with self._semaphore:
            try:
                self.requests_sent += 1
                states = await self.client.get_responses(chunk)
            except RunwareError as err:
                if len(chunk) > 1 and err.category == "validation" and not err.task_uuid:
                    log.warning(
                        "Runware refused a batched getResponse (%s); polling one task per request", err
                    )
                    self.batching_refused = True
                    await asyncio.gather(*(self._send([u], futures) for u in chunk))
                    return
                for uuid in chunk:
                    _resolve(futures[uuid], error=err)
                return
            except Exception as err:  # never leave a trigger waiting forever
                for uuid in chunk:
                    _resolve(futures[uuid], error=err)
                return
        for uuid in chunk:
            _resolve(futures[uuid], state=states.get(uuid, TaskState(uuid)))

    async def aclose(self) -> None:
        if self._flush_task is not None and not self._flush_task.done():
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        for futures in self._pending.values():
            for future in futures:
                future.cancel()
        self._pending.clear()
        await self.client.aclose()


def _resolve(
    futures: list[asyncio.Future[TaskState]],
    *,
    state: TaskState | None = None,
    error: BaseException | None = None,
) -> None:
    for future in futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif state is not None:
            future.set_result(state)


@dataclass
class _Entry:
    poller: CoalescingPoller
    users: int


_REGISTRY: dict[tuple[int, str], _Entry] = {}


@contextlib.asynccontextmanager
async def shared_poller(
    config: ClientConfig,
    *,
    client_factory: Callable[[ClientConfig], AsyncRunwareClient] = AsyncRunwareClient,
    **poller_kwargs: Any,
) -> AsyncIterator[CoalescingPoller]:
    """The process-wide poller for this event loop and (base URL, key); closed when its last user leaves."""
    key = (id(asyncio.get_running_loop()), config.credential_fingerprint)
    entry = _REGISTRY.get(key)
    if entry is None or entry.poller.client.is_closed:
        entry = _Entry(CoalescingPoller(client_factory(config), **poller_kwargs), 0)
        _REGISTRY[key] = entry
    entry.users += 1
    try:
        yield entry.poller
    finally:
        entry.users -= 1
        if entry.users <= 0 and _REGISTRY.get(key) is entry:
            del _REGISTRY[key]
            await entry.poller.aclose()


def active_pollers() -> int:
    """How many shared pollers are open (for tests and benchmarks)."""
    return len(_REGISTRY)
