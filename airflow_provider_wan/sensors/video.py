"""``RunwareVideoSensor``: wait for a Runware video task submitted elsewhere (e.g. fire-and-forget)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_wan.completion import complete_task
from airflow_provider_wan.idempotency import is_uuid4
from airflow_provider_wan.outcome import event_from_state

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.hooks.runware import RunwareHook


class RunwareVideoSensor(BaseSensorOperator):
    """Wait until a Runware task is finished and return the same XCom value as ``WanVideoOperator``.

    Works in ``poke`` and ``reschedule`` mode and, with ``deferrable=True``, in the triggerer (reusing
    :class:`~airflow_provider_wan.triggers.video.RunwareVideoTrigger`). ``timeout``, ``soft_fail`` and
    ``mode`` behave as for every Airflow sensor. A failed generation fails the sensor with Runware's code.

    :param task_uuid: the Runware task UUID (templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='submit', key='task_uuid') }}"``).
    :param expected_results: ``numberResults`` of the submitted request.
    :param s3_destination: land the videos in ``s3://bucket/prefix/`` exactly like the operator does.
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

    def __init__(
        self,
        *,
        task_uuid: str,
        runware_conn_id: str = "runware_default",
        expected_results: int = 1,
        allow_partial_results: bool = False,
        fail_on_nsfw: bool = False,
        s3_destination: str | None = None,
        aws_conn_id: str | None = "aws_default",
        output_format: str = "MP4",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_max_interval: float = 10.0,
        estimated_cost: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 10.0)
        super().__init__(**kwargs)
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.expected_results = expected_results
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

    def _check_uuid(self) -> str:
        from airflow_provider_wan.errors import InvalidRequestError

        value = str(self.task_uuid or "").strip()
        if not is_uuid4(value):
            raise InvalidRequestError(
                f"must be a Runware task UUID (v4), got {value!r}", parameter="task_uuid"
            )
        return value

    def _check_estimate(self) -> float | None:
        """The rendered ``estimated_cost`` as a number; "" / "None" (nothing pushed) mean unknown."""
        from airflow_provider_wan.errors import InvalidRequestError

        value = self.estimated_cost
        if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if not number >= 0 or number == float("inf"):
            raise InvalidRequestError(
                f"must be a non-negative amount in USD, got {value!r}", parameter="estimated_cost"
            )
        return number

    def _seconds_waited(self, context: Context) -> float:
        start = getattr(context["ti"], "start_date", None)
        return max(0.0, time.time() - start.timestamp()) if start is not None else 0.0

    def poke(self, context: Context) -> bool | PokeReturnValue:
        task_uuid = self._check_uuid()
        self._check_estimate()
        state = self.hook.get_responses([task_uuid]).get(task_uuid)
        event = event_from_state(
            task_uuid,
            state,
            expected_results=self.expected_results,
            seconds_since_submit=self._seconds_waited(context),
        )
        if event is None:
            progress = state.progress if state is not None else None
            self.log.info(
                "Task %s still running (progress %s)",
                task_uuid,
                f"{progress:.0f}%" if progress is not None else "n/a",
            )
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._complete(context, event))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        task_uuid = self._check_uuid()
        self._check_estimate()
        result = self.poke(context)
        if isinstance(result, PokeReturnValue):
            return result.xcom_value
        from airflow_provider_wan.triggers.video import RunwareVideoTrigger

        timeout = float(self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else self.timeout)
        self.defer(
            trigger=RunwareVideoTrigger(
                task_uuid=task_uuid,
                runware_conn_id=self.runware_conn_id,
                end_time=time.time() + timeout,
                expected_results=self.expected_results,
                submitted_at=time.time() - self._seconds_waited(context),
                poll_initial_delay=min(float(self.poke_interval), self.poll_max_interval),
                poll_interval=min(float(self.poke_interval), self.poll_max_interval),
                poll_max_interval=self.poll_max_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 300),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        return self._complete(context, event)

    def _complete(self, context: Context, event: Any) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("status") == "timeout":
            # Sensor semantics: a timeout is AirflowSensorTimeout, or a skip with soft_fail.
            from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

            message = f"Runware task {event.get('task_uuid')} not finished: {event.get('message')}"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        return complete_task(
            context,
            event,
            hook=self.hook,
            log=self.log,
            estimated_cost=self._check_estimate(),
            allow_partial_results=self.allow_partial_results,
            fail_on_nsfw=self.fail_on_nsfw,
            s3_destination=self.s3_destination,
            aws_conn_id=self.aws_conn_id,
            output_format=self.output_format,
            outlets=self.outlets,
        )
