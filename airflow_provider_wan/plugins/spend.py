"""The "Runware" view in Airflow's UI: spend, videos and failures per DAG and per day.

An Airflow plugin (entry point ``airflow.plugins``) adds a read-only FastAPI app under
``/runware-spend`` to the api-server and a "Runware" entry in the UI's Browse menu that shows it
(:mod:`airflow_provider_wan.plugins.spend_app`).

Every Airflow process loads plugins, so this module stays cheap to import: FastAPI, SQLAlchemy and the
models are imported on the view's first request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/runware-spend"


def _create_app() -> Any:
    from airflow_provider_wan.plugins.spend_app import create_app

    return create_app()


class _LazyApp:
    """An ASGI app that builds the real one on its first request."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if self._app is None:
            self._app = self._factory()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "RunwareSpendApp"


class RunwareSpendPlugin(AirflowPlugin):
    """Adds the "Runware" spend view to Airflow's UI (Browse menu)."""

    name = "runware_spend"
    fastapi_apps = [{"app": _LazyApp(_create_app), "url_prefix": URL_PREFIX, "name": "Runware spend"}]
    external_views = [
        {
            "name": "Runware",
            "href": f"{URL_PREFIX}/",
            "url_route": "runware",
            "destination": "nav",
            "category": "browse",
        }
    ]
