"""``RunwareVideoOperator``: any Runware video model (AIR id), on the submit / re-attach / wait / land path
that ``WanVideoOperator`` (its subclass, fully validated for Wan2.7) shares."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_wan import arguments, budget
from airflow_provider_wan.compat import AirflowFailException, conf
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.finish import RunwareTask
from airflow_provider_wan.idempotency import MAX_GENERATIONS, task_uuid_for, ti_identity
from airflow_provider_wan.lineage import LineageMixin
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.poller import DEFAULT_CADENCE, Failed, Poll, PollCadence, Step, Wait
from airflow_provider_wan.templates import TemplateFilesMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.generic import VideoSubmission
    from airflow_provider_wan.results import TaskEvent, TaskState, XComValue

Delivery = Literal["stream", "upload_endpoint"]


class RunwareVideoOperator(TemplateFilesMixin, LineageMixin, RunwareTask):
    """Submit a ``videoInference`` task for any Runware video model and wait for the videos.

    ``request`` is Runware's wire JSON (a dict, a ``.json`` template file, or JSON / a Python repr from a
    template) with ``positivePrompt`` or ``inputs``; ``taskType``, ``model`` and ``deliveryMethod`` come
    from ``model`` (an AIR id). Only the structure is checked here (and, for the Wan family, the fields and
    ranges Runware's SDK declares); Runware validates the rest and its refusal is an
    ``InvalidRequestError``. With ``max_cost_usd``, a model whose price is unknown is refused before any
    request unless ``estimated_cost_usd`` gives the expected cost. Idempotency, deferral, S3 landing and
    the XCom value are ``WanVideoOperator``'s (README, docs/operators.md).
    """

    template_fields: Sequence[str] = (
        "model",
        "request",
        "runware_conn_id",
        "task_uuid",
        "idempotency_key",
        "max_cost_usd",
        "estimated_cost_usd",
        "s3_destination",
        "aws_conn_id",
    )
    template_fields_renderers = {"request": "json"}
    ui_color = "#f3e8ff"
    operator_extra_links = (RunwareVideoLink(),)

    def __init__(
        self,
        *,
        model: str,
        request: Mapping[str, Any] | str | None = None,
        runware_conn_id: str = "runware_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        wait_for_completion: bool = True,
        task_uuid: str | None = None,
        idempotency_key: str | None = None,
        max_cost_usd: float | str | None = None,
        estimated_cost_usd: float | str | None = None,
        allow_partial_results: bool = False,
        fail_on_nsfw: bool = False,
        generation_timeout: float | timedelta = timedelta(minutes=30),
        poll_initial_delay: float | None = None,
        poll_interval: float | None = None,
        poll_max_interval: float = DEFAULT_CADENCE.max_interval,
        s3_destination: str | None = None,
        delivery: Delivery = "stream",
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        # Arguments that are not templated are final here: check them at parse time, not after a submit.
        arguments.check_choice("delivery", delivery, get_args(Delivery))
        arguments.check_flags(
            deferrable=deferrable,
            wait_for_completion=wait_for_completion,
            allow_partial_results=allow_partial_results,
            fail_on_nsfw=fail_on_nsfw,
        )
        if delivery == "upload_endpoint" and not s3_destination:
            raise InvalidRequestError("delivery='upload_endpoint' needs s3_destination", parameter="delivery")
        timeout = arguments.check_generation_timeout(generation_timeout)
        poll = arguments.check_poll(poll_initial_delay, poll_interval, poll_max_interval)
        super().__init__(**arguments.with_asset(kwargs, s3_destination))
        self.model = model
        self.request = request
        self.runware_conn_id = runware_conn_id
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion
        self.task_uuid = task_uuid
        self.idempotency_key = idempotency_key
        self.max_cost_usd = max_cost_usd
        self.estimated_cost_usd = estimated_cost_usd
        self.allow_partial_results = allow_partial_results
        self.fail_on_nsfw = fail_on_nsfw
        self.generation_timeout = timeout
        self.poll_initial_delay, self.poll_interval, self.poll_max_interval = poll
        self.s3_destination = s3_destination
        self.delivery = delivery
        self.aws_conn_id = aws_conn_id
        self._submitted_uuid: str | None = None
        self._spend = budget.Spend()  # set per execute: what earlier generations cost, against the cap

    def build_request(self) -> Any:
        """The request checked structurally (no I/O); Runware validates the model's own fields."""
        if self.request in (None, ""):
            raise InvalidRequestError(
                "give the model's request (positivePrompt or inputs)", parameter="request"
            )
        from airflow_provider_wan.generic import RunwareVideoRequest  # at run time, not at parse time

        return RunwareVideoRequest.build(self.model, self.request)

    def validate_arguments(self) -> tuple[float | None, float | None]:
        """Check the rendered non-request arguments (before any request): the budget and the given
        estimate, in USD."""
        from airflow_provider_wan.generic import check_model

        check_model(self.model)
        arguments.check_conn_id("runware_conn_id", self.runware_conn_id)
        arguments.check_conn_id("aws_conn_id", self.aws_conn_id, optional=True)
        # "" or "None" (a template rendering nothing) would silently skip landing paid videos.
        if self.destination is None and self.delivery == "upload_endpoint":
            raise InvalidRequestError("delivery='upload_endpoint' needs s3_destination", parameter="delivery")
        if self.task_uuid not in (None, ""):
            arguments.check_task_uuid(self.task_uuid)
        if self.idempotency_key is not None and not isinstance(self.idempotency_key, (str, int)):
            raise InvalidRequestError(
                f"must be a string, got {type(self.idempotency_key).__name__}", parameter="idempotency_key"
            )
        return (
            budget.parse_cap(self.max_cost_usd),
            arguments.optional_non_negative("estimated_cost_usd", self.estimated_cost_usd, unit="USD"),
        )

    def execute(self, context: Context) -> Mapping[str, Any] | None:
        try:
            return self._execute(context)
        except InvalidRequestError as err:
            # Raised before anything is submitted and deterministic: a retry cannot fix it, fail now.
            raise AirflowFailException(str(err)) from err

    def fingerprint(self, checked: Any) -> str:
        """The user's request, not the resolved one: uploads and presigned URLs differ per attempt."""
        return str(checked.fingerprint())

    def prepare(
        self, checked: Any, fingerprint: str, cap: float | None, given: float | None, context: Context
    ) -> tuple[VideoSubmission, str, dict[str, Any]]:
        """Money and media before any request: what to submit, its identity (the fingerprint, with the
        content of any inputs read), and the echo the finish step reads."""
        if self.delivery == "upload_endpoint":
            raise InvalidRequestError(
                "delivery='upload_endpoint' is Wan2.7's (WanVideoOperator); use delivery='stream'",
                parameter="delivery",
            )
        from airflow_provider_wan.pricing import estimate_any

        # Our price when we know it (a given estimate cannot talk a budget down), else the user's.
        known = estimate_any(checked.model, checked.body)
        total = known if known is not None else given
        budget.check_estimate(total, cap, f"model {checked.model}")
        self._spend = budget.Spend(cap, total or 0.0, checked.effective_number_results)
        echo = {
            "estimated_cost": total,
            "output_format": checked.effective_output_format,
            "delivery_key": None,
            "duration": checked.duration_seconds,
        }
        return checked, fingerprint, echo

    def _execute(self, context: Context) -> Mapping[str, Any] | None:
        cap, given = self.validate_arguments()
        checked = self.build_request()  # validated once; this one object is carried to the submit
        # Identity, money and media, all before any Runware request.
        request, fingerprint, echo = self.prepare(checked, self.fingerprint(checked), cap, given, context)
        echo["model"] = str(self.model)

        task_uuid, state = self._submit_or_attach(request, fingerprint, context)
        self._submitted_uuid = task_uuid
        context["ti"].xcom_push(key="task_uuid", value=task_uuid)

        if not self.wait_for_completion:
            self.log.info("Submitted %s; not waiting (pair with RunwareVideoSensor).", task_uuid)
            return {
                "task_uuid": task_uuid,
                "model": echo["model"],
                "status": "submitted",
                "estimated_cost": echo["estimated_cost"],
            }

        submitted_at = time.time()
        echo["submitted_at"] = submitted_at
        deadline = submitted_at + self.generation_timeout.total_seconds()
        wait = Wait(
            task_uuid, request.effective_number_results, submitted_at, deadline, self._cadence(request)
        )
        if state is None:
            state = self.hook.get_responses([task_uuid]).get(task_uuid)
        waiting, step = wait.after(state, submitted_at)  # an earlier attempt's task may be finished
        if isinstance(step, Poll) and self.deferrable:
            self.log.info(
                "Deferring until task %s finishes (timeout %s).", task_uuid, self.generation_timeout
            )
            self.defer_wait(wait, self.generation_timeout, echo)
        return self.execute_complete(context, {**self._wait_in_worker(waiting, step), **echo})

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> XComValue:
        return self.finish(context, event)

    def on_kill(self) -> None:
        if self._submitted_uuid:
            self.log.warning(
                "Killed while waiting for Runware task %s. Runware has no cancel API: it keeps running and "
                "is billed; a retry or clear of this task re-attaches to it instead of paying again.",
                self._submitted_uuid,
            )

    def _cadence(self, request: VideoSubmission) -> PollCadence:
        return PollCadence.for_video(
            request.effective_duration,
            request.effective_number_results,
            initial_delay=self.poll_initial_delay,
            interval=self.poll_interval,
            max_interval=self.poll_max_interval,
        )

    def _submit_or_attach(
        self, request: VideoSubmission, fingerprint: str, context: Context
    ) -> tuple[str, TaskState | None]:
        """Submit, or re-attach to the generation this task instance already paid for."""
        hook = self.hook
        expected = request.effective_number_results
        if self.task_uuid:  # checked by validate_arguments
            result = hook.submit_video(request, str(self.task_uuid))
            verb = "Re-attached to" if result.already_submitted else "Submitted"
            self.log.info("%s task %s (explicit task_uuid).", verb, result.task_uuid)
            return result.task_uuid, None
        identity = ti_identity(context["ti"])
        key = str(self.idempotency_key) if self.idempotency_key else None
        for generation in range(MAX_GENERATIONS):
            task_uuid = task_uuid_for(
                **identity, fingerprint=fingerprint, generation=generation, idempotency_key=key
            )
            self._spend.check_next(task_uuid, hook.get_responses)  # the cap counts every generation
            result = hook.submit_video(request, task_uuid)
            if not result.already_submitted:
                self.log.info("Submitted Runware task %s (generation %d).", task_uuid, generation)
                return task_uuid, None
            state = hook.get_responses([task_uuid]).get(task_uuid)
            if state is not None and state.status(expected) == "error":
                first = state.errors[0]
                if first.category != "not_found" and not (self.allow_partial_results and state.results):
                    log = "Generation %d (task %s) failed earlier [%s]; submitting a new generation."
                    self.log.warning(log, generation, task_uuid, first.code)
                    self._spend.add(state)
                    continue
            log = (
                "Re-attached to Runware task %s (generation %d), submitted by an earlier try: not paid twice."
            )
            self.log.info(log, task_uuid, generation)
            return task_uuid, state
        raise RunwareError(
            f"{MAX_GENERATIONS} generations of this task failed; change idempotency_key to start over",
            code="tooManyGenerations",
            retryable=False,
        )

    def _wait_in_worker(self, wait: Wait, step: Step) -> TaskEvent:
        """Synchronous wait (``deferrable=False``): the trigger's step, with the worker sleeping."""
        while isinstance(step, Poll):
            step.log_to(self.log)
            time.sleep(step.delay)
            polled: TaskState | RunwareError | None
            try:
                polled = self.hook.get_responses([wait.task_uuid]).get(wait.task_uuid)
            except RunwareError as err:
                polled = err
            wait, step = wait.after(polled, time.time())
        if isinstance(step, Failed):
            raise step.error
        return step.event
