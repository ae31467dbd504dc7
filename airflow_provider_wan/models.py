"""The validated Wan2.7 ``videoInference`` request: snake_case in Python, camelCase JSON on the wire.

Every rule of the model page is checked before any HTTP request; a violation is an
:class:`~airflow_provider_wan.errors.InvalidRequestError` naming the **wire** parameter. Each field's alias
is its wire path; Python construction is lax (templates render strings), :meth:`WanVideoRequest.from_wire`
is strict JSON typing. Rules, tiers and typing are explained in docs/architecture.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.fields import (
    AudioRef,
    HttpUrl,
    ImageRef,
    StrictBool,
    StrictInt,
    VideoRef,
    WanModel,
    choice,
    parse_request_text,
    rule,
    shown,
    type_name,
)
from airflow_provider_wan.frames import FrameImage as FrameImage
from airflow_provider_wan.frames import ResolvedPosition, frame_positions
from airflow_provider_wan.idempotency import is_uuid4
from airflow_provider_wan.media.formats import MediaKind
from airflow_provider_wan.media.references import Reference, reference
from airflow_provider_wan.media.references import is_uuid as is_uuid
from airflow_provider_wan.presets import ALLOWED_SIZES as ALLOWED_SIZES
from airflow_provider_wan.presets import SIZE_PRESETS as SIZE_PRESETS
from airflow_provider_wan.presets import SizePreset as SizePreset
from airflow_provider_wan.presets import Tier as Tier
from airflow_provider_wan.presets import preset_for_size as preset_for_size
from airflow_provider_wan.wire_names import FIELD_NAMES as FIELD_NAMES
from airflow_provider_wan.wire_names import MODEL_ID as MODEL_ID
from airflow_provider_wan.wire_names import WIRE_PATHS as WIRE_PATHS

TASK_TYPE: Final = "videoInference"
DELIVERY_METHOD: Final = "async"  # the only delivery method Wan2.7 accepts

OutputType = Literal["URL"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]
ShotType = Literal["single", "multi"]
SafetyMode = Literal["none", "fast", "full"]
NUMBER_RESULTS_MAX: Final = 20
DURATION_MAX_WITH_REFERENCES: Final = 10
DURATION_MIN: Final = 2
_GROUPS: Final = ("inputs", "settings", "safety")
_ENVELOPE: Final = {"taskType": TASK_TYPE, "model": MODEL_ID, "deliveryMethod": DELIVERY_METHOD}


TierField = Annotated[Tier, BeforeValidator(choice(("720p", "1080p")))]
OutputTypeField = Annotated[OutputType, BeforeValidator(choice(("URL",)))]
OutputFormatField = Annotated[OutputFormat, BeforeValidator(choice(("MP4", "WEBM", "MOV")))]
ShotTypeField = Annotated[ShotType, BeforeValidator(choice(("single", "multi")))]
SafetyModeField = Annotated[SafetyMode, BeforeValidator(choice(("none", "fast", "full")))]


class WanVideoRequest(WanModel):
    """A Wan2.7 ``videoInference`` request, immutable; every field optional (aliases: :data:`WIRE_PATHS`),
    ``include_cost`` on by default so that every result reports its cost."""

    positive_prompt: str | None = Field(None, alias="positivePrompt", min_length=1, max_length=5000)
    negative_prompt: str | None = Field(None, alias="negativePrompt", max_length=500)
    width: StrictInt | None = None
    height: StrictInt | None = None
    resolution: TierField | None = None
    duration: StrictInt | None = Field(None, ge=DURATION_MIN, le=15)
    seed: StrictInt | None = Field(None, ge=0, le=2_147_483_647)
    number_results: StrictInt | None = Field(None, alias="numberResults", ge=1, le=NUMBER_RESULTS_MAX)
    output_type: OutputTypeField | None = Field(None, alias="outputType")
    output_format: OutputFormatField | None = Field(None, alias="outputFormat")
    output_quality: StrictInt | None = Field(None, alias="outputQuality", ge=20, le=99)
    webhook_url: HttpUrl | None = Field(None, alias="webhookURL")
    upload_endpoint: HttpUrl | None = Field(None, alias="uploadEndpoint")
    ttl: StrictInt | None = Field(None, ge=60)
    include_cost: StrictBool = Field(True, alias="includeCost")
    reference_images: list[ImageRef] | None = Field(None, alias="inputs.referenceImages", min_length=1)
    frame_images: list[FrameImage] | None = Field(
        None, alias="inputs.frameImages", min_length=1, max_length=2
    )
    reference_videos: list[VideoRef] | None = Field(None, alias="inputs.referenceVideos", min_length=1)
    audio: AudioRef | None = Field(None, alias="inputs.audio")
    generate_audio: StrictBool | None = Field(None, alias="settings.audio")
    prompt_enhancer: StrictBool | None = Field(None, alias="settings.promptEnhancer")
    shot_type: ShotTypeField | None = Field(None, alias="settings.shotType")
    check_content: StrictBool | None = Field(None, alias="safety.checkContent")
    safety_mode: SafetyModeField | None = Field(None, alias="safety.mode")

    @model_validator(mode="wrap")
    @classmethod
    def _flatten(
        cls, data: Any, handler: ModelWrapValidatorHandler[WanVideoRequest], info: ValidationInfo
    ) -> Any:
        """Drop nulls (absent); in wire mode flatten the groups to their dotted aliases and check the
        envelope, reporting its errors after unknown keys and before everything else."""
        if isinstance(data, WanVideoRequest):
            return handler(data)
        if not isinstance(data, Mapping):
            raise rule("request", f"must be an object of request parameters, got {type_name(data)}")
        wire = bool(info.context and info.context.get("wire"))
        known = {*WIRE_PATHS.values(), *_GROUPS, *_ENVELOPE, "taskUUID"} if wire else set(WIRE_PATHS)
        out: dict[Any, Any] = {}
        deferred: list[PydanticCustomError] = []
        for key, value in data.items():
            if value is None and key in known:
                continue
            if not wire:
                out[key] = value
            elif key in _ENVELOPE or key == "taskUUID":
                expected = _ENVELOPE.get(key)
                if key == "taskUUID" and not is_uuid4(value):
                    deferred.append(rule(key, "must be a UUID version 4 string"))
                elif expected is not None and value != expected:
                    deferred.append(rule(key, f"must be {expected!r}", allowed=[expected]))
            elif isinstance(key, str) and "." in key:
                out[repr(key)] = value  # a dotted alias is ours, never a wire key
            elif key in _GROUPS and not isinstance(value, Mapping):
                deferred.append(rule(key, f"must be an object, got {type_name(value)}"))
            elif key in _GROUPS:
                for sub, sub_value in value.items():
                    name = f"{key}.{sub}" if isinstance(sub, str) and sub else f"{key}.{sub!r}"
                    if sub_value is not None or name not in known:
                        out[name] = sub_value
            else:
                out[key] = value
        try:
            result = handler(out)
        except ValidationError as exc:
            if deferred and not any(e["type"] == "extra_forbidden" for e in exc.errors()):
                raise deferred[0] from None
            raise
        if deferred:
            raise deferred[0]
        return result

    @model_serializer(mode="wrap")
    def _nest(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        flat: dict[str, Any] = handler(self)
        if not info.by_alias:
            return flat
        out: dict[str, Any] = {}
        for key, value in flat.items():
            group, dot, sub = key.partition(".")
            if dot:
                out.setdefault(group, {})[sub] = value
            else:
                out[key] = value
        return out

    def to_wire(self, task_uuid: str | None = None) -> dict[str, Any]:
        """The camelCase JSON task for ``POST /v1``: envelope, then every set parameter, groups nested."""
        out: dict[str, Any] = {"taskType": TASK_TYPE}
        if task_uuid is not None:
            if not is_uuid4(task_uuid):
                raise InvalidRequestError(
                    f"must be a UUID version 4 string, got {shown(task_uuid)}", parameter="taskUUID"
                )
            out["taskUUID"] = task_uuid
        body = self.model_dump(by_alias=True, exclude_none=True)
        out.update(model=MODEL_ID, deliveryMethod=DELIVERY_METHOD, includeCost=body.pop("includeCost"))
        return {**out, **body}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], *, strict: bool = True) -> WanVideoRequest:
        """Parse a camelCase task (as :meth:`to_wire` produces; envelope keys optional but checked, JSON
        ``null`` is absent). ``strict=False`` is lax typing, for templated user input."""
        if not isinstance(wire, Mapping):
            raise InvalidRequestError(f"must be a JSON object, got {type_name(wire)}", parameter="request")
        context = {"wire": True, "strict": strict}
        return cls.model_validate(wire, strict=strict or None, by_alias=True, by_name=False, context=context)

    @classmethod
    def from_any(cls, data: WanVideoRequest | Mapping[str, Any] | str) -> WanVideoRequest:
        """A request from an operator's templated ``request``: an instance, a snake_case or (lax) wire
        dict, or either as JSON or as a Python dict repr (what Jinja renders from an XCom dict)."""
        if isinstance(data, WanVideoRequest):
            return data
        if isinstance(data, str):
            data = parse_request_text(data)
        if isinstance(data, Mapping) and any(not isinstance(key, str) for key in data):
            raise InvalidRequestError("parameter names must be strings", parameter="request")
        if isinstance(data, Mapping) and any(key in _WIRE_ONLY_KEYS for key in data):
            return cls.from_wire(data, strict=False)
        return cls.model_validate(data)

    @classmethod
    def unknown_key_hint(cls, key: object) -> str:
        if key in _WIRE_ONLY_KEYS:
            return " (that is a wire name: use the snake_case field or WanVideoRequest.from_wire())"
        return ""

    def replace(self, **changes: Any) -> WanVideoRequest:
        """A re-validated copy with some fields changed (``None`` unsets a field)."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical wire JSON (no taskUUID): equal requests, equal fingerprints. The
        operator takes it before media resolution (uploads and presigned URLs differ per attempt)."""
        canonical = json.dumps(self.to_wire(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @model_validator(mode="after")
    def _rules(self) -> WanVideoRequest:
        """Cross-field rules, in model-page order."""
        frame_positions(self.frame_images or [])  # two frames at one position: a field error, reported first
        has_frames = self.frame_images is not None
        width, height = self.width, self.height
        if not has_frames and self.positive_prompt is None:
            raise rule(
                "positivePrompt", "is required when inputs.frameImages is not given", "missingParameter"
            )
        if has_frames and (width is not None or height is not None):
            raise rule(
                "width" if width is not None else "height",
                "provide exactly one of inputs.frameImages or width/height: with frame images the aspect "
                "ratio follows the image and resolution picks the tier",
                "incompatibleParameters",
            )
        if not has_frames and (width is None or height is None):
            what = "provide exactly one of inputs.frameImages or width/height (one of the supported sizes)"
            if width is not None or height is not None:
                what = "width and height must be given together"
            missing = "height" if width is not None else "width"
            raise rule(missing, what, "missingParameter", allowed=list(ALLOWED_SIZES))
        preset = self.size_preset
        if not has_frames and preset is None:
            raise rule(
                "width", f"{width}x{height} is not a supported Wan2.7 size", allowed=list(ALLOWED_SIZES)
            )
        if preset is not None and self.resolution not in (None, preset.tier):
            raise rule(
                "resolution",
                f"resolution {self.resolution} contradicts the {preset.size} size, which is {preset.tier}",
                "incompatibleParameters",
                allowed=[preset.tier],
            )
        if self.has_references and (self.duration or 0) > DURATION_MAX_WITH_REFERENCES:
            raise rule(
                "duration",
                f"must be at most {DURATION_MAX_WITH_REFERENCES} when inputs.referenceImages or "
                f"inputs.referenceVideos is given, got {self.duration}",
                "unsupportedDuration",
                allowed=list(range(DURATION_MIN, DURATION_MAX_WITH_REFERENCES + 1)),
            )
        if has_frames and self.has_references:
            other = "inputs.referenceImages" if self.reference_images else "inputs.referenceVideos"
            raise rule(
                "inputs.frameImages",
                f"inputs.frameImages cannot be used together with {other}",
                "incompatibleParameters",
            )
        if self.shot_type is not None and not self.has_references:
            raise rule(
                "settings.shotType",
                "requires inputs.referenceImages or inputs.referenceVideos",
                "incompatibleParameters",
            )
        return self

    @property
    def effective_duration(self) -> int:
        """Seconds per output video (server default 5)."""
        return 5 if self.duration is None else self.duration

    @property
    def effective_number_results(self) -> int:
        """Videos this task produces (server default 1)."""
        return 1 if self.number_results is None else self.number_results

    @property
    def output_seconds(self) -> int:
        """Billed output seconds: duration x numberResults."""
        return self.effective_duration * self.effective_number_results

    @property
    def size_preset(self) -> SizePreset | None:
        """The preset of ``width``/``height``, or ``None`` for image-to-video."""
        return None if self.width is None or self.height is None else preset_for_size(self.width, self.height)

    @property
    def tier(self) -> Tier:
        """Output/billing tier: the preset's if width/height are set, else ``resolution`` (default 1080p)."""
        preset = self.size_preset
        return preset.tier if preset is not None else self.resolution or "1080p"

    @property
    def effective_output_format(self) -> OutputFormat:
        """Container of the outputs (server default MP4)."""
        return self.output_format or "MP4"

    @property
    def has_references(self) -> bool:
        """Whether reference images or reference videos are given (limits duration to 10 s)."""
        return bool(self.reference_images or self.reference_videos)

    @property
    def frame_positions(self) -> tuple[ResolvedPosition, ...]:
        """Resolved position of each frame image, in order (empty without frame images)."""
        return frame_positions(self.frame_images or [])

    @property
    def media_references(self) -> tuple[Reference, ...]:
        """Every media reference with its wire path, kind and form, in wire order."""
        slots: list[tuple[str, MediaKind, list[str]]] = [
            ("inputs.referenceImages[{}]", "image", self.reference_images or []),
            ("inputs.frameImages[{}].image", "image", [f.image for f in self.frame_images or []]),
            ("inputs.referenceVideos[{}]", "video", self.reference_videos or []),
            ("inputs.audio", "audio", [] if self.audio is None else [self.audio]),
        ]
        return tuple(
            reference(p.format(i), kind, v) for p, kind, values in slots for i, v in enumerate(values)
        )

    @property
    def unresolved_media(self) -> tuple[Reference, ...]:
        """References Runware cannot take as they are (paths, ``s3://``, inline video/audio): resolve
        them (:mod:`airflow_provider_wan.media.uploads`) before submitting; empty means submittable."""
        return tuple(ref for ref in self.media_references if ref.unresolved)

    def with_media(self, resolved: Mapping[str, str]) -> WanVideoRequest:
        """A copy with references replaced by ``resolved`` (wire path -> value), not re-validated: the
        values come from our resolution of an already validated request, not from a user."""

        def swap(path: str, values: list[str] | None) -> list[str] | None:
            return None if values is None else [resolved.get(f"{path}[{i}]", v) for i, v in enumerate(values)]

        frames = [
            f.model_copy(update={"image": resolved.get(f"inputs.frameImages[{i}].image", f.image)})
            for i, f in enumerate(self.frame_images or [])
        ]
        update = {
            "reference_images": swap("inputs.referenceImages", self.reference_images),
            "frame_images": frames or self.frame_images,
            "reference_videos": swap("inputs.referenceVideos", self.reference_videos),
            "audio": None if self.audio is None else resolved.get("inputs.audio", self.audio),
        }
        return self.model_copy(update=update)


# The parse-time table (wire_names, no pydantic) must be exactly this model's fields and aliases, in order.
if list(WanVideoRequest.wire_paths().items()) != list(WIRE_PATHS.items()):
    raise ImportError("wire_names.WIRE_PATHS differs from WanVideoRequest's fields and aliases")
# Wire keys that can never be a snake_case field name: their presence marks a dict as wire JSON.
_WIRE_ONLY_KEYS: Final = frozenset(
    {p.split(".")[0] for p in WIRE_PATHS.values()} | set(_ENVELOPE) | {"taskUUID"}
) - set(WIRE_PATHS)
