"""``WanVideoOperator``: generate Wan2.7 videos on Runware without holding a worker or paying twice."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_wan import idempotency
from airflow_provider_wan.arguments import check_choice, finite_number, non_negative, optional_non_negative
from airflow_provider_wan.assets import destination_outlets
from airflow_provider_wan.compat import AirflowFailException, conf
from airflow_provider_wan.errors import InvalidRequestError, RunwareError
from airflow_provider_wan.finish import finish
from airflow_provider_wan.idempotency import MAX_GENERATIONS, is_uuid4, task_uuid_for, ti_identity
from airflow_provider_wan.lineage import LineageMixin
from airflow_provider_wan.links import RunwareVideoLink
from airflow_provider_wan.models import FIELD_NAMES, MODEL_ID, SIZE_PRESETS, WanVideoRequest
from airflow_provider_wan.poller import Failed, Poll, PollCadence, Step, Wait
from airflow_provider_wan.pricing import estimate
from airflow_provider_wan.results import TaskEvent, TaskState, XComValue
from airflow_provider_wan.templates import TemplateFilesMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.hooks.runware import RunwareHook
    from airflow_provider_wan.media.s3 import S3Location
    from airflow_provider_wan.pricing import CostEstimate

# Request fields accepted as operator keyword arguments (snake_case, as in WanVideoRequest).
REQUEST_FIELDS: tuple[str, ...] = FIELD_NAMES
LOG_EVERY_SECONDS = 10.0
# The framework backstop fires this long after the trigger's own deadline, so the trigger's timeout
# event (with its clear message) normally wins.
BACKSTOP_SECONDS = 300
# A generation takes minutes; a longer wait is a typo (and timedelta overflows long before "inf").
MAX_GENERATION_TIMEOUT = timedelta(days=7)
DELIVERY_MODES: tuple[str, ...] = ("stream", "upload_endpoint")
S3_INPUT_MODES: tuple[str, ...] = ("upload", "presigned_url")


def _timeout(value: object) -> timedelta:
    seconds = (
        value.total_seconds() if isinstance(value, timedelta) else finite_number("generation_timeout", value)
    )
    if not 0 < seconds <= MAX_GENERATION_TIMEOUT.total_seconds():
        raise InvalidRequestError(
            f"must be > 0 seconds and at most {MAX_GENERATION_TIMEOUT.days} days, got {seconds:g} s",
            parameter="generation_timeout",
        )
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


class WanVideoOperator(TemplateFilesMixin, LineageMixin, BaseOperator):
    """Submit a Wan2.7 ``videoInference`` task to Runware and wait for the videos.

    Give the request either as keyword arguments (every ``WanVideoRequest`` field, snake_case:
    ``positive_prompt``, ``width``/``height`` or ``size="720p_16_9"``, ``duration``, ``frame_images``,
    ``reference_images``, ``reference_videos``, ``audio``, ``generate_audio``, ``shot_type``,
    ``number_results``, ``seed``, ``output_format``...) or as a whole ``request`` dict (snake_case or
    Runware's camelCase wire JSON, e.g. pulled from XCom; as a string, JSON or the Python repr that Jinja
    renders from a dict); keyword arguments override its keys. ``positive_prompt``/``negative_prompt`` may
    name a ``.txt``/``.j2``/``.md`` template file and ``request`` a ``.json`` one (module ``templates``).

    **Never pays twice.** The Runware ``taskUUID`` is derived from ``(dag_id, task_id, run_id,
    map_index)`` and a fingerprint of the request, never the try number: a retry, a crashed worker or a
    cleared task re-attaches to the generation already paid for, a changed request is a new generation,
    and a generation that *failed* is followed by a new one on the next try. ``task_uuid`` (explicit) or
    ``idempotency_key`` (templated) override the identity.

    :param runware_conn_id: Airflow connection (type ``runware``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param wait_for_completion: False = submit, push ``task_uuid`` and return (pair with the sensor).
    :param max_cost_usd: refuse, before any request (media uploads included), when the estimate exceeds
        it; the estimate counts the probed seconds of local/S3 input videos.
    :param input_video_seconds: seconds of input video billed (probed automatically for files at hand).
    :param allow_partial_results: with ``number_results > 1``, succeed with the videos that succeeded.
    :param fail_on_nsfw: fail when Runware flags a video as NSFW (default: warn).
    :param generation_timeout: how long to wait for the videos (seconds or timedelta, default 30 min,
        at most 7 days).
    :param poll_initial_delay: seconds before the first poll (default: derived from ``duration``).
    :param poll_interval: poll interval around the expected end (default 3 s), growing up to
        ``poll_max_interval`` once the generation is overdue.
    :param s3_destination: ``s3://bucket/prefix/``: copy every video there (streamed, checksummed)
        before the task succeeds.
    :param delivery: ``"stream"`` (download and upload) or ``"upload_endpoint"`` (Runware PUTs the file
        to a presigned URL; verified, with the streamed copy as fallback).
    :param aws_conn_id: AWS connection for S3 inputs and outputs.
    :param s3_input_mode: ``"upload"`` (S3 inputs go through Runware mediaStorage) or ``"presigned_url"``.
    """

    template_fields: Sequence[str] = (
        "positive_prompt",
        "negative_prompt",
        "width",
        "height",
        "size",
        "resolution",
        "duration",
        "seed",
        "number_results",
        "output_format",
        "output_quality",
        "ttl",
        "webhook_url",
        "upload_endpoint",
        "reference_images",
        "frame_images",
        "reference_videos",
        "audio",
        "generate_audio",
        "prompt_enhancer",
        "shot_type",
        "check_content",
        "safety_mode",
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
        poll_max_interval: float = 10.0,
        s3_destination: str | None = None,
        delivery: Literal["stream", "upload_endpoint"] = "stream",
        aws_conn_id: str | None = "aws_default",
        s3_input_mode: Literal["upload", "presigned_url"] = "upload",
        **kwargs: Any,
    ) -> None:
        # Arguments that are not templated are final here: check them at parse time, not after a submit.
        check_choice("delivery", delivery, DELIVERY_MODES)
        check_choice("s3_input_mode", s3_input_mode, S3_INPUT_MODES)
        if delivery == "upload_endpoint" and not s3_destination:
            raise InvalidRequestError("delivery='upload_endpoint' needs s3_destination", parameter="delivery")
        for flag, flag_value in (
            ("deferrable", deferrable),
            ("wait_for_completion", wait_for_completion),
            ("allow_partial_results", allow_partial_results),
            ("fail_on_nsfw", fail_on_nsfw),
            ("include_cost", include_cost),
        ):
            if not isinstance(flag_value, bool):
                raise InvalidRequestError(
                    f"must be True or False, got {type(flag_value).__name__}", parameter=flag
                )
        timeout = _timeout(generation_timeout)
        initial_delay = (
            None if poll_initial_delay is None else non_negative("poll_initial_delay", poll_initial_delay)
        )
        interval = (
            None if poll_interval is None else non_negative("poll_interval", poll_interval, zero_ok=False)
        )
        max_interval = non_negative("poll_max_interval", poll_max_interval, zero_ok=False)
        outlets = destination_outlets(s3_destination, kwargs.pop("outlets", None))
        if outlets is not None:
            kwargs["outlets"] = outlets
        super().__init__(**kwargs)
        self.positive_prompt = positive_prompt
        self.negative_prompt = negative_prompt
        self.width = width
        self.height = height
        self.size = size
        self.resolution = resolution
        self.duration = duration
        self.seed = seed
        self.number_results = number_results
        self.output_type = output_type
        self.output_format = output_format
        self.output_quality = output_quality
        self.webhook_url = webhook_url
        self.upload_endpoint = upload_endpoint
        self.ttl = ttl
        self.include_cost = include_cost
        self.reference_images = reference_images
        self.frame_images = frame_images
        self.reference_videos = reference_videos
        self.audio = audio
        self.generate_audio = generate_audio
        self.prompt_enhancer = prompt_enhancer
        self.shot_type = shot_type
        self.check_content = check_content
        self.safety_mode = safety_mode
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
        self.poll_initial_delay = initial_delay
        self.poll_interval = interval
        self.poll_max_interval = max_interval
        self.s3_destination = s3_destination
        self.delivery = delivery
        self.aws_conn_id = aws_conn_id
        self.s3_input_mode = s3_input_mode
        self._submitted_uuid: str | None = None

    # -- building the request ------------------------------------------------------------------------

    @cached_property
    def hook(self) -> RunwareHook:
        from airflow_provider_wan.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    def build_values(self) -> dict[str, Any]:
        """The parameters of ``request`` (checked on its own) overridden by the keyword arguments (no I/O)."""
        values: dict[str, Any] = {}
        if self.request:
            # Media references (paths, s3:// URIs) stay as given: they are resolved after the checks.
            values = WanVideoRequest.from_any(self.request).model_dump(exclude_unset=True)
        for name in REQUEST_FIELDS:
            value = getattr(self, name, None)
            if name == "include_cost":
                if value is False:
                    values[name] = False
                continue
            if value is not None:
                values[name] = value
        if self.size is not None:
            preset = SIZE_PRESETS.get(str(self.size).strip())
            if preset is None:
                raise InvalidRequestError(
                    f"unknown size preset {self.size!r}", parameter="size", allowed_values=list(SIZE_PRESETS)
                )
            values.setdefault("width", preset.width)
            values.setdefault("height", preset.height)
        return values

    def build_request(self) -> WanVideoRequest:
        """The request validated against every Wan2.7 rule (no I/O), media references unresolved.

        ``execute`` validates it once and carries this one object: it serves the estimate and the
        fingerprint; the submitted copy has its media resolved (``model_copy``, nothing re-validated).
        """
        return WanVideoRequest.from_any(self.build_values())

    def _float_param(self, name: str) -> float | None:
        return optional_non_negative(
            name, getattr(self, name), unit="USD" if name.endswith("_usd") else "seconds"
        )

    @cached_property
    def destination(self) -> S3Location | None:
        """``s3_destination`` parsed once (after rendering): where every video is landed."""
        from airflow_provider_wan.media.s3 import parse_destination

        return parse_destination(self.s3_destination)

    def validate_arguments(self) -> None:
        """Check the rendered non-request arguments (no I/O); ``execute`` calls it before any request.

        Templated arguments (``s3_destination``, connection ids, ``task_uuid``, ``max_cost_usd``...) are
        only known after rendering, so they are checked here rather than in ``__init__``.
        """
        if not isinstance(self.runware_conn_id, str) or not self.runware_conn_id.strip():
            raise InvalidRequestError("must be a non-empty connection id", parameter="runware_conn_id")
        if self.aws_conn_id is not None and (
            not isinstance(self.aws_conn_id, str) or not self.aws_conn_id.strip()
        ):
            raise InvalidRequestError("must be a connection id or None", parameter="aws_conn_id")
        # "" or "None" (a template rendering nothing) would silently skip landing paid videos.
        if self.destination is None and self.delivery == "upload_endpoint":
            raise InvalidRequestError("delivery='upload_endpoint' needs s3_destination", parameter="delivery")
        if self.task_uuid not in (None, "") and not (
            isinstance(self.task_uuid, str) and is_uuid4(self.task_uuid)
        ):
            raise InvalidRequestError("must be a lowercase UUID version 4", parameter="task_uuid")
        if self.idempotency_key is not None and not isinstance(self.idempotency_key, (str, int)):
            raise InvalidRequestError(
                f"must be a string, got {type(self.idempotency_key).__name__}", parameter="idempotency_key"
            )
        self._float_param("max_cost_usd")
        self._float_param("input_video_seconds")

    # -- execution ------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Mapping[str, Any] | None:
        try:
            return self._execute(context)
        except InvalidRequestError as err:
            # Raised before anything is submitted and deterministic: a retry cannot fix it, fail now.
            raise AirflowFailException(str(err)) from err

    def _execute(self, context: Context) -> Mapping[str, Any] | None:
        from airflow_provider_wan.media.checks import CheckedInputs, check_media_inputs

        self.validate_arguments()
        checked = self.build_request()  # validated once; this one object is carried to the submit
        # The identity of the generation is the user's request, before inputs are uploaded or URLs
        # presigned (those differ per attempt and must not change the task UUID).
        fingerprint = checked.fingerprint()
        if self.delivery == "upload_endpoint":
            self._check_upload_endpoint_eligible(checked)
        input_seconds = self._float_param("input_video_seconds")
        budget = self._float_param("max_cost_usd")
        # A lower bound (input videos not yet probed): refuses before even reading the inputs.
        self._check_budget(estimate(checked, input_seconds or 0.0), budget, final=False)

        media: CheckedInputs | None = None
        if checked.unresolved_media:
            # Read, check and probe the inputs; nothing is sent to Runware yet.
            media = check_media_inputs(
                checked,
                aws_conn_id=self.aws_conn_id,
                s3_input_mode=self.s3_input_mode,
                input_video_seconds=input_seconds,
            )
            input_seconds = media.input_video_seconds
        if input_seconds is None and checked.reference_videos:
            self.log.warning(
                "The estimate excludes input video seconds (unknown for URL/UUID reference videos): "
                "pass input_video_seconds to include them."
            )
        cost = estimate(checked, input_seconds or 0.0)
        # With the probed input seconds, and still before any Runware request (uploads included).
        self._check_budget(cost, budget, final=True)

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
        wait = Wait(
            task_uuid,
            request.effective_number_results,
            submitted_at,
            submitted_at + self.generation_timeout.total_seconds(),
            self._cadence(request),
        )
        if state is None:
            state = self.hook.get_responses([task_uuid]).get(task_uuid)
        waiting, step = wait.after(state, submitted_at)  # an earlier attempt's task may be finished
        if isinstance(step, Poll) and self.deferrable:
            from airflow_provider_wan.triggers.video import RunwareVideoTrigger

            self.log.info(
                "Deferring until task %s finishes (deadline in %s).", task_uuid, self.generation_timeout
            )
            self.defer(
                trigger=RunwareVideoTrigger.for_wait(wait, runware_conn_id=self.runware_conn_id, echo=echo),
                method_name="execute_complete",
                timeout=self.generation_timeout + timedelta(seconds=BACKSTOP_SECONDS),
            )
        return self.execute_complete(context, {**self._wait_in_worker(waiting, step), **echo})

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> XComValue:
        """Resume after the trigger, on a fresh instance: every id and figure comes from the event."""
        return finish(
            context,
            event,
            hook=self.hook,
            log=self.log,
            allow_partial_results=self.allow_partial_results,
            fail_on_nsfw=self.fail_on_nsfw,
            destination=self.destination,
            aws_conn_id=self.aws_conn_id,
            outlets=self.outlets,
        )

    def on_kill(self) -> None:
        if self._submitted_uuid:
            self.log.warning(
                "Killed while waiting for Runware task %s. Runware has no cancel API: the generation keeps "
                "running and is billed. A retry or clear of this task re-attaches to it instead of paying "
                "again.",
                self._submitted_uuid,
            )

    # -- steps ----------------------------------------------------------------------------------------

    def _cadence(self, request: WanVideoRequest) -> PollCadence:
        return PollCadence.for_video(
            request.effective_duration,
            request.effective_number_results,
            initial_delay=self.poll_initial_delay,
            interval=self.poll_interval,
            max_interval=self.poll_max_interval,
        )

    def _check_budget(self, cost: CostEstimate, budget: float | None, *, final: bool) -> None:
        if final:
            self.log.info("%s", cost.describe().capitalize())
        if budget is not None and cost.total_usd > budget + 1e-9:
            # Deterministic: retrying cannot help, so fail without retries and before any request.
            raise AirflowFailException(
                f"Estimated cost ${cost.total_usd:.4f} exceeds max_cost_usd ${budget:.4f} "
                f"({cost.describe()}); nothing was submitted."
            )

    def _submit_or_attach(
        self, request: WanVideoRequest, fingerprint: str, context: Context
    ) -> tuple[str, TaskState | None]:
        """Submit, or re-attach to the generation this task instance already paid for."""
        hook = self.hook
        expected = request.effective_number_results
        if self.task_uuid:  # checked by validate_arguments
            result = hook.submit_video(request, str(self.task_uuid))
            self.log.info(
                "%s task %s (explicit task_uuid).",
                "Re-attached to" if result.already_submitted else "Submitted",
                result.task_uuid,
            )
            return result.task_uuid, None
        identity = ti_identity(context["ti"])
        key = str(self.idempotency_key) if self.idempotency_key else None
        for generation in range(MAX_GENERATIONS):
            task_uuid = task_uuid_for(
                **identity, fingerprint=fingerprint, generation=generation, idempotency_key=key
            )
            result = hook.submit_video(request, task_uuid)
            if not result.already_submitted:
                self.log.info("Submitted Runware task %s (generation %d).", task_uuid, generation)
                return task_uuid, None
            state = hook.get_responses([task_uuid]).get(task_uuid)
            if (
                state is not None
                and state.status(expected) == "error"
                and not (self.allow_partial_results and state.results)
            ):
                first = state.errors[0]
                if first.category != "not_found":
                    self.log.warning(
                        "Generation %d (task %s) failed earlier [%s]; submitting a new generation.",
                        generation,
                        task_uuid,
                        first.code,
                    )
                    continue
            self.log.info(
                "Re-attached to Runware task %s (generation %d): it was submitted by an earlier attempt, "
                "nothing is paid twice.",
                task_uuid,
                generation,
            )
            return task_uuid, state
        raise RunwareError(
            f"{MAX_GENERATIONS} generations of this task failed; change idempotency_key to start over",
            code="tooManyGenerations",
            retryable=False,
        )

    def _check_upload_endpoint_eligible(self, request: WanVideoRequest) -> None:
        from airflow_provider_wan.media import delivery

        if not delivery.upload_endpoint_eligible(request):
            raise InvalidRequestError(
                "delivery='upload_endpoint' takes one result per task and no upload_endpoint of your own "
                "(Runware has one uploadEndpoint per request); use delivery='stream'",
                parameter="delivery",
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
        key = delivery.delivery_key(
            destination, self.delivery_token(fingerprint, context), request.effective_output_format
        )
        url = delivery.presigned_put_url(destination, key, aws_conn_id=self.aws_conn_id)
        return key, url

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
