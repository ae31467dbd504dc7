"""``WanVideoOperator``: generate Wan2.7 videos on Runware without holding a worker or paying twice."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_wan import arguments, budget, idempotency
from airflow_provider_wan.compat import AirflowFailException, conf
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.finish import RunwareTask
from airflow_provider_wan.idempotency import MAX_GENERATIONS, task_uuid_for, ti_identity
from airflow_provider_wan.lineage import LineageMixin
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.media.references import S3InputMode
from airflow_provider_wan.models import FIELD_NAMES, MODEL_ID, WanVideoRequest
from airflow_provider_wan.poller import DEFAULT_CADENCE, Failed, Poll, PollCadence, Step, Wait
from airflow_provider_wan.pricing import estimate
from airflow_provider_wan.results import TaskEvent, TaskState, XComValue
from airflow_provider_wan.templates import TemplateFilesMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

Delivery = Literal["stream", "upload_endpoint"]


class WanVideoOperator(TemplateFilesMixin, LineageMixin, RunwareTask):
    """Submit a Wan2.7 ``videoInference`` task to Runware and wait for the videos.

    The request: ``WanVideoRequest`` fields as keyword arguments (plus ``size``, a preset), overriding a
    whole ``request`` dict (snake_case or wire JSON). Never pays twice: the ``taskUUID`` derives from the
    task instance and the request's fingerprint, so a retry re-attaches to the paid generation. Every
    argument: the README's tables; the steps: docs/operators.md.
    """

    template_fields: Sequence[str] = (
        *(name for name in FIELD_NAMES if name not in ("output_type", "include_cost")),  # a constant, a flag
        "size",
        "request",
        "runware_conn_id",
        "task_uuid",
        "idempotency_key",
        "max_cost_usd",
        "input_video_seconds",
        "s3_destination",
        "aws_conn_id",
    )
    template_fields_renderers = {
        "request": "json",
        "frame_images": "json",
        "reference_images": "json",
        "reference_videos": "json",
        "positive_prompt": "md",
    }
    ui_color = "#f3e8ff"
    operator_extra_links = (RunwareVideoLink(),)

    def __init__(
        self,
        *,
        positive_prompt: str | None = None,
        negative_prompt: str | None = None,
        width: int | str | None = None,
        height: int | str | None = None,
        size: str | None = None,
        resolution: str | None = None,
        duration: int | str | None = None,
        seed: int | str | None = None,
        number_results: int | str | None = None,
        output_type: str | None = None,
        output_format: str | None = None,
        output_quality: int | str | None = None,
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        ttl: int | str | None = None,
        include_cost: bool = True,
        reference_images: list[str] | str | None = None,
        frame_images: list[Any] | str | None = None,
        reference_videos: list[str] | str | None = None,
        audio: str | None = None,
        generate_audio: bool | str | None = None,
        prompt_enhancer: bool | str | None = None,
        shot_type: str | None = None,
        check_content: bool | str | None = None,
        safety_mode: str | None = None,
        request: Mapping[str, Any] | str | None = None,
        runware_conn_id: str = "runware_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        wait_for_completion: bool = True,
        task_uuid: str | None = None,
        idempotency_key: str | None = None,
        max_cost_usd: float | str | None = None,
        input_video_seconds: float | str | None = None,
        allow_partial_results: bool = False,
        fail_on_nsfw: bool = False,
        generation_timeout: float | timedelta = timedelta(minutes=30),
        poll_initial_delay: float | None = None,
        poll_interval: float | None = None,
        poll_max_interval: float = DEFAULT_CADENCE.max_interval,
        s3_destination: str | None = None,
        delivery: Delivery = "stream",
        aws_conn_id: str | None = "aws_default",
        s3_input_mode: S3InputMode = "upload",
        allowed_local_roots: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        # The request keyword arguments, each stored under its own name (templated, read by build_values).
        request_fields = {name: value for name, value in locals().items() if name in FIELD_NAMES}
        # Arguments that are not templated are final here: check them at parse time, not after a submit.
        arguments.check_choice("delivery", delivery, get_args(Delivery))
        arguments.check_choice("s3_input_mode", s3_input_mode, get_args(S3InputMode))
        arguments.check_flags(
            deferrable=deferrable,
            wait_for_completion=wait_for_completion,
            allow_partial_results=allow_partial_results,
            fail_on_nsfw=fail_on_nsfw,
            include_cost=include_cost,
        )
        if delivery == "upload_endpoint" and not s3_destination:
            raise InvalidRequestError("delivery='upload_endpoint' needs s3_destination", parameter="delivery")
        timeout = arguments.check_generation_timeout(generation_timeout)
        poll = arguments.check_poll(poll_initial_delay, poll_interval, poll_max_interval)
        super().__init__(**arguments.with_asset(kwargs, s3_destination))
        for name, value in request_fields.items():
            setattr(self, name, value)
        self.size = size
        self.request = request
        self.runware_conn_id = runware_conn_id
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion
        self.task_uuid = task_uuid
        self.idempotency_key = idempotency_key
        self.max_cost_usd = max_cost_usd
        self.input_video_seconds = input_video_seconds
        self.allow_partial_results = allow_partial_results
        self.fail_on_nsfw = fail_on_nsfw
        self.generation_timeout = timeout
        self.poll_initial_delay, self.poll_interval, self.poll_max_interval = poll
        self.s3_destination = s3_destination
        self.delivery = delivery
        self.aws_conn_id = aws_conn_id
        self.s3_input_mode = s3_input_mode
        # Not templated: which folders may be read is the DAG author's decision, never the data's.
        self.allowed_local_roots = allowed_local_roots
        self._submitted_uuid: str | None = None
        self._spend = budget.Spend()  # set per execute: what earlier generations cost, against the cap

    def build_values(self) -> dict[str, Any]:
        """The parameters of ``request`` (checked on its own) overridden by the keyword arguments (no I/O)."""
        values: dict[str, Any] = {}
        if self.request:
            # Media references (paths, s3:// URIs) stay as given: they are resolved after the checks.
            values = WanVideoRequest.from_any(self.request).model_dump(exclude_unset=True)
        for name in FIELD_NAMES:
            value = getattr(self, name, None)
            if value is not None and not (name == "include_cost" and value is True):  # True: the default
                values[name] = value
        if self.size is not None:
            preset = arguments.check_size(self.size)
            values.setdefault("width", preset.width)
            values.setdefault("height", preset.height)
        return values

    def build_request(self) -> WanVideoRequest:
        """The request validated against every Wan2.7 rule (no I/O), media references unresolved."""
        return WanVideoRequest.from_any(self.build_values())

    def validate_arguments(self) -> tuple[float | None, float | None]:
        """Check the rendered non-request arguments (before any request); the figures they hold."""
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
            arguments.optional_non_negative("input_video_seconds", self.input_video_seconds),
        )

    def execute(self, context: Context) -> Mapping[str, Any] | None:
        try:
            return self._execute(context)
        except InvalidRequestError as err:
            # Raised before anything is submitted and deterministic: a retry cannot fix it, fail now.
            raise AirflowFailException(str(err)) from err

    def _execute(self, context: Context) -> Mapping[str, Any] | None:
        from airflow_provider_wan.media.checks import CheckedInputs, check_media_inputs
        from airflow_provider_wan.media.local import local_roots

        cap, input_seconds = self.validate_arguments()
        checked = self.build_request()  # validated once; this one object is carried to the submit
        # The user's request, not the resolved one: uploads and presigned URLs differ per attempt.
        fingerprint = checked.fingerprint()
        if self.delivery == "upload_endpoint":
            from airflow_provider_wan.media import delivery

            if not delivery.upload_endpoint_eligible(checked):
                raise InvalidRequestError(
                    "delivery='upload_endpoint' takes one result per task and no upload_endpoint of your "
                    "own (Runware has one uploadEndpoint per request); use delivery='stream'",
                    parameter="delivery",
                )
        # A lower bound (input videos not yet probed): refuses before even reading the inputs.
        budget.check_estimate(estimate(checked, input_seconds or 0.0), cap)

        media: CheckedInputs | None = None
        if checked.unresolved_media:
            # Read, check and probe the inputs; nothing is sent to Runware yet.
            media = check_media_inputs(
                checked,
                aws_conn_id=self.aws_conn_id,
                s3_input_mode=self.s3_input_mode,
                input_video_seconds=input_seconds,
                allowed_local_roots=local_roots(self.allowed_local_roots, context),
            )
            input_seconds = media.input_video_seconds
            # Same path or key, other bytes: a new generation, never a re-attach to the old video.
            fingerprint = idempotency.request_identity(fingerprint, media.content_digest)
        if input_seconds is None and checked.reference_videos:
            budget.require_video_seconds(cap, media)  # refuses when a cap is set
            self.log.warning(
                "The estimate excludes input video seconds (unknown for URL/UUID reference videos): "
                "pass input_video_seconds to include them."
            )
        cost = estimate(checked, input_seconds or 0.0)
        self.log.info("%s", cost.describe().capitalize())
        # With the probed input seconds, and still before any Runware request (uploads included).
        budget.check_estimate(cost, cap)
        self._spend = budget.Spend(cap, cost.total_usd, checked.effective_number_results)

        echo: dict[str, Any] = {
            "estimated_cost": cost.total_usd,
            "output_format": checked.effective_output_format,
            "delivery_key": None,
            "duration": checked.effective_duration,
        }
        upload_url: str | None = None
        if self.delivery == "upload_endpoint":
            echo["delivery_key"], upload_url = self._upload_endpoint(checked, fingerprint, context)

        request = checked
        if media is not None:
            ti = context["ti"]
            request = media.resolve(hook=self.hook, scope=f"{ti.dag_id}/{ti.run_id}").request
        if upload_url is not None:  # our presigned URL, not user input: no re-validation
            request = request.model_copy(update={"upload_endpoint": upload_url})
        for ref in request.unresolved_media:  # the one check that nothing unresolved reaches Runware
            raise InvalidRequestError(
                f"{ref.form} reference was not resolved before submit", parameter=ref.parameter
            )

        task_uuid, state = self._submit_or_attach(request, fingerprint, context)
        self._submitted_uuid = task_uuid
        context["ti"].xcom_push(key="task_uuid", value=task_uuid)

        if not self.wait_for_completion:
            self.log.info("Submitted %s; not waiting (pair with RunwareVideoSensor).", task_uuid)
            return {
                "task_uuid": task_uuid,
                "model": MODEL_ID,
                "status": "submitted",
                "estimated_cost": cost.total_usd,
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

    def _cadence(self, request: WanVideoRequest) -> PollCadence:
        return PollCadence.for_video(
            request.effective_duration,
            request.effective_number_results,
            initial_delay=self.poll_initial_delay,
            interval=self.poll_interval,
            max_interval=self.poll_max_interval,
        )

    def _submit_or_attach(
        self, request: WanVideoRequest, fingerprint: str, context: Context
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

    def delivery_token(self, fingerprint: str, context: Context) -> str:
        """Name of the uploadEndpoint staging object (see :func:`.idempotency.delivery_token`)."""
        return idempotency.delivery_token(**ti_identity(context["ti"]), fingerprint=fingerprint)

    def _upload_endpoint(
        self, request: WanVideoRequest, fingerprint: str, context: Context
    ) -> tuple[str, str]:
        """The staging key Runware PUTs the video to, and its presigned URL (masked in logs)."""
        from airflow_provider_wan.media import delivery

        destination = self.destination
        assert destination is not None  # validate_arguments refused upload_endpoint without it
        token = self.delivery_token(fingerprint, context)
        key = delivery.delivery_key(destination, token, request.effective_output_format)
        return key, delivery.presigned_put_url(destination, key, aws_conn_id=self.aws_conn_id)

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
