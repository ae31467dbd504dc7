"""Shared literals of the request-model tests, written from the model page, independently of models.py."""

from __future__ import annotations

from typing import Any

UUID_A = "aac49721-1964-481a-ae78-8a4e29b91402"  # model page frameImages example
UUID_B = "3ad204c3-a9de-4963-8a1a-c3911e3afafe"
TASK_UUID = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"  # a v4 taskUUID from the Runware docs
IMAGE_URL = "https://example.com/images/hero.png"
VIDEO_URL = "https://example.com/videos/clip.mp4"
AUDIO_URL = "https://example.com/audio/voice.mp3"
DATA_URI = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PRESIGNED = (
    "https://your-bucket.s3.amazonaws.com/generated/content.mp4?X-Amz-Signature=abc123&X-Amz-Expires=3600"
)

T2V: dict[str, Any] = {"positive_prompt": "A red fox runs through fresh snow", "width": 1280, "height": 720}
I2V: dict[str, Any] = {"frame_images": [{"image": UUID_A}]}
R2V: dict[str, Any] = {**T2V, "reference_images": [UUID_A]}
V2V: dict[str, Any] = {**T2V, "reference_videos": [VIDEO_URL]}

# The brief's field -> wire path table, restated by hand.
WIRE_NAMES: dict[str, str] = {
    "positive_prompt": "positivePrompt",
    "negative_prompt": "negativePrompt",
    "width": "width",
    "height": "height",
    "resolution": "resolution",
    "duration": "duration",
    "seed": "seed",
    "number_results": "numberResults",
    "output_type": "outputType",
    "output_format": "outputFormat",
    "output_quality": "outputQuality",
    "webhook_url": "webhookURL",
    "upload_endpoint": "uploadEndpoint",
    "ttl": "ttl",
    "include_cost": "includeCost",
    "reference_images": "inputs.referenceImages",
    "frame_images": "inputs.frameImages",
    "reference_videos": "inputs.referenceVideos",
    "audio": "inputs.audio",
    "generate_audio": "settings.audio",
    "prompt_enhancer": "settings.promptEnhancer",
    "shot_type": "settings.shotType",
    "check_content": "safety.checkContent",
    "safety_mode": "safety.mode",
}


def wire_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Test-side snake_case -> wire conversion (no envelope keys: they are optional for from_wire)."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        parts = WIRE_NAMES[key].split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


PAGE_SIZES = [
    ("720p_16_9", 1280, 720, "720p", "16:9"),
    ("720p_9_16", 720, 1280, "720p", "9:16"),
    ("720p_1_1", 960, 960, "720p", "1:1"),
    ("720p_4_3", 1088, 832, "720p", "~4:3"),
    ("720p_3_4", 832, 1088, "720p", "~3:4"),
    ("1080p_16_9", 1920, 1080, "1080p", "16:9"),
    ("1080p_9_16", 1080, 1920, "1080p", "9:16"),
    ("1080p_1_1", 1440, 1440, "1080p", "1:1"),
    ("1080p_4_3", 1632, 1248, "1080p", "~4:3"),
    ("1080p_3_4", 1248, 1632, "1080p", "~3:4"),
]


FRAME_CHOICES: list[Any] = [None, "first", "last", 0, -1]


def expected_positions(frames: list[Any]) -> tuple[str, ...] | int:
    """Oracle: resolved positions, or the index of the item whose explicit frame collides."""
    canonical = {"first": "first", 0: "first", "last": "last", -1: "last"}
    taken: set[str] = set()
    for index, frame in enumerate(frames):
        if frame is None:
            continue
        if canonical[frame] in taken:
            return index
        taken.add(canonical[frame])
    free = [p for p in ("first", "last") if p not in taken]
    return tuple(canonical[f] if f is not None else free.pop(0) for f in frames)


INVALID = "invalidParameter"
MISSING = "missingParameter"
INCOMPATIBLE = "incompatibleParameters"

T2V_WIRE: dict[str, Any] = {"positivePrompt": "x", "width": 1280, "height": 720}
I2V_WIRE: dict[str, Any] = {"inputs": {"frameImages": [{"image": UUID_A}]}}
R2V_WIRE: dict[str, Any] = {**T2V_WIRE, "inputs": {"referenceImages": [UUID_A]}}
