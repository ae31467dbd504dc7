"""The ten output sizes of Wan2.7 (model page, "dimension combinations"): data, not code."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

Tier = Literal["720p", "1080p"]


class SizePreset(NamedTuple):  # not a dataclass: built ~8x faster, at DAG parse time
    """One supported output size: its name, dimensions, tier and aspect ratio."""

    name: str
    width: int
    height: int
    tier: Tier
    aspect: str

    @property
    def size(self) -> str:
        """``"1280x720"``: the form used in error messages and ``allowed_values``."""
        return f"{self.width}x{self.height}"


_PRESETS: Final[tuple[SizePreset, ...]] = (
    SizePreset("720p_16_9", 1280, 720, "720p", "16:9"),
    SizePreset("720p_9_16", 720, 1280, "720p", "9:16"),
    SizePreset("720p_1_1", 960, 960, "720p", "1:1"),
    SizePreset("720p_4_3", 1088, 832, "720p", "~4:3"),
    SizePreset("720p_3_4", 832, 1088, "720p", "~3:4"),
    SizePreset("1080p_16_9", 1920, 1080, "1080p", "16:9"),
    SizePreset("1080p_9_16", 1080, 1920, "1080p", "9:16"),
    SizePreset("1080p_1_1", 1440, 1440, "1080p", "1:1"),
    SizePreset("1080p_4_3", 1632, 1248, "1080p", "~4:3"),
    SizePreset("1080p_3_4", 1248, 1632, "1080p", "~3:4"),
)
#: The presets by name (``"720p_16_9"`` ... ``"1080p_3_4"``), in model-page order. Read-only.
SIZE_PRESETS: Final[Mapping[str, SizePreset]] = MappingProxyType({p.name: p for p in _PRESETS})
_BY_SIZE: Final[Mapping[tuple[int, int], SizePreset]] = {(p.width, p.height): p for p in _PRESETS}
#: ``("1280x720", "720x1280", ...)``: the ``allowed_values`` of a size error.
ALLOWED_SIZES: Final[tuple[str, ...]] = tuple(p.size for p in _PRESETS)


def preset_for_size(width: int, height: int) -> SizePreset | None:
    """The preset with exactly these dimensions, or ``None``."""
    return _BY_SIZE.get((width, height))
