"""Key frames of image-to-video: a frame image and its position, and the model page's position rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BeforeValidator, ValidationInfo, model_validator

from airflow_provider_wan.fields import ImageRef, WanModel, choice, is_strict, rule

FramePosition = Literal["first", "last", 0, -1]
ResolvedPosition = Literal["first", "last"]
FRAME_VALUES: Final[tuple[FramePosition, ...]] = ("first", "last", 0, -1)
FrameField = Annotated[FramePosition, BeforeValidator(choice(FRAME_VALUES))]


class FrameImage(WanModel):
    """A key frame: ``image`` (any media reference) and ``frame`` (``"first"``/``0``, ``"last"``/``-1``, or
    omitted for the model page's automatic rule, see :func:`frame_positions`)."""

    wire_prefix: ClassVar[str] = "inputs.frameImages."

    image: ImageRef
    frame: FrameField | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any, info: ValidationInfo) -> Any:
        """A bare string from Python is the image of an automatic frame."""
        if isinstance(data, str) and not is_strict(info):
            return {"image": data}
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if not (k == "frame" and v is None)}
        return data

    @property
    def position(self) -> ResolvedPosition | None:
        """``"first"``/``"last"`` for an explicit ``frame``, ``None`` when automatic."""
        return None if self.frame is None else ("first" if self.frame in ("first", 0) else "last")


def frame_positions(items: Sequence[FrameImage]) -> tuple[ResolvedPosition, ...]:
    """Explicit frames keep their position; the others take the free ones (1 image: first; 2: first, last)."""
    explicit: dict[ResolvedPosition, int] = {}
    for index, item in enumerate(items):
        position = item.position
        if position is not None and position in explicit:
            raise rule(
                f"inputs.frameImages[{index}].frame",
                f"frame position {position!r} is already taken by inputs.frameImages[{explicit[position]}]; "
                "frame positions must be distinct ('first' == 0, 'last' == -1)",
                allowed=list(FRAME_VALUES),
            )
        if position is not None:
            explicit[position] = index
    free: list[ResolvedPosition] = [p for p in ("first", "last") if p not in explicit]
    return tuple(item.position or free.pop(0) for item in items)
