"""Apache Airflow provider for Alibaba's Wan2.7 video model on Runware."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-wan"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    # Imported here so that Airflow listing providers does not import httpx and friends.
    from airflow_provider_wan.connection import CONN_EXTRA_FIELDS, UI_FIELD_BEHAVIOUR

    integration = "Runware Wan2.7"
    return {
        "package-name": PACKAGE_NAME,
        "name": "Runware Wan2.7",
        "description": "Alibaba Wan2.7 video generation on Runware: deferrable, retry-safe, cost-aware.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": integration,
                "external-doc-url": "https://runware.ai/docs/models/alibaba-wan2-7",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {"integration-name": integration, "python-modules": ["airflow_provider_wan.hooks.runware"]}
        ],
        "operators": [
            {
                "integration-name": integration,
                "python-modules": [
                    "airflow_provider_wan.operators.runware",
                    "airflow_provider_wan.operators.video",
                ],
            }
        ],
        "sensors": [
            {"integration-name": integration, "python-modules": ["airflow_provider_wan.sensors.video"]}
        ],
        "triggers": [
            {"integration-name": integration, "python-modules": ["airflow_provider_wan.triggers.video"]}
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_wan.hooks.runware.RunwareHook",
                "hook-name": "Runware",
                "connection-type": "runware",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_EXTRA_FIELDS,
            }
        ],
        "task-decorators": [
            {"name": "wan_video", "class-name": "airflow_provider_wan.decorators.wan_video.wan_video_task"}
        ],
        "extra-links": ["airflow_provider_wan.links.RunwareVideoLink"],
        "config": {
            "wan": {
                "description": "Settings of the Runware Wan provider that are the deployment's, not a DAG's.",
                "options": {
                    "allowed_local_roots": {
                        "description": (
                            "Comma-separated absolute folders that local media paths may be read from, "
                            "checked after resolving symlinks (docs/security.md). Unset: the DAGs folder "
                            "and the running DAG's bundle. Set but empty: no local files at all. An "
                            "operator's allowed_local_roots argument takes precedence."
                        ),
                        "version_added": None,
                        "type": "string",
                        "example": "/opt/airflow/media,/data/shared/wan-inputs",
                        "default": None,
                    }
                },
            }
        },
    }
