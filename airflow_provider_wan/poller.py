"""When to poll (:class:`PollCadence`), what a poll means (:class:`Wait`, the one completion step of the
trigger, operator and sensor) and one batched ``getResponse`` per flush (:class:`CoalescingPoller`)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_wan.client import NON_FINITE, AsyncRunwareClient, ClientConfig
from airflow_provider_wan.errors import RunwareError, RunwareTimeoutError
from airflow_provider_wan.results import TaskEvent, TaskState, task_event

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 200
# Flushes happen on a shared grid of this period, so every poll falling due within the same slot of the
# process rides in the same request (at most this much added latency).
DEFAULT_WINDOW_SECONDS = 0.5
MAX_CONCURRENT_REQUESTS = 4
# Transient poll failures (429/5xx/network) in a row before a wait gives up; 4xx answers end it at once.
MAX_CONSECUTIVE_FAILURES = 5
# Unknown tasks right after a submit can be propagation delay; after this long they are gone.
NOT_FOUND_GRACE = 60.0
PROGRESS_LOG_SECONDS = 10.0
# Answers refused as a whole for what one task's item may hold (too large, a NaN or out-of-range number):
# the batch's tasks are then polled one by one, so only that task fails.
PER_TASK_CODES = frozenset({"responseTooLarge", NON_FINITE})


def expected_generation_seconds(duration: int, number_results: int = 1) -> float:
    """Rough time Runware needs for a Wan2.7 video; public reports say 30-120 s for a few seconds."""
    return 20.0 + 6.0 * duration + 2.0 * max(0, number_results - 1)


@dataclass(frozen=True)
class PollCadence:
    """Wait ``initial_delay``, poll every ``interval`` s until ``plateau_seconds``, then +1 s per 4 s overdue
    up to ``max_interval`` (without a plateau: x``factor`` backoff); ``progress`` aims at the projected end,
    jitter spreads herds of mapped tasks (docs/architecture.md)."""

    initial_delay: float = 5.0
    interval: float = 2.0
    factor: float = 1.5
    max_interval: float = 10.0
    jitter: float = 0.1
    plateau_seconds: float | None = None

    @classmethod
    def for_video(
        cls,
        duration: int,
        number_results: int = 1,
        *,
        initial_delay: float | None = None,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> PollCadence:
        """The cadence for a video request; the user's values (``None``: derived) replace the derived ones."""
        expected = expected_generation_seconds(duration, number_results)
        return cls(
            initial_delay=min(60.0, 0.6 * expected) if initial_delay is None else initial_delay,
            interval=3.0 if interval is None else interval,
            max_interval=DEFAULT_CADENCE.max_interval if max_interval is None else max_interval,
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


DEFAULT_CADENCE = PollCadence()


@dataclass(frozen=True)
class Poll:
    """Poll again in ``delay`` seconds; ``note`` is worth a log line (``warn``: a warning)."""

    delay: float
    note: str = ""
    warn: bool = False

    def log_to(self, logger: Any) -> None:
        if self.note:
            (logger.warning if self.warn else logger.info)("%s", self.note)


@dataclass(frozen=True)
class Done:
    event: TaskEvent  # the terminal event (success, error or timeout)


@dataclass(frozen=True)
class Failed:
    error: RunwareError  # polling itself failed for good: a permanent error, or the failure budget spent


Step = Poll | Done | Failed


@dataclass(frozen=True)
class Wait:
    """The pure completion step for one task: :meth:`start` and :meth:`after` (given what a poll returned:
    the state, ``None`` when unknown, or the error raised) say what comes next, with the updated wait.
    Nothing here sleeps or talks to Runware."""

    task_uuid: str
    expected_results: int
    submitted_at: float
    end_time: float
    cadence: PollCadence = DEFAULT_CADENCE
    max_failures: int = MAX_CONSECUTIVE_FAILURES
    polls: int = 0
    failures: int = 0
    progress: float | None = None
    noted_at: float = 0.0

    def start(self, now: float) -> tuple[Wait, Step]:
        return self._next(now)

    def after(self, polled: TaskState | RunwareError | None, now: float) -> tuple[Wait, Step]:
        uuid, expected, elapsed = self.task_uuid, self.expected_results, now - self.submitted_at
        if isinstance(polled, RunwareError):
            failures = self.failures + 1
            if polled.retryable and failures < self.max_failures:
                note = f"Poll {self.polls} of task {uuid} failed ({polled}); {failures} failure(s) in a row"
                return replace(self, failures=failures)._next(now, note, warn=True)
            # A batch-level error reaches every trigger of the batch: each gets its own copy, naming its
            # own task (whatever task the answer's error object named).
            own = copy.copy(polled)
            own.task_uuid = uuid
            return self, Failed(own)
        status = polled.status(expected) if polled is not None else "running"
        if polled is not None and status != "running":
            error = polled.errors[0] if status == "error" else None
            # Unknown right after the submit can be propagation delay: keep looking for a while.
            if error is None or error.category != "not_found" or polled.results or elapsed >= NOT_FOUND_GRACE:
                event = task_event(
                    "success" if error is None else "error",
                    uuid,
                    videos=polled.results,
                    error=error,
                    expected_results=expected,
                )
                return self, Done(event)
        wait = replace(self, failures=0, progress=polled.progress if polled is not None else None)
        if now - self.noted_at < PROGRESS_LOG_SECONDS:
            return wait._next(now)
        progress = f"{wait.progress:.0f}%" if wait.progress is not None else "n/a"
        ready = len(polled.results) if polled is not None else 0
        note = f"Task {uuid} running: {ready}/{expected} ready, progress {progress}, elapsed {elapsed:.0f}s"
        return replace(wait, noted_at=now)._next(now, note)

    def timeout(self, now: float) -> Done:
        error = RunwareTimeoutError(
            f"Gave up waiting after {now - self.submitted_at:.0f}s. Runware has no cancel API: the task "
            "keeps running and is billed; a retry of this Airflow task re-attaches to it instead of paying "
            "again.",
            code="waitTimeout",
            task_uuid=self.task_uuid,
        )
        return Done(
            task_event("timeout", self.task_uuid, error=error, expected_results=self.expected_results)
        )

    def _next(self, now: float, note: str = "", warn: bool = False) -> tuple[Wait, Step]:
        if now >= self.end_time:
            return self, self.timeout(now)
        delay = self.cadence.delay(self.polls, elapsed=now - self.submitted_at, progress=self.progress)
        return replace(self, polls=self.polls + 1), Poll(
            max(0.0, min(delay, self.end_time - now)), note, warn
        )


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
                states = await self.client.get_responses(chunk)
            except Exception as err:  # never leave a trigger waiting forever
                refused = isinstance(err, RunwareError) and err.category == "validation" and not err.task_uuid
                if len(chunk) > 1 and refused:
                    log.warning(
                        "Runware refused a batched getResponse (%s); polling one task per request", err
                    )
                    self.batching_refused = True
                    await asyncio.gather(*(self._send([u], futures) for u in chunk))
                    return
                per_item = isinstance(err, RunwareError) and err.code in PER_TASK_CODES
                if len(chunk) > 1 and per_item:  # one task's item must not fail the others: ask per task
                    await asyncio.gather(*(self._send([u], futures) for u in chunk))
                    return
                if not isinstance(err, RunwareError):
                    log.exception("Polling %d task(s) failed unexpectedly", len(chunk))
                for uuid in chunk:
                    _resolve(futures[uuid], err)
                return
        for uuid in chunk:
            _resolve(futures[uuid], states.get(uuid, TaskState(uuid)))

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


def _resolve(futures: list[asyncio.Future[TaskState]], outcome: TaskState | BaseException) -> None:
    for future in (f for f in futures if not f.done()):
        if isinstance(outcome, BaseException):
            future.set_exception(_own_error(outcome))
        else:
            future.set_result(outcome)


def _own_error(err: BaseException) -> RunwareError:
    """A batch's failure as a fresh ``RunwareError`` per waiting trigger: raising one object in many tasks
    would share (and let them mutate) its task UUID, details and traceback."""
    if isinstance(err, RunwareError):
        own = copy.copy(err)
        own.details = dict(err.details)
        return own
    return RunwareError(
        f"Polling Runware failed: {type(err).__name__}: {str(err)[:200]}",
        code="pollFailed",
        category="server",
    )


@dataclass
class _Entry:
    poller: CoalescingPoller
    users: int = 0


_REGISTRY: dict[tuple[int, str, tuple[str, ...]], _Entry] = {}


@contextlib.asynccontextmanager
async def shared_poller(
    config: ClientConfig,
    *,
    client_factory: Callable[[ClientConfig], AsyncRunwareClient] = AsyncRunwareClient,
    **poller_kwargs: Any,
) -> AsyncIterator[CoalescingPoller]:
    """The process-wide poller for this event loop and (base URL, key); closed when its last user leaves."""
    # The URL schemes decide which answers are usable: connections that differ there share no poller.
    key = (id(asyncio.get_running_loop()), config.credential_fingerprint, config.downloads.url_schemes)
    entry = _REGISTRY.get(key)
    if entry is None or entry.poller.client.is_closed:
        entry = _REGISTRY[key] = _Entry(CoalescingPoller(client_factory(config), **poller_kwargs))
    entry.users += 1
    try:
        yield entry.poller
    finally:
        entry.users -= 1
        if entry.users <= 0 and _REGISTRY.get(key) is entry:
            del _REGISTRY[key]
            await entry.poller.aclose()
