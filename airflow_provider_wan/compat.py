"""The Airflow names whose home moved between 3.x releases, imported from one place.

Airflow 3.2 moved the task exceptions and the config parser into ``airflow.sdk`` (the old homes warn
that they are deprecated); 3.0 had no ``airflow.sdk.BaseHook`` and no ``BaseHook.aget_connection``, and
3.0.0 no ``airflow.sdk.log.mask_secret``. Each name is taken from its newest home
first, so on current Airflow nothing deprecated is imported, and from the older home on older releases.
Everything else the provider uses is in ``airflow.sdk`` (or ``airflow.triggers.base``) since 3.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "TaskDeferred",
    "aget_connection",
    "conf",
    "mask_secret",
]

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, Connection, conf
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.sdk.log import mask_secret
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
    try:  # Airflow >= 3.0.1
        from airflow.sdk.log import mask_secret
    except ImportError:
        from airflow.sdk.execution_time.secrets_masker import mask_secret


async def aget_connection(hook: BaseHook, conn_id: str) -> Connection:
    """``hook.aget_connection`` (Airflow >= 3.1); on 3.0 the sync lookup, off the event loop."""
    native: Any = getattr(hook, "aget_connection", None)
    if native is not None:
        try:
            conn: Connection = await native(conn_id)
            return conn
        except ImportError:  # 3.1.0 needs a triggerer's channel even for env/secrets-backend connections
            pass
    from asgiref.sync import sync_to_async

    return await sync_to_async(hook.get_connection)(conn_id)
