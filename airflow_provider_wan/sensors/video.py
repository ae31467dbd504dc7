"""``RunwareVideoSensor``: wait for a Runware video task submitted elsewhere (e.g. fire-and-forget)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_wan.arguments import check_task_uuid, optional_non_negative, with_asset
from airflow_provider_wan.compat import conf
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.finish import RunwareTask
from airflow_provider_wan.lineage import LineageMixin
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.models import NUMBER_RESULTS_MAX
from airflow_provider_wan.poller import DEFAULT_CADENCE, Done, Poll, PollCadence, Wait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.results import XComValue


def video_request_from_details(details: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``videoInference`` task in a ``getTaskDetails`` item's ``request`` (the task array as sent, or
    one object), or None."""
    request = details.get("request")
    tasks = [request] if isinstance(request, Mapping) else request if isinstance(request, list) else []
    return next((t for t in tasks if isinstance(t, Mapping) and t.get("taskType") == "videoInference"), None)


def number_results_from_details(details: Mapping[str, Any]) -> int | None:
    """``numberResults`` (default 1) of the ``videoInference`` task in a ``getTaskDetails`` item; None when
    there is none or it is not a count."""
    task = video_request_from_details(details)
    value = task.get("numberResults", 1) if task else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def model_from_details(details: Mapping[str, Any]) -> str | None:
    """The model Runware recorded for the task (``getTaskDetails``), or None."""
    task = video_request_from_details(details)
    model = task.get("model") if task else None
    return model if isinstance(model, str) and model else None


class RunwareVideoSensor(LineageMixin, BaseSensorOperator, RunwareTask):
    """Wait until a Runware task is finished and return the same XCom value as ``WanVideoOperator``.

    ``poke``, ``reschedule`` or ``deferrable=True`` (the operator's trigger); a failed generation fails it
    with Runware's code. ``expected_results=None`` reads ``numberResults`` from ``getTaskDetails`` (one
    read-only request, only once the count can change the answer; 1 with a warning if it fails).
    ``estimated_cost`` (templated) is the submitter's estimate, echoed beside the actual cost; the sensor
    never sees the request. The XCom ``model`` is ``model`` (templated) if given, else the model Runware
    recorded (from the same ``getTaskDetails`` answer; one lookup at most). Every argument: README and
    docs/operators.md.
    """

    template_fields: Sequence[str] = (
        "task_uuid",
        "runware_conn_id",
        "s3_destination",
        "aws_conn_id",
        "estimated_cost",
        "model",
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
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 10.0)
        super().__init__(**with_asset(kwargs, s3_destination))
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
        self.model = model
        self._recorded_model: str | None = None  # from getTaskDetails, with the expected count

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
            try:
                details = self.hook.get_task_details(task_uuid)
                found = number_results_from_details(details)
                self._recorded_model = model_from_details(details)
                why = "holds no videoInference request"
            except RunwareError as err:
                found, why = None, f"failed ({err})"
            if found is None:
                log = "getTaskDetails for task %s %s: waiting for 1 video. Pass expected_results if "
                self.log.warning(log + "the request asked for more.", task_uuid, why)
            else:
                self.log.info(
                    "Task %s asked for %d video(s) (numberResults, from getTaskDetails)", task_uuid, found
                )
            self._resolved_expected = found or 1
        return self._resolved_expected

    def _wait(self, context: Context, task_uuid: str, expected: int, end_time: float = math.inf) -> Wait:
        """The shared completion step; the sensor's own ``timeout`` ends a poke-mode wait, hence no end."""
        start = getattr(context["ti"], "start_date", None)
        submitted_at = min(start.timestamp(), time.time()) if start is not None else time.time()
        # poke_interval is Airflow's (poke/reschedule mode, 10 s by default); deferred, the trigger's
        # shared, batched polls afford the default cadence's interval, or a shorter poke_interval.
        interval = min(float(self.poke_interval), DEFAULT_CADENCE.interval, self.poll_max_interval)
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
            return PokeReturnValue(is_done=True, xcom_value=self.execute_complete(context, step.event))
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
        timeout = self.timeout if isinstance(self.timeout, timedelta) else timedelta(seconds=self.timeout)
        end_time = time.time() + timeout.total_seconds()
        wait = self._wait(context, task_uuid, self._expected_results(task_uuid), end_time)
        # The model known so far travels in the event: the resumed instance need not look it up again.
        self.defer_wait(wait, timeout, {"model": self._model(task_uuid, lookup=False)})

    def execute_complete(self, context: Context, event: Any = None) -> XComValue:
        if isinstance(event, dict) and event.get("status") == "timeout":
            # Sensor semantics: a timeout is AirflowSensorTimeout, or a skip with soft_fail.
            from airflow_provider_wan.compat import AirflowSensorTimeout, AirflowSkipException

            message = f"Runware task {event.get('task_uuid')} not finished: {event.get('message')}"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if isinstance(event, dict) and not event.get("model"):
            event = {**event, "model": self._model(str(event.get("task_uuid") or ""))}
        return self.finish(
            context, event, estimated_cost=self._check_estimate(), output_format=self.output_format
        )

    def _model(self, task_uuid: str, *, lookup: bool = True) -> str | None:
        """``model``, else the model Runware recorded for the task (one ``getTaskDetails`` at most)."""
        if isinstance(self.model, str) and self.model.strip() not in ("", "None"):
            return self.model.strip()
        if self._recorded_model is None and task_uuid and lookup:
            try:
                self._recorded_model = model_from_details(self.hook.get_task_details(task_uuid))
            except RunwareError as err:
                self.log.warning("getTaskDetails for task %s failed (%s): model not known", task_uuid, err)
        return self._recorded_model
