"""The Airflow names whose home moved between 3.x releases, imported from one place.

Airflow 3.2 moved the task exceptions, the config parser and ``determine_kwargs`` (the arguments a
TaskFlow function takes from the context) into ``airflow.sdk`` (the old homes warn that they are
deprecated). Each name is taken from its newest home first, so on current Airflow nothing deprecated is
imported, and from the older home on 3.1. Everything else the provider uses is in ``airflow.sdk`` (or
``airflow.triggers.base``) since 3.1.1, the oldest release supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
    "conf",
    "determine_kwargs",
]

if TYPE_CHECKING:
    from airflow.sdk import conf
    from airflow.sdk.bases.decorator import determine_kwargs
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
else:
    try:  # Airflow >= 3.2
        from airflow.sdk import conf
        from airflow.sdk.exceptions import (
            AirflowFailException,
            AirflowRescheduleException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )
    except ImportError:
        from airflow.configuration import conf
        from airflow.exceptions import (
            AirflowFailException,
            AirflowRescheduleException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )

    def __getattr__(name: str) -> Any:
        """``determine_kwargs`` on first use: its module (the TaskFlow decorator machinery) costs
        milliseconds of every DAG file's parse and only the ``@task.wan_video`` decorator needs it."""
        if name != "determine_kwargs":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:  # Airflow >= 3.2
            from airflow.sdk.bases.decorator import determine_kwargs
        except ImportError:
            from airflow.utils.operator_helpers import determine_kwargs
        globals()["determine_kwargs"] = determine_kwargs
        return determine_kwargs
