"""OpenLineage for the Wan operator and the sensor: media in, S3 videos out, and a Runware run facet.

The OpenLineage provider's listener calls ``get_openlineage_facets_on_complete(task_instance)`` after a
task succeeds (and, lacking ``..._on_failure``, after it fails). :class:`LineageMixin` answers from two
stable things only: the task's XCom value (the documented contract: ``task_uuid``, ``model``, ``status``,
``cost``, ``estimated_cost``, ``videos[].s3_uri``) and the operator's constructor arguments (``request``,
``reference_images``, ``frame_images``, ``reference_videos``, ``audio``, ``duration``).

* inputs: every ``s3://`` object, ``http(s)`` URL (without its query string, which may hold a signature,
  or its user info) and absolute local path among the media references;
* outputs: every video landed in S3;
* run facet ``runware_video``: model, task UUID, status, cost, estimated cost, number and seconds of videos.

This module imports neither OpenLineage nor anything heavy: the provider works without the
``openlineage`` extra, and DAG parsing stays cheap. :mod:`airflow_provider_wan.lineage_facets` builds the
OpenLineage objects, imported only when the listener asks.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Operator arguments that carry input media (snake_case, as the operator takes them).
MEDIA_ARGUMENTS: tuple[str, ...] = ("reference_images", "frame_images", "reference_videos", "audio")
#: Keys of a ``request`` dict that carry input media, in either form (wire inputs may sit under "inputs").
_REQUEST_MEDIA_KEYS = frozenset(
    {*MEDIA_ARGUMENTS, "referenceImages", "frameImages", "referenceVideos", "inputs"}
)


class DatasetRef(NamedTuple):  # not a dataclass: built ~8x faster, at DAG parse time
    """An OpenLineage dataset identity (naming spec: ``s3://bucket`` + key, ``https://host`` + path)."""

    namespace: str
    name: str


@dataclass
class VideoLineage:
    """What a finished (or failed) Runware video task read and wrote, in plain data."""

    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)


def dataset_for(reference: str) -> DatasetRef | None:
    """The dataset behind a media reference; None for media UUIDs, data URIs and relative paths."""
    text = reference.strip()
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        return DatasetRef(f"s3://{bucket}", key) if bucket and key else None
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        if not parts.hostname:
            return None
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return DatasetRef(f"{parts.scheme}://{host}", parts.path or "/")
    if text.startswith("file://"):
        text = urlsplit(text).path
    if text.startswith("/"):
        return DatasetRef("file", text)
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every string inside nested lists and dicts (frame images are dicts with an image and a frame)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def request_mapping(request: Any) -> Mapping[str, Any]:
    """A ``request`` argument as a dict: a dict, or the JSON or Python repr a template rendered it to."""
    if isinstance(request, Mapping):
        return request
    if isinstance(request, str):
        for parse in (json.loads, ast.literal_eval):
            try:
                value = parse(request)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, Mapping):
                return value
    return {}


def input_datasets(task: Any) -> list[DatasetRef]:
    """Datasets read by the task: media references of its ``request`` and its media arguments."""
    request = request_mapping(getattr(task, "request", None))
    values = [value for key, value in request.items() if key in _REQUEST_MEDIA_KEYS]
    values += [getattr(task, name, None) for name in MEDIA_ARGUMENTS]
    return _unique(dataset_for(text) for value in values for text in _strings(value))


def output_datasets(result: Mapping[str, Any]) -> list[DatasetRef]:
    """The videos landed in S3, from the XCom value."""
    videos = result.get("videos")
    uris = [v.get("s3_uri") for v in videos if isinstance(v, Mapping)] if isinstance(videos, list) else []
    return _unique(dataset_for(uri) for uri in uris if isinstance(uri, str))


def _unique(refs: Iterator[DatasetRef | None] | Any) -> list[DatasetRef]:
    return list(dict.fromkeys(ref for ref in refs if ref is not None))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def video_duration(task: Any) -> float | None:
    """Seconds per video: the ``duration`` argument, else the request's, else the model's default."""
    if not any(hasattr(task, name) for name in ("duration", "request")):
        return None  # a sensor: it never saw the request
    request = request_mapping(getattr(task, "request", None))
    for value in (getattr(task, "duration", None), request.get("duration")):
        if value is not None:
            return _number(value)
    from airflow_provider_wan import models

    default = getattr(models, "DEFAULT_DURATION", None)
    return float(default) if isinstance(default, (int, float)) else None


def run_facet_fields(task: Any, result: Mapping[str, Any], task_uuid: Any = None) -> dict[str, Any]:
    """The ``runware_video`` run facet's fields (camelCase, as OpenLineage facets spell them)."""
    videos = result.get("videos")
    count = len(videos) if isinstance(videos, list) else 0
    duration = video_duration(task)
    uuid = result.get("task_uuid") or task_uuid
    return {
        "model": result.get("model") if isinstance(result.get("model"), str) else None,
        "taskUUID": uuid if isinstance(uuid, str) else None,
        "status": result.get("status") if isinstance(result.get("status"), str) else None,
        "cost": _number(result.get("cost")),
        "estimatedCost": _number(result.get("estimated_cost")),
        "videoCount": count,
        "videoSeconds": duration * count if duration is not None and count else None,
    }


def video_lineage(task: Any, result: Mapping[str, Any] | None, task_uuid: Any = None) -> VideoLineage:
    """Inputs, outputs and run facet fields of ``task`` given its XCom value (None when it failed)."""
    value = result or {}
    return VideoLineage(
        inputs=input_datasets(task),
        outputs=output_datasets(value),
        run=run_facet_fields(task, value, task_uuid),
    )


def _xcom(task_instance: Any, key: str) -> Any:
    try:
        return task_instance.xcom_pull(
            task_ids=task_instance.task_id, key=key, map_indexes=getattr(task_instance, "map_index", -1)
        )
    except Exception:  # lineage must never fail the task: no XCom means nothing to report
        return None


class LineageMixin:
    """``get_openlineage_facets_on_complete`` for ``WanVideoOperator`` and ``RunwareVideoSensor``."""

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Datasets in and out and the ``runware_video`` run facet (called by the OpenLineage listener)."""
        from airflow_provider_wan.lineage_facets import operator_lineage

        result = _xcom(task_instance, "return_value")
        uuid = _xcom(task_instance, "task_uuid")
        return operator_lineage(video_lineage(self, result if isinstance(result, Mapping) else None, uuid))
