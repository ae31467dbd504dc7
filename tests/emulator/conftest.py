from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_wan.emulator import EmulatorSettings, create_app
from airflow_provider_wan.emulator.state import EmulatorState

from .helpers import AUTH


@dataclass
class Api:
    """An in-process emulator driven through httpx's ASGI transport (no sockets)."""

    client: httpx.AsyncClient
    state: EmulatorState

    async def post(self, tasks: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/v1", json=tasks, headers=AUTH if headers is None else headers)

    async def one(self, tasks: Any) -> tuple[int, dict[str, Any]]:
        response = await self.post(tasks)
        return response.status_code, response.json()

    def advance(self, seconds: float) -> None:
        self.state.advance_clock(seconds)

    def ledger(self) -> dict[str, Any]:
        return self.state.ledger.snapshot(self.state.jobs, self.state.now(), self.state.videos.encodes)


MakeApi = Callable[..., Api]


@pytest.fixture
async def make_api(tmp_path: Path) -> AsyncIterator[MakeApi]:
    """Factory of in-process emulators (seeded, 10 s generations unless told otherwise)."""
    created: list[tuple[httpx.AsyncClient, EmulatorState]] = []

    def factory(**settings: Any) -> Api:
        settings.setdefault("seed", 7)
        settings.setdefault("processing_seconds", 10.0)
        settings.setdefault("seconds_per_output_second", 0.0)
        settings.setdefault("media_dir", str(tmp_path / f"media{len(created)}"))
        app = create_app(EmulatorSettings(**settings))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator.test")
        created.append((client, app.state.emulator))
        return Api(client, app.state.emulator)

    yield factory
    for client, state in created:
        await client.aclose()
        await state.aclose()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return make_api()
