"""OpenLineage objects for :mod:`airflow_provider_wan.lineage` (needs the ``openlineage`` extra).

Imported only when the OpenLineage listener asks a task for its facets, never when a DAG is parsed.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_wan.lineage import VideoLineage

#: The run facet's key in the OpenLineage event's ``run.facets``.
RUN_FACET_KEY = "runware_video"


@define
class RunwareVideoRunFacet(RunFacet):
    """A Runware ``videoInference`` task: what ran, what it cost and how many seconds of video it made.

    :param model: the model Runware reports (AIR id, e.g. ``alibaba:wan@2.7``).
    :param taskUUID: the Runware task UUID.
    :param status: ``success``, ``partial``... or ``submitted`` (fire-and-forget).
    :param cost: USD charged, as Runware reports it.
    :param estimatedCost: USD estimated before the submit.
    :param videoCount: number of videos returned.
    :param videoSeconds: seconds of video returned (duration x videos), when the duration is known.
    """

    model: str | None = None
    taskUUID: str | None = None  # camelCase, as OpenLineage facets spell fields
    status: str | None = None
    cost: float | None = None
    estimatedCost: float | None = None
    videoCount: int = 0
    videoSeconds: float | None = None


def operator_lineage(lineage: VideoLineage) -> OperatorLineage[Any, Any]:
    """The provider's ``OperatorLineage`` for a task's inputs, outputs and run facet."""
    return OperatorLineage(
        inputs=[Dataset(namespace=ref.namespace, name=ref.name) for ref in lineage.inputs],
        outputs=[Dataset(namespace=ref.namespace, name=ref.name) for ref in lineage.outputs],
        run_facets={RUN_FACET_KEY: RunwareVideoRunFacet(**lineage.run)},
    )
