"""``RunwareVideoSensor``: wait for a Runware video task submitted elsewhere (e.g. fire-and-forget)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_wan.arguments import check_task_uuid, destination_asset, optional_non_negative
from airflow_provider_wan.compat import conf
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.finish import finish
from airflow_provider_wan.lineage import LineageMixin
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.models import NUMBER_RESULTS_MAX
from airflow_provider_wan.poller import DEFAULT_CADENCE, Done, Poll, PollCadence, Wait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.media.s3 import S3Location
    from airflow_provider_wan.results import XComValue


def number_results_from_details(details: Mapping[str, Any]) -> int | None:
    """``numberResults`` of the ``videoInference`` request kept in a ``getTaskDetails`` item.

    ``request`` is documented as the task array as sent; a single object is accepted too. A request
    without ``numberResults`` asked for the default, 1. None when no videoInference request is found.
    """
    request = details.get("request")
    tasks = [request] if isinstance(request, Mapping) else request if isinstance(request, list) else []
    for task in tasks:
        if not isinstance(task, Mapping) or task.get("taskType") != "videoInference":
            continue
        value = task.get("numberResults", 1)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        return None
    return None


class RunwareVideoSensor(LineageMixin, BaseSensorOperator):
    """Wait until a Runware task is finished and return the same XCom value as ``WanVideoOperator``.

    Works in ``poke`` and ``reschedule`` mode and, with ``deferrable=True``, in the triggerer (reusing
    :class:`~airflow_provider_wan.triggers.video.RunwareVideoTrigger`). ``timeout``, ``soft_fail`` and
    ``mode`` behave as for every Airflow sensor. A failed generation fails the sensor with Runware's code.

    A task with ``numberResults > 1`` counts as done only once all its videos are in. The sensor does not
    see the request, so by default it asks Runware: ``getTaskDetails`` (read-only, generates nothing)
    returns the request as submitted, and its ``numberResults`` (1 when absent) is the number to wait for.
    That is one extra HTTP request per run of ``execute`` (per poke in ``reschedule`` mode, where every poke
    is a fresh instance), made only once the answer depends on it (a first video is in) or right before
    deferring. If it fails or holds no request, the sensor logs a warning and waits for one video; pass
    ``expected_results`` to skip the lookup.

    :param task_uuid: the Runware task UUID (templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}"``).
    :param expected_results: ``numberResults`` of the submitted request (1 to 20), or ``None`` (default) to
        read it from Runware's ``getTaskDetails`` as described above.
    :param s3_destination: land the videos in ``s3://bucket/prefix/`` exactly like the operator does, and
        declare that prefix as the task's asset (outlet).
    :param estimated_cost: the submitter's estimate in USD (templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='submit')['estimated_cost'] }}"``), reported beside the actual cost
        in the XCom value; the sensor cannot price a request it never saw.
    """

    template_fields: Sequence[str] = (
        "task_uuid",
        "runware_conn_id",
        "s3_destination",
        "aws_conn_id",
        "estimated_cost",
    )
    ui_color = "#ede9fe"
    operator_extra_links = (RunwareVideoLink(),)

    def __init__(
        self,
        *,
        task_uuid: str,
        runware_conn_id: str = "runware_default",
        expected_results: int | None = None,
        allow_partial_results: bool = False,
        fail_on_nsfw: bool = False,
        s3_destination: str | None = None,
        aws_conn_id: str | None = "aws_default",
        output_format: str = "MP4",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_max_interval: float = DEFAULT_CADENCE.max_interval,
        estimated_cost: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 10.0)
        asset = destination_asset(s3_destination)
        if asset is not None:
            kwargs["outlets"] = [*(kwargs.pop("outlets", None) or []), asset]
        super().__init__(**kwargs)
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.expected_results = expected_results
        self._check_expected()
        # Resolved from getTaskDetails at most once per instance (see the class docstring).
        self._resolved_expected: int | None = None
        self.allow_partial_results = allow_partial_results
        self.fail_on_nsfw = fail_on_nsfw
        self.s3_destination = s3_destination
        self.aws_conn_id = aws_conn_id
        self.output_format = output_format
        self.deferrable = deferrable
        self.poll_max_interval = poll_max_interval
        self.estimated_cost = estimated_cost

    @cached_property
    def hook(self) -> RunwareHook:
        from airflow_provider_wan.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    @cached_property
    def destination(self) -> S3Location | None:
        """``s3_destination`` parsed once (after rendering)."""
        from airflow_provider_wan.media.s3 import parse_destination

        return parse_destination(self.s3_destination)

    def _check_uuid(self) -> str:
        return check_task_uuid(str(self.task_uuid or "").strip())

    def _check_estimate(self) -> float | None:
        """The rendered ``estimated_cost`` as a number; "" / "None" (nothing pushed) mean unknown."""
        return optional_non_negative("estimated_cost", self.estimated_cost, unit="USD")

    def _check_expected(self) -> int | None:
        value = self.expected_results
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= NUMBER_RESULTS_MAX:
            raise InvalidRequestError(
                f"must be an integer from 1 to {NUMBER_RESULTS_MAX} (numberResults of the request), or None "
                f"to ask Runware, got {value!r}",
                parameter="expected_results",
                allowed_values=[None, *range(1, NUMBER_RESULTS_MAX + 1)],
            )
        return value

    def _expected_results(self, task_uuid: str) -> int:
        """``expected_results``, or ``numberResults`` of the submitted request as Runware recorded it."""
        explicit = self._check_expected()
        if explicit is not None:
            return explicit
        if self._resolved_expected is None:
            self._resolved_expected = self._number_results_from_runware(task_uuid)
        return self._resolved_expected

    def _number_results_from_runware(self, task_uuid: str) -> int:
        try:
            found = number_results_from_details(self.hook.get_task_details(task_uuid))
            why = "holds no videoInference request"
        except RunwareError as err:
            found, why = None, f"failed ({err})"
        if found is None:
            self.log.warning(
                "getTaskDetails for task %s %s: waiting for 1 video. Pass expected_results if the request "
                "asked for more.",
                task_uuid,
                why,
            )
            return 1
        self.log.info("Task %s asked for %d video(s) (numberResults, from getTaskDetails)", task_uuid, found)
        return found

    def _wait(self, context: Context, task_uuid: str, expected: int, end_time: float = math.inf) -> Wait:
        """The shared completion step; the sensor's own ``timeout`` ends a poke-mode wait, hence no end."""
        start = getattr(context["ti"], "start_date", None)
        submitted_at = min(start.timestamp(), time.time()) if start is not None else time.time()
        interval = min(float(self.poke_interval), self.poll_max_interval)
        cadence = PollCadence(initial_delay=interval, interval=interval, max_interval=self.poll_max_interval)
        return Wait(task_uuid, expected, submitted_at, end_time, cadence)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        task_uuid = self._check_uuid()
        self._check_estimate()
        self._check_expected()
        state = self.hook.get_responses([task_uuid]).get(task_uuid)
        # The count costs an extra request: fetch it only once it can change the answer. Status is
        # monotonic in the count, so agreeing at both ends of the range means every count agrees.
        count_matters = state is not None and state.status(1) != state.status(NUMBER_RESULTS_MAX)
        known = self.expected_results is not None or count_matters
        expected = self._expected_results(task_uuid) if known else 1
        _, step = self._wait(context, task_uuid, expected).after(state, time.time())
        if isinstance(step, Done):
            return PokeReturnValue(is_done=True, xcom_value=self._complete(context, step.event))
        if isinstance(step, Poll):
            step.log_to(self.log)  # "Task ... running: n/m video(s) ready, progress ..."
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        task_uuid = self._check_uuid()
        result = self.poke(context)  # checks every argument before its first request
        if isinstance(result, PokeReturnValue):
            return result.xcom_value
        from airflow_provider_wan.triggers.video import RunwareVideoTrigger

        timeout = float(self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else self.timeout)
        wait = self._wait(context, task_uuid, self._expected_results(task_uuid), time.time() + timeout)
        self.defer(
            trigger=RunwareVideoTrigger.for_wait(wait, runware_conn_id=self.runware_conn_id),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 300),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        return self._complete(context, event)

    def _complete(self, context: Context, event: Any) -> XComValue:
        if isinstance(event, dict) and event.get("status") == "timeout":
            # Sensor semantics: a timeout is AirflowSensorTimeout, or a skip with soft_fail.
            from airflow_provider_wan.compat import AirflowSensorTimeout, AirflowSkipException

            message = f"Runware task {event.get('task_uuid')} not finished: {event.get('message')}"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        return finish(
            context,
            event,
            hook=self.hook,
            log=self.log,
            estimated_cost=self._check_estimate(),
            allow_partial_results=self.allow_partial_results,
            fail_on_nsfw=self.fail_on_nsfw,
            destination=self.destination,
            aws_conn_id=self.aws_conn_id,
            output_format=self.output_format,
            outlets=self.outlets,
        )
