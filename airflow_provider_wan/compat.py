"""The Airflow names whose home moved between 3.x releases, imported from one place.

Airflow 3.2 moved the task exceptions and the config parser into ``airflow.sdk`` (the old homes warn
that they are deprecated); 3.0 had no ``airflow.sdk.BaseHook``. Each name is taken from its newest home
first, so on current Airflow nothing deprecated is imported, and from the older home on older releases.
Everything else the provider uses is in ``airflow.sdk`` (or ``airflow.triggers.base``) since 3.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "TaskDeferred",
    "conf",
]

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, conf
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
    try:  # Airflow >= 3.1
        from airflow.sdk import BaseHook
    except ImportError:
        from airflow.hooks.base import BaseHook
