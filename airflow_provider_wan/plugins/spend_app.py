"""The spend view's FastAPI app and its database query (imported by the api-server on first use).

Read-only, behind Airflow's own login: the session cookie or a bearer token, checked by Airflow's auth
manager. Only the DAGs the user may read are counted. No ``from __future__ import annotations`` here:
FastAPI reads the endpoint's annotations at runtime.
"""

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.configuration import conf
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from airflow_provider_wan.plugins.spend_page import render_page
from airflow_provider_wan.plugins.spend_report import SpendReport, TaskRecord

# task_type of the provider's tasks in the task_instance table.
TASK_TYPES = ("WanVideoOperator", "RunwareVideoOperator", "RunwareVideoSensor")
# ...and of @task.wan_video tasks, whose task_type is an internal class: their custom operator name.
DECORATOR_NAMES = ("@task.wan_video",)
MAX_DAYS = 366


def readable_dags(user: GetUserDep) -> set[str]:
    """The DAGs the logged-in user may read (raises 401/403 without a valid login)."""
    dag_ids: set[str] = get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
    return dag_ids


def create_app() -> FastAPI:
    """The view's FastAPI app (mounted by the api-server under the plugin's URL prefix)."""
    app = FastAPI(title="Runware spend", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def spend_page(
        dag_ids: Annotated[set[str], Depends(readable_dags)],
        days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7,
    ) -> HTMLResponse:
        today = datetime.now(timezone.utc).date()
        report = SpendReport.build(load_records(dag_ids, days=days), days=days, today=today)
        return HTMLResponse(render_page(report, ui_root=ui_root()), headers={"Cache-Control": "no-store"})

    return app


def load_records(dag_ids: set[str], *, days: int) -> list[TaskRecord]:
    """Task instances of the provider's tasks in ``dag_ids`` that ended (or started) in the window."""
    if not dag_ids:
        return []
    # One spare day: the report trims to whole UTC days itself.
    since = datetime.now(timezone.utc) - timedelta(days=days + 1)
    ti, value, seconds = TaskInstance, aliased(XComModel), aliased(XComModel)

    def of_ti(xcom: Any, key: str) -> Any:
        return and_(
            xcom.dag_id == ti.dag_id,
            xcom.run_id == ti.run_id,
            xcom.task_id == ti.task_id,
            xcom.map_index == ti.map_index,
            xcom.key == key,
        )

    columns = (ti.dag_id, ti.task_id, ti.run_id, ti.map_index, ti.state, ti.start_date, ti.end_date)
    query = (
        select(*columns, value.value.label("value"), seconds.value.label("seconds"))
        .outerjoin(value, of_ti(value, "return_value"))
        .outerjoin(seconds, of_ti(seconds, "video_seconds"))
        .where(or_(ti.operator.in_(TASK_TYPES), ti.custom_operator_name.in_(DECORATOR_NAMES)))
        .where(ti.dag_id.in_(dag_ids))
        .where(func.coalesce(ti.end_date, ti.start_date) >= since)
    )
    records = []
    with create_session() as session:
        for row in session.execute(query):
            result, video_seconds = (_xcom(row.value), _xcom(row.seconds))
            records.append(
                TaskRecord(
                    dag_id=row.dag_id,
                    task_id=row.task_id,
                    run_id=row.run_id,
                    map_index=row.map_index,
                    state=str(row.state.value if hasattr(row.state, "value") else row.state)
                    if row.state is not None
                    else None,
                    start_date=row.start_date,
                    end_date=row.end_date,
                    value=result if isinstance(result, dict) else None,
                    video_seconds=float(video_seconds) if isinstance(video_seconds, (int, float)) else None,
                )
            )
    return records


def _xcom(raw: Any) -> Any:
    return XComModel.deserialize_value(SimpleNamespace(value=raw)) if raw is not None else None


def ui_root() -> str:
    """The path Airflow's UI is served under (``[api] base_url``'s path, "/" by default)."""
    return urlsplit(conf.get("api", "base_url", fallback="/") or "/").path or "/"
