"""The "Runware video" extra link, shared by the operator and the sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

VIDEO_URL_KEY = "video_url"


class RunwareVideoLink(BaseOperatorLink):
    """Extra link "Runware video": the first generated video's URL ("" until there is one).

    Asked for after every try, deferrals included; reading a missing XCom logs an error-level "XCom not
    found", so the key is counted first (a request that logs nothing) and skipped while there is none.
    """

    name = "Runware video"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        if _stored_count(ti_key) == 0:
            return ""
        try:
            value = XCom.get_value(ti_key=ti_key, key=VIDEO_URL_KEY)
        except Exception:  # no video: the task failed, or the store cannot answer
            return ""
        return value if isinstance(value, str) else ""


def _stored_count(ti_key: TaskInstanceKey) -> int | None:
    """How many ``video_url`` XComs the task's run holds (every map index); ``None`` if unknown."""
    try:
        from airflow.sdk.execution_time.comms import GetXComCount, XComCountResponse
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        msg = SUPERVISOR_COMMS.send(
            GetXComCount(
                key=VIDEO_URL_KEY, dag_id=ti_key.dag_id, run_id=ti_key.run_id, task_id=ti_key.task_id
            )
        )
    except Exception:  # outside a task runner (no supervisor channel): let the plain read decide
        return None
    return msg.len if isinstance(msg, XComCountResponse) else None
