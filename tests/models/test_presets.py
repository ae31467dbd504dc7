"""The ten size presets: the model page table, every preset accepted, neighbours rejected."""

from __future__ import annotations

import pytest

from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.models import (
    ALLOWED_SIZES,
    SIZE_PRESETS,
    WanVideoRequest,
    preset_for_size,
)
from tests.models.support import (
    INCOMPATIBLE,
    PAGE_SIZES,
)

# ----------------------------------------------------------------------------------------------------
# Sizes
# ----------------------------------------------------------------------------------------------------


def test_size_presets_are_the_model_page_table() -> None:
    assert [(p.name, p.width, p.height, p.tier, p.aspect) for p in SIZE_PRESETS.values()] == PAGE_SIZES
    assert list(ALLOWED_SIZES) == [f"{w}x{h}" for _, w, h, _, _ in PAGE_SIZES]
    assert list(SIZE_PRESETS) == [name for name, *_ in PAGE_SIZES]
    with pytest.raises(TypeError):
        SIZE_PRESETS["8k"] = SIZE_PRESETS["720p_1_1"]  # type: ignore[index]


@pytest.mark.parametrize(("name", "width", "height", "tier", "aspect"), PAGE_SIZES)
def test_every_preset_is_accepted(name: str, width: int, height: int, tier: str, aspect: str) -> None:
    request = WanVideoRequest(positive_prompt="x", width=width, height=height)
    assert request.tier == tier
    assert request.size_preset == SIZE_PRESETS[name]
    assert WanVideoRequest(positive_prompt="x", width=width, height=height, resolution=tier).tier == tier
    other = "1080p" if tier == "720p" else "720p"
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(positive_prompt="x", width=width, height=height, resolution=other)
    assert (info.value.parameter, info.value.code) == ("resolution", INCOMPATIBLE)


_NEAR = [(1, 0), (-1, 0), (0, 1), (0, -1), (16, 0), (0, -16), (8, 8), (-32, -32)]
_PAGE_DIMS = {(w, h) for _, w, h, _, _ in PAGE_SIZES}
NEIGHBOURS = [
    *sorted({(w + dw, h + dh) for w, h in _PAGE_DIMS for dw, dh in _NEAR} - _PAGE_DIMS),
    *[(0, 0), (-1280, -720), (720, 720), (1920, 1920), (1280, 1280), (3840, 2160)],
]


@pytest.mark.parametrize(("width", "height"), NEIGHBOURS)
def test_neighbouring_sizes_are_rejected(width: int, height: int) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WanVideoRequest(positive_prompt="x", width=width, height=height)
    assert info.value.parameter == "width"
    assert f"{width}x{height}" in info.value.message
    assert preset_for_size(width, height) is None
