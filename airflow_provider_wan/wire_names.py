"""The names of the Wan2.7 request, as plain data: what DAG parsing needs without building the model.

``WanVideoOperator`` takes each request field as a keyword argument and templates it, so its class and
``__init__`` need the field names (and the default ``model``) while a DAG file is parsed; building
``models.WanVideoRequest`` (pydantic) for that cost milliseconds of every parse (benchmark B5).
:mod:`airflow_provider_wan.models` checks this table against the model's own fields and aliases when it
is imported, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

MODEL_ID: Final = "alibaba:wan@2.7"

#: Field name -> dotted wire path (``"reference_images"`` -> ``"inputs.referenceImages"``), in wire order.
WIRE_PATHS: Final[Mapping[str, str]] = MappingProxyType(
    {
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
)
#: The snake_case request parameters, in wire order (the operator's request keyword arguments).
FIELD_NAMES: Final[tuple[str, ...]] = tuple(WIRE_PATHS)
