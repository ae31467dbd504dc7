"""Deferrable wait for a Runware video task: polls ``getResponse`` in the triggerer, holding no worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_wan.client import AsyncRunwareClient, ClientConfig
from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.poller import (
    DEFAULT_CADENCE,
    MAX_CONSECUTIVE_FAILURES,
    CoalescingPoller,
    Failed,
    Poll,
    PollCadence,
    Wait,
    shared_poller,
)
from airflow_provider_wan.results import TaskEvent, TaskState, task_event


class RunwareVideoTrigger(BaseTrigger):
    """Wait for ``task_uuid`` (the shared ``poller.Wait`` step, polls through the process-wide coalescing
    poller; read-only, so running twice after a failover is harmless) and yield exactly one ``TaskEvent``.
    The keyword arguments are those of earlier releases, so a serialized trigger survives an upgrade;
    ``echo`` is plain JSON copied into the event (the operator resumes on a fresh instance).
    """

    def __init__(
        self,
        *,
        task_uuid: str,
        runware_conn_id: str = "runware_default",
        end_time: float,
        expected_results: int = 1,
        submitted_at: float | None = None,
        poll_initial_delay: float = DEFAULT_CADENCE.initial_delay,
        poll_interval: float = DEFAULT_CADENCE.interval,
        poll_max_interval: float = DEFAULT_CADENCE.max_interval,
        poll_plateau_seconds: float | None = DEFAULT_CADENCE.plateau_seconds,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
        coalesce: bool = True,
        echo: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        cadence = PollCadence(
            initial_delay=float(poll_initial_delay),
            interval=float(poll_interval),
            max_interval=float(poll_max_interval),
            plateau_seconds=None if poll_plateau_seconds is None else float(poll_plateau_seconds),
        )
        submitted = float(submitted_at if submitted_at is not None else time.time())
        failures = int(max_consecutive_failures)
        self.wait = Wait(task_uuid, int(expected_results), submitted, float(end_time), cadence, failures)
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.coalesce = bool(coalesce)
        self.echo: dict[str, Any] = dict(echo or {})

    @classmethod
    def for_wait(
        cls, wait: Wait, *, runware_conn_id: str, echo: dict[str, Any] | None = None
    ) -> RunwareVideoTrigger:
        return cls(**_wait_kwargs(wait), runware_conn_id=runware_conn_id, echo=echo)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {**_wait_kwargs(self.wait), "runware_conn_id": self.runware_conn_id}
        kwargs.update(coalesce=self.coalesce, echo=self.echo)
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    @property
    def cadence(self) -> PollCadence:
        return self.wait.cadence

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        # The echo never overrides what the trigger found.
        yield TriggerEvent({**self.echo, **event})  # type: ignore[no-untyped-call]

    async def _wait(self) -> TaskEvent:
        try:
            config = await _connection_config(self.runware_conn_id)
        except RunwareError as err:
            return task_event("error", self.task_uuid, error=err, expected_results=self.wait.expected_results)
        if self.coalesce:
            async with shared_poller(config) as shared:
                return await self._poll_loop(shared)
        # A private poller: same code path, one request per poll (the naive baseline).
        poller = CoalescingPoller(AsyncRunwareClient(config), max_batch=1, window_seconds=0.0)
        try:
            return await self._poll_loop(poller)
        finally:
            await poller.aclose()

    async def _poll_loop(self, poller: CoalescingPoller) -> TaskEvent:
        wait, step = self.wait.start(time.time())
        while isinstance(step, Poll):
            step.log_to(self.log)
            await asyncio.sleep(step.delay)
            polled: TaskState | RunwareError
            try:
                # Bounded by the deadline: a poll can never keep the trigger past end_time.
                polled = await asyncio.wait_for(
                    poller.get(self.task_uuid), max(0.1, wait.end_time - time.time())
                )
            except asyncio.TimeoutError:
                step = wait.timeout(time.time())
                break
            except RunwareError as err:
                polled = err
            wait, step = wait.after(polled, time.time())
        if isinstance(step, Failed):
            return task_event(
                "error", self.task_uuid, error=step.error, expected_results=wait.expected_results
            )
        # From the submit the operator recorded to this detection, not from this trigger's start.
        elapsed = time.time() - wait.submitted_at
        self.log.info(
            "Task %s finished: %s, %.1fs after the submit", self.task_uuid, step.event["status"], elapsed
        )
        return step.event


# Triggers starting together share one connection lookup (per connection id and event loop, for a few
# seconds): each lookup reads the secrets backends and hops to a thread, and 3,000 of them in a row
# stalled the triggerer's loop for ~0.8 s (docs/benchmarks.md, B2).
CONFIG_REUSE_SECONDS = 10.0
_lookups: dict[str, tuple[asyncio.AbstractEventLoop, float, asyncio.Task[ClientConfig]]] = {}


async def _connection_config(conn_id: str) -> ClientConfig:
    # Imported here: the hook module pulls in Airflow's BaseHook, which the triggerer has loaded anyway.
    from airflow_provider_wan.hooks.runware import RunwareHook

    loop = asyncio.get_running_loop()
    entry = _lookups.get(conn_id)
    if entry is None or entry[0] is not loop or loop.time() - entry[1] > CONFIG_REUSE_SECONDS:
        entry = _lookups[conn_id] = (loop, loop.time(), loop.create_task(RunwareHook(conn_id).aconfig()))
    try:
        # Shielded: one cancelled trigger must not cancel the lookup the others wait for.
        return await asyncio.shield(entry[2])
    except Exception:
        if _lookups.get(conn_id) is entry:  # a failed lookup is not reused
            del _lookups[conn_id]
        raise


def _wait_kwargs(wait: Wait) -> dict[str, Any]:
    """A wait as the trigger's keyword arguments, named as in earlier releases (serialized triggers)."""
    cadence = wait.cadence
    return {
        "task_uuid": wait.task_uuid,
        "end_time": wait.end_time,
        "expected_results": wait.expected_results,
        "submitted_at": wait.submitted_at,
        "poll_initial_delay": cadence.initial_delay,
        "poll_interval": cadence.interval,
        "poll_max_interval": cadence.max_interval,
        "poll_plateau_seconds": cadence.plateau_seconds,
        "max_consecutive_failures": wait.max_failures,
    }
