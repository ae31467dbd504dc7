"""``WanVideoOperator``: generate Wan videos on Runware without holding a worker or paying twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

from airflow_provider_wan import arguments, budget, idempotency
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.idempotency import ti_identity
from airflow_provider_wan.media.references import S3InputMode
from airflow_provider_wan.operators.runware import RunwareVideoOperator
from airflow_provider_wan.wan_family import WAN_FAMILY, check_wan_model, family_wire
from airflow_provider_wan.wire_names import FIELD_NAMES, MODEL_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_wan.generic import RunwareVideoRequest, VideoSubmission
    from airflow_provider_wan.models import WanVideoRequest


class WanVideoOperator(RunwareVideoOperator):
    """Submit a Wan ``videoInference`` task to Runware and wait for the videos.

    The request: ``WanVideoRequest`` fields as keyword arguments (plus ``size``, a preset), overriding a
    whole ``request`` dict (snake_case or wire JSON); ``extra_fields`` adds wire fields Runware introduced
    later, sent as given and part of the request's identity. ``model`` (default Wan2.7, fully validated
    against the model page) may name another Wan version (``wan_family.WAN_MODELS``): then the fields and
    ranges Runware's SDK declares for it are checked. Never pays twice: the ``taskUUID`` derives from the
    task instance and the request's fingerprint, so a retry re-attaches to the paid generation. Every
    argument: the README's tables; the steps: docs/operators.md. Submit, wait and finish are
    :class:`~airflow_provider_wan.operators.runware.RunwareVideoOperator`'s.
    """

    template_fields: Sequence[str] = (
        *(name for name in FIELD_NAMES if name not in ("output_type", "include_cost")),  # a constant, a flag
        "size",
        "request",
        "extra_fields",
        "runware_conn_id",
        "task_uuid",
        "idempotency_key",
        "max_cost_usd",
        "estimated_cost_usd",
        "input_video_seconds",
        "s3_destination",
        "aws_conn_id",
    )
    template_fields_renderers = {
        "request": "json",
        "extra_fields": "json",
        "frame_images": "json",
        "reference_images": "json",
        "reference_videos": "json",
        "positive_prompt": "md",
    }

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
        model: str = MODEL_ID,
        extra_fields: Mapping[str, Any] | str | None = None,
        input_video_seconds: float | str | None = None,
        s3_input_mode: S3InputMode = "upload",
        allowed_local_roots: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        # The request keyword arguments, each stored under its own name (templated, read by build_values).
        request_fields = {name: value for name, value in locals().items() if name in FIELD_NAMES}
        # Not templated, so final here: checked at parse time (the other arguments: the base class).
        arguments.check_choice("s3_input_mode", s3_input_mode, get_args(S3InputMode))
        arguments.check_flags(include_cost=include_cost)
        super().__init__(model=check_wan_model(model), request=request, **kwargs)
        for name, value in request_fields.items():
            setattr(self, name, value)
        self.size = size
        self.extra_fields = extra_fields
        self.input_video_seconds = input_video_seconds
        self.s3_input_mode = s3_input_mode
        # Not templated: which folders may be read is the DAG author's decision, never the data's.
        self.allowed_local_roots = allowed_local_roots
        self._input_seconds: float | None = None

    def build_values(self) -> dict[str, Any]:
        """The parameters of ``request`` (checked on its own) overridden by the keyword arguments (no I/O)."""
        from airflow_provider_wan.models import WanVideoRequest  # pydantic: at run time, not at parse time

        values: dict[str, Any] = {}
        if self.request:
            # Media references (paths, s3:// URIs) stay as given: they are resolved after the checks.
            values = WanVideoRequest.from_any(self.request).model_dump(exclude_unset=True)
        values.update(self._keyword_values())
        for name, value in self._size_values().items():
            values.setdefault(name, value)
        return values

    def _keyword_values(self) -> dict[str, Any]:
        """The request fields given as keyword arguments (``include_cost=True`` is the default: left out)."""
        return {
            name: value
            for name in FIELD_NAMES
            if (value := getattr(self, name, None)) is not None
            and not (name == "include_cost" and value is True)
        }

    def _size_values(self) -> dict[str, Any]:
        """Width and height of the ``size`` preset, if one is given."""
        if self.size is None:
            return {}
        preset = arguments.check_size(self.size)
        return {"width": preset.width, "height": preset.height}

    def build_request(self) -> WanVideoRequest | RunwareVideoRequest:
        """The request validated (no I/O), media references unresolved: against every rule of the Wan2.7
        model page, or for another Wan version against the fields and ranges its SDK type declares."""
        from airflow_provider_wan.generic import RunwareVideoRequest, wire_object
        from airflow_provider_wan.models import WanVideoRequest

        spec = WAN_FAMILY.get(str(self.model))
        if spec is None:
            return WanVideoRequest.from_any(self.build_values())
        values = {**self._size_values(), **self._keyword_values()}
        request = wire_object(self.request, "request") if self.request else {}
        return RunwareVideoRequest.build(self.model, family_wire(spec, request, values))

    def validate_arguments(self) -> tuple[float | None, float | None]:
        cap, given = super().validate_arguments()
        self._input_seconds = arguments.optional_non_negative("input_video_seconds", self.input_video_seconds)
        return cap, given

    def fingerprint(self, checked: Any) -> str:
        from airflow_provider_wan.generic import check_extra_fields, fingerprint_with

        # Unchanged without extra fields, so the task UUIDs of existing DAGs stay the same.
        extra = check_extra_fields(self.extra_fields, checked.to_wire())
        return fingerprint_with(checked.fingerprint(), extra)

    def prepare(
        self, checked: Any, fingerprint: str, cap: float | None, given: float | None, context: Context
    ) -> tuple[VideoSubmission, str, dict[str, Any]]:
        from airflow_provider_wan.generic import RunwareVideoRequest, WithExtraFields, check_extra_fields

        if isinstance(checked, RunwareVideoRequest):  # another Wan version: the general path
            request, fingerprint, echo = super().prepare(checked, fingerprint, cap, given, context)
        else:
            request, fingerprint, echo = self._prepare_wan27(checked, fingerprint, cap, context)
        extra = check_extra_fields(self.extra_fields, request.to_wire())
        return (WithExtraFields(request, extra) if extra else request), fingerprint, echo

    def _prepare_wan27(
        self, checked: WanVideoRequest, fingerprint: str, cap: float | None, context: Context
    ) -> tuple[WanVideoRequest, str, dict[str, Any]]:
        """Budget and media of a Wan2.7 request (its price is known), before any Runware request."""
        from airflow_provider_wan.media.checks import CheckedInputs, check_media_inputs
        from airflow_provider_wan.media.local import local_roots
        from airflow_provider_wan.pricing import estimate

        input_seconds = self._input_seconds
        if self.delivery == "upload_endpoint":
            from airflow_provider_wan.media import delivery

            if not delivery.upload_endpoint_eligible(checked):
                raise InvalidRequestError(
                    "delivery='upload_endpoint' takes one result per task and no upload_endpoint of your "
                    "own (Runware has one uploadEndpoint per request); use delivery='stream'",
                    parameter="delivery",
                )
        # A lower bound (input videos not yet probed): refuses before even reading the inputs.
        lower = estimate(checked, input_seconds or 0.0)
        budget.check_estimate(lower.total_usd, cap, lower.describe())

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
        budget.check_estimate(cost.total_usd, cap, cost.describe())
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
        return request, fingerprint, echo

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
