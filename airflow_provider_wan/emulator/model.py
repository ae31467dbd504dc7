"""Facts about Wan2.7 on Runware, written down once from the public model page.

Kept free of any import from the provider package: the emulator is the independent oracle the
provider is tested against, so it must not share the provider's reading of the docs.
"""

from __future__ import annotations

import math
import re
from typing import Final

MODEL_ID: Final = "alibaba:wan@2.7"
#: Where Runware's documented validation error points (``...#request-duration``): used for every parameter.
API_REFERENCE: Final = "https://runware.ai/docs/en/video-inference/api-reference"

#: The only accepted (width, height) pairs and the resolution tier each belongs to.
PRESETS: Final[dict[tuple[int, int], str]] = {
    (1280, 720): "720p",
    (720, 1280): "720p",
    (960, 960): "720p",
    (1088, 832): "720p",
    (832, 1088): "720p",
    (1920, 1080): "1080p",
    (1080, 1920): "1080p",
    (1440, 1440): "1080p",
    (1632, 1248): "1080p",
    (1248, 1632): "1080p",
}
PRESET_NAMES: Final[list[str]] = [f"{w}x{h}" for (w, h) in PRESETS]
RESOLUTIONS: Final = ("720p", "1080p")
DEFAULT_RESOLUTION: Final = "1080p"

#: USD per second of video, billed for output seconds and for input (reference) video seconds.
RATE_PER_SECOND: Final[dict[str, float]] = {"720p": 0.10, "1080p": 0.15}

DURATION_MIN: Final = 2
DURATION_MAX: Final = 15
DURATION_MAX_WITH_REFERENCES: Final = 10
DEFAULT_DURATION: Final = 5
FPS: Final = 30
SEED_MAX: Final = 2_147_483_647
NUMBER_RESULTS_MAX: Final = 20
POSITIVE_PROMPT_MAX: Final = 5000
NEGATIVE_PROMPT_MAX: Final = 500
OUTPUT_QUALITY_MIN: Final = 20
OUTPUT_QUALITY_MAX: Final = 99
TTL_MIN: Final = 60

OUTPUT_FORMATS: Final = ("MP4", "WEBM", "MOV")
#: Wire outputFormat -> (file extension, MIME type).
CONTAINERS: Final[dict[str, tuple[str, str]]] = {
    "MP4": ("mp4", "video/mp4"),
    "WEBM": ("webm", "video/webm"),
    "MOV": ("mov", "video/quicktime"),
}

_INDEX = re.compile(r"\[\d+\]")


def doc_url(parameter: str | None) -> str:
    """Documentation link for a wire path, as in Runware's documented ``unsupportedDuration`` error.

    ``inputs.frameImages[1].frame`` -> ``.../video-inference/api-reference#request-inputs-frameimages-frame``.
    """
    if not parameter:
        return API_REFERENCE
    anchor = _INDEX.sub("", parameter).replace(".", "-").lower()
    return f"{API_REFERENCE}#request-{anchor}"


def tier_of_size(width: int, height: int) -> str | None:
    return PRESETS.get((width, height))


def closest_preset(tier: str, aspect: float | None) -> tuple[int, int]:
    """The preset of ``tier`` whose aspect ratio is closest (in log space) to ``aspect``.

    Log space makes 2:1 and 1:2 equally far from 1:1. Unknown aspect -> 16:9, the first preset.
    """
    candidates = [size for size, t in PRESETS.items() if t == tier]
    if aspect is None or aspect <= 0:
        return candidates[0]
    target = math.log(aspect)
    return min(candidates, key=lambda s: abs(math.log(s[0] / s[1]) - target))


def rate_for(tier: str) -> float:
    return RATE_PER_SECOND[tier]
