"""When to poll (:class:`PollCadence`), what a poll means (:class:`Wait`, the one completion step of the
trigger, operator and sensor) and one batched ``getResponse`` per flush (:class:`CoalescingPoller`)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import itertools
import logging
import math
import zlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_wan.errors import NON_FINITE, RunwareError, RunwareTimeoutError

if TYPE_CHECKING:  # the client (httpx calls, retries) is the triggerer's, not the DAG parser's
    from airflow_provider_wan.client import AsyncRunwareClient, ClientConfig
    from airflow_provider_wan.results import TaskEvent, TaskState

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 200
# Flushes happen on a shared grid of this period, so every poll falling due within the same slot of the
# process rides in the same request (at most this much added latency).
DEFAULT_WINDOW_SECONDS = 0.5
# Requests per flush at most (the rest wait for the next slot): with the 0.5 s grid, <= 16 requests in
# any second however many triggers fall due at once (a restarted triggerer), i.e. 3,200 task polls a second.
MAX_REQUESTS_PER_FLUSH = 8
MAX_CONCURRENT_REQUESTS = 4
# Transient poll failures (429/5xx/network) in a row before a wait gives up; 4xx answers end it at once.
MAX_CONSECUTIVE_FAILURES = 5
# Unknown tasks right after a submit can be propagation delay; after this long they are gone.
NOT_FOUND_GRACE = 60.0
PROGRESS_LOG_SECONDS = 30.0
# Generations still running this long after the submit are queued or stuck: polls slowly spread out.
DEFAULT_PLATEAU_SECONDS = 600.0
# Answers refused as a whole for what one task's item may hold (too large, a NaN or out-of-range number):
# the batch's tasks are then polled one by one, so only that task fails.
PER_TASK_CODES = frozenset({"responseTooLarge", NON_FINITE})


def schedule_phase(task_uuid: str) -> float:
    """A fixed fraction in [0, 1) per task: spreads the polls of tasks submitted together."""
    return zlib.crc32(task_uuid.encode()) / 2**32


# The records below are NamedTuples, not dataclasses: this module is imported while DAG files are parsed,
# and a NamedTuple class is built ~8x faster than a frozen dataclass (B5 in docs/benchmarks.md).
class PollCadence(NamedTuple):
    """Poll ``initial_delay`` s after the submit, then every ``interval`` s on a schedule counted from the
    submit (shifted per task by :func:`schedule_phase`), whatever the generation takes: no guess of its
    length. After ``plateau_seconds`` the interval grows by 1 s per 4 s overdue up to ``max_interval``;
    after a failed poll the next waits ``interval`` x ``factor`` per failure, at most ``max_interval``."""

    initial_delay: float = 2.0
    interval: float = 2.0
    factor: float = 1.5
    max_interval: float = 10.0
    plateau_seconds: float | None = DEFAULT_PLATEAU_SECONDS

    @classmethod
    def for_video(
        cls,
        duration: int | None = None,
        number_results: int = 1,
        *,
        initial_delay: float | None = None,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> PollCadence:
        """The operator's cadence: the defaults, replaced by the user's values (``None``: the default).

        ``duration`` and ``number_results`` are accepted for callers of earlier releases and ignored: the
        time a generation takes cannot be told from the request, so the cadence no longer guesses it.
        """
        default = DEFAULT_CADENCE
        return cls(
            initial_delay=default.initial_delay if initial_delay is None else initial_delay,
            interval=default.interval if interval is None else interval,
            max_interval=default.max_interval if max_interval is None else max_interval,
        )

    def step(self, elapsed: float) -> float:
        """The interval between polls ``elapsed`` seconds after the submit."""
        overdue = 0.0 if self.plateau_seconds is None else max(0.0, elapsed - self.plateau_seconds)
        return max(self.interval, min(self.max_interval, self.interval + overdue / 4.0))

    def next_poll(
        self, *, submitted_at: float, now: float, phase: float = 0.0, failures: int = 0, started: bool = True
    ) -> float:
        """The epoch time of the next poll; ``now`` itself when a wait starts (``started=False``) after its
        first poll was due: a restarted or late trigger polls at once."""
        if failures:
            return now + min(self.max_interval, self.interval * self.factor**failures)
        first = submitted_at + self.initial_delay + phase * self.interval
        if now < first:
            return first
        if not started:
            return now
        step = self.step(now - submitted_at)
        if step > self.interval:  # past the plateau: a growing step, counted from this poll
            return now + step
        return first + (math.floor((now - first) / step) + 1) * step


DEFAULT_CADENCE = PollCadence()


class Poll(NamedTuple):
    """Poll again in ``delay`` seconds; ``note`` is worth a log line (``warn``: a warning)."""

    delay: float
    note: str = ""
    warn: bool = False

    def log_to(self, logger: Any) -> None:
        if self.note:
            (logger.warning if self.warn else logger.info)("%s", self.note)


class Done(NamedTuple):
    event: TaskEvent  # the terminal event (success, error or timeout)


class Failed(NamedTuple):
    error: RunwareError  # polling itself failed for good: a permanent error, or the failure budget spent


Step = Poll | Done | Failed


class Wait(NamedTuple):
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
        """The first poll: on schedule, or at once when it is overdue (counted from ``submitted_at``)."""
        return self._next(now, started=False)

    def after(self, polled: TaskState | RunwareError | None, now: float) -> tuple[Wait, Step]:
        uuid, expected, elapsed = self.task_uuid, self.expected_results, now - self.submitted_at
        if isinstance(polled, RunwareError):
            failures = self.failures + 1
            if polled.retryable and failures < self.max_failures:
                note = f"Poll {self.polls} of task {uuid} failed ({polled}); {failures} failure(s) in a row"
                return self._replace(failures=failures)._next(now, note, warn=True)
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
                from airflow_provider_wan.results import task_event  # not at DAG-parse time (B5)

                event = task_event(
                    "success" if error is None else "error",
                    uuid,
                    videos=polled.results,
                    error=error,
                    expected_results=expected,
                )
                return self, Done(event)
        wait = self._replace(failures=0, progress=polled.progress if polled is not None else None)
        # The first note comes PROGRESS_LOG_SECONDS after the submit: thousands of triggers noting every
        # first poll filled the log and kept the event loop busy (B2).
        if now - max(self.noted_at, self.submitted_at) < PROGRESS_LOG_SECONDS:
            return wait._next(now)
        progress = f"{wait.progress:.0f}%" if wait.progress is not None else "n/a"
        ready = len(polled.results) if polled is not None else 0
        note = f"Task {uuid} running: {ready}/{expected} ready, progress {progress}, elapsed {elapsed:.0f}s"
        return wait._replace(noted_at=now)._next(now, note)

    def timeout(self, now: float) -> Done:
        error = RunwareTimeoutError(
            f"Gave up waiting after {now - self.submitted_at:.0f}s. Runware has no cancel API: the task "
            "keeps running and is billed; a retry of this Airflow task re-attaches to it instead of paying "
            "again.",
            code="waitTimeout",
            task_uuid=self.task_uuid,
        )
        from airflow_provider_wan.results import task_event

        return Done(
            task_event("timeout", self.task_uuid, error=error, expected_results=self.expected_results)
        )

    def _next(
        self, now: float, note: str = "", warn: bool = False, started: bool = True
    ) -> tuple[Wait, Step]:
        if now >= self.end_time:
            return self, self.timeout(now)
        at = self.cadence.next_poll(
            submitted_at=self.submitted_at,
            now=now,
            phase=schedule_phase(self.task_uuid),
            failures=self.failures,
            started=started,
        )
        return self._replace(polls=self.polls + 1), Poll(max(0.0, min(at, self.end_time) - now), note, warn)


class CoalescingPoller:
    """Batches concurrent ``getResponse`` polls into few HTTP requests over one client."""

    def __init__(
        self,
        client: AsyncRunwareClient,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        max_requests_per_flush: int = MAX_REQUESTS_PER_FLUSH,
    ) -> None:
        self.client = client
        self.max_batch = max(1, max_batch)
        self.window_seconds = window_seconds
        self.max_requests_per_flush = max(1, max_requests_per_flush)
        self._pending: dict[str, list[asyncio.Future[TaskState]]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._semaphore = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self.batching_refused = False

    async def get(self, task_uuid: str) -> TaskState:
        """The current state of ``task_uuid``, fetched with the next batch."""
        future: asyncio.Future[TaskState] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(task_uuid, []).append(future)
        # One flush task at a time, started on the grid: a full batch waits for its slot too, so a
        # burst of polls (thousands of triggers falling due together) cannot bypass the request cap.
        if self._flush_task is None or self._flush_task.done():
            loop = asyncio.get_running_loop()
            delay = self.window_seconds - (loop.time() % self.window_seconds) if self.window_seconds else 0.0
            self._flush_task = loop.create_task(self._flush(delay))
        return await future

    async def _flush(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        # Polls that arrive while a batch is in flight (slow answers, retry backoff) go in the next round
        # of this same task: get() starts a new flush only when none is running.
        while self._pending:
            size = 1 if self.batching_refused else self.max_batch
            # The oldest polls first, at most max_requests_per_flush requests; the rest wait one slot.
            taken = list(itertools.islice(self._pending, size * self.max_requests_per_flush))
            batch = {u: self._pending.pop(u) for u in taken}
            # Futures whose trigger was cancelled need no answer.
            live = {u: [f for f in fs if not f.done()] for u, fs in batch.items()}
            live = {u: fs for u, fs in live.items() if fs}
            if live:
                uuids = list(live)
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
        from airflow_provider_wan.results import TaskState

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


class _Entry:
    __slots__ = ("poller", "users")

    def __init__(self, poller: CoalescingPoller) -> None:
        self.poller, self.users = poller, 0


_REGISTRY: dict[tuple[int, str, tuple[str, ...]], _Entry] = {}
_heap_frozen = False


def _freeze_startup_heap() -> None:
    """Once per process, when its first poller starts: what is allocated by then (Airflow, the provider and
    their imports, millions of objects that live as long as the process) leaves the garbage collector's
    reach, so a full collection walks only what came after. Unfrozen, each full collection stopped the
    event loop for ~0.5 s with 3,000 triggers in flight (docs/benchmarks.md, B2)."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.freeze()


@contextlib.asynccontextmanager
async def shared_poller(
    config: ClientConfig,
    *,
    client_factory: Callable[[ClientConfig], AsyncRunwareClient] | None = None,
    **poller_kwargs: Any,
) -> AsyncIterator[CoalescingPoller]:
    """The process-wide poller for this event loop and (base URL, key); closed when its last user leaves."""
    # The URL schemes decide which answers are usable: connections that differ there share no poller.
    key = (id(asyncio.get_running_loop()), config.credential_fingerprint, config.downloads.url_schemes)
    entry = _REGISTRY.get(key)
    if entry is None or entry.poller.client.is_closed:
        from airflow_provider_wan.client import AsyncRunwareClient

        _freeze_startup_heap()
        client = (client_factory or AsyncRunwareClient)(config)
        entry = _REGISTRY[key] = _Entry(CoalescingPoller(client, **poller_kwargs))
    entry.users += 1
    try:
        yield entry.poller
    finally:
        entry.users -= 1
        if entry.users <= 0 and _REGISTRY.get(key) is entry:
            del _REGISTRY[key]
            await entry.poller.aclose()
