"""Deferrable wait for a Runware video task: polls ``getResponse`` in the triggerer, holding no worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.outcome import event_from_state, make_event, timeout_event
from airflow_provider_wan.poller import PollCadence, shared_poller

PROGRESS_LOG_SECONDS = 10.0


class RunwareVideoTrigger(BaseTrigger):
    """Wait for ``task_uuid`` and yield exactly one event, then return.

    The event is ``{"status": "success"|"error"|"timeout", "task_uuid", "videos", "cost", "error",
    "message", "expected_results"}`` (see :mod:`airflow_provider_wan.outcome`).

    Polls go through the process-wide coalescing poller (one request for many tasks). A few consecutive
    transient failures (429/5xx/network) are tolerated; 4xx answers are permanent. Running twice during a
    triggerer failover is harmless: polling is read-only.

    :param task_uuid: the Runware task to wait for.
    :param runware_conn_id: Airflow connection id (type ``runware``).
    :param end_time: absolute deadline (epoch seconds); a ``timeout`` event is yielded after it.
    :param expected_results: ``numberResults`` of the request.
    :param submitted_at: epoch seconds of the submit (a not-found answer shortly after is tolerated).
    :param poll_initial_delay: seconds before the first poll.
    :param poll_interval: interval after that (steady until ``poll_plateau_seconds`` after the submit, or
        growing x1.5 per poll when no plateau is given) up to ``poll_max_interval``.
    :param poll_plateau_seconds: seconds after the submit during which polls stay ``poll_interval`` apart.
    :param max_consecutive_failures: transient failures in a row before giving up with an error event.
    :param coalesce: share one batched poller with the other triggers of the process.
    :param echo: plain-JSON values copied into the event (the operator's estimate, output format and
        delivery key), since the operator resumes on a fresh instance.
    """

    def __init__(
        self,
        *,
        task_uuid: str,
        runware_conn_id: str = "runware_default",
        end_time: float,
        expected_results: int = 1,
        submitted_at: float | None = None,
        poll_initial_delay: float = 5.0,
        poll_interval: float = 2.0,
        poll_max_interval: float = 10.0,
        poll_plateau_seconds: float | None = None,
        max_consecutive_failures: int = 5,
        coalesce: bool = True,
        echo: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.end_time = float(end_time)
        self.expected_results = int(expected_results)
        self.submitted_at = float(submitted_at if submitted_at is not None else time.time())
        self.poll_initial_delay = float(poll_initial_delay)
        self.poll_interval = float(poll_interval)
        self.poll_max_interval = float(poll_max_interval)
        self.poll_plateau_seconds = None if poll_plateau_seconds is None else float(poll_plateau_seconds)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.coalesce = bool(coalesce)
        # Echoed into the event: the operator resumes on a fresh instance and reads everything from it.
        self.echo: dict[str, Any] = dict(echo or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "task_uuid": self.task_uuid,
                "runware_conn_id": self.runware_conn_id,
                "end_time": self.end_time,
                "expected_results": self.expected_results,
                "submitted_at": self.submitted_at,
                "poll_initial_delay": self.poll_initial_delay,
                "poll_interval": self.poll_interval,
                "poll_max_interval": self.poll_max_interval,
                "poll_plateau_seconds": self.poll_plateau_seconds,
                "max_consecutive_failures": self.max_consecutive_failures,
                "coalesce": self.coalesce,
                "echo": self.echo,
            },
        )

    @property
    def cadence(self) -> PollCadence:
        return PollCadence(
            initial_delay=self.poll_initial_delay,
            interval=self.poll_interval,
            max_interval=self.poll_max_interval,
            plateau_seconds=self.poll_plateau_seconds,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        # The echo never overrides what the trigger found.
        event = {**self.echo, **event}
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _wait(self) -> dict[str, Any]:
        # Imported here: the hook module pulls in Airflow's BaseHook, which the triggerer has loaded anyway.
        from airflow_provider_wan.hooks.runware import RunwareHook

        try:
            config = await RunwareHook(self.runware_conn_id).aconfig()
        except RunwareError as err:
            return make_event("error", self.task_uuid, error=err, expected_results=self.expected_results)
        poller_kwargs: dict[str, Any] = {} if self.coalesce else {"max_batch": 1, "window_seconds": 0.0}
        if not self.coalesce:
            # A private poller: same code path, one request per poll (the naive baseline).
            from airflow_provider_wan.client import AsyncRunwareClient
            from airflow_provider_wan.poller import CoalescingPoller

            poller = CoalescingPoller(AsyncRunwareClient(config), **poller_kwargs)
            try:
                return await self._poll_loop(poller)
            finally:
                await poller.aclose()
        async with shared_poller(config) as shared:
            return await self._poll_loop(shared)

    async def _poll_loop(self, poller: Any) -> dict[str, Any]:
        cadence = self.cadence
        polls = failures = 0
        progress: float | None = None
        last_log = 0.0
        while True:
            now = time.time()
            elapsed = now - self.submitted_at
            if now >= self.end_time:
                return timeout_event(self.task_uuid, elapsed, self.expected_results)
            delay = cadence.delay(polls, elapsed=elapsed, progress=progress)
            await asyncio.sleep(max(0.0, min(delay, self.end_time - now)))
            if time.time() >= self.end_time:
                return timeout_event(self.task_uuid, time.time() - self.submitted_at, self.expected_results)
            polls += 1
            try:
                # Bounded by the deadline: a poll can never keep the trigger past end_time.
                state = await asyncio.wait_for(
                    poller.get(self.task_uuid), max(0.1, self.end_time - time.time())
                )
            except asyncio.TimeoutError:
                return timeout_event(self.task_uuid, time.time() - self.submitted_at, self.expected_results)
            except RunwareError as err:
                failures += 1
                if err.retryable and failures < self.max_consecutive_failures:
                    self.log.warning(
                        "Poll %d of task %s failed (%s); %d transient failure(s) in a row",
                        polls,
                        self.task_uuid,
                        err,
                        failures,
                    )
                    continue
                err.task_uuid = err.task_uuid or self.task_uuid
                return make_event("error", self.task_uuid, error=err, expected_results=self.expected_results)
            failures = 0
            event = event_from_state(
                self.task_uuid,
                state,
                expected_results=self.expected_results,
                seconds_since_submit=time.time() - self.submitted_at,
            )
            if event is not None:
                self.log.info("Task %s finished: %s after %.0fs", self.task_uuid, event["status"], elapsed)
                return event
            progress = state.progress
            if time.time() - last_log >= PROGRESS_LOG_SECONDS:
                last_log = time.time()
                self.log.info(
                    "Task %s running: %d/%d video(s) ready, progress %s, elapsed %.0fs",
                    self.task_uuid,
                    len(state.results),
                    self.expected_results,
                    f"{progress:.0f}%" if progress is not None else "n/a",
                    elapsed,
                )
