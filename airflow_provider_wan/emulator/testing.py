"""Run a real emulator on a loopback port inside the current process, for tests.

    with running_emulator(processing_seconds=0.5, media_scale=0.25) as emu:
        httpx.post(emu.base_url, json=[...], headers=emu.headers)
        assert emu.ledger()["submissions"] == 1

The server runs uvicorn in a daemon thread with its own event loop, on a socket bound here (so the
port is known before the thread starts and never races with another test).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from .app import create_app
from .settings import EmulatorSettings
from .state import EmulatorState

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 5.0


class RunningEmulator:
    """Handle on a started emulator: URLs, key, and the /_emulator control calls."""

    def __init__(self, root_url: str, api_key: str, state: EmulatorState) -> None:
        self.root_url = root_url
        self.api_key = api_key
        self.state = state  # same process: white-box access for assertions (read-only, please)
        self._control = httpx.Client(base_url=root_url, timeout=10.0, trust_env=False)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def call(self, tasks: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        """POST a task array to /v1 with the Bearer key (convenience for tests)."""
        return self._control.post("/v1", json=tasks, headers=self.headers, **kwargs)

    def ledger(self) -> dict[str, Any]:
        return self._json("GET", "/_emulator/ledger")

    def faults(self) -> dict[str, Any]:
        return self._json("GET", "/_emulator/faults")

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs (any field of ``Knobs``); returns the full knob set now in force."""
        return self._json("POST", "/_emulator/faults", json=knobs)

    def reset(self, *, keep_faults: bool = False) -> None:
        """Forget tasks, media and the ledger; knobs go back to their start-up values."""
        self._json("POST", "/_emulator/reset", json={"keep_faults": keep_faults})

    def advance_clock(self, seconds: float) -> None:
        """Move emulator time forward (jobs complete, URLs expire, deliveries fire)."""
        self._json("POST", "/_emulator/clock", json={"advance": seconds})

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._control.request(method, path, **kwargs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        self._control.close()


@contextmanager
def running_emulator(**settings: Any) -> Iterator[RunningEmulator]:
    """Start an emulator on 127.0.0.1:<free port>; ``settings`` are ``EmulatorSettings`` fields."""
    config = EmulatorSettings(**settings)
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,  # leave the test process's logging configuration alone
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"runware-emulator-{port}")
    thread.daemon = True
    thread.start()
    handle: RunningEmulator | None = None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server thread exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start within 10 s")
            time.sleep(0.005)
        handle = RunningEmulator(f"http://127.0.0.1:{port}", config.api_keys[0], app.state.emulator)
        yield handle
    finally:
        if handle is not None:
            handle.close()
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()
