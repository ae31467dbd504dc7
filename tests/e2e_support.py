"""A real Airflow deployment in subprocesses, for end-to-end tests (no Docker).

:class:`AirflowStack` runs ``airflow db migrate`` and then the four Airflow 3 components as separate
processes (api-server, scheduler with the LocalExecutor, dag-processor, triggerer) on a throw-away
``AIRFLOW_HOME`` with SQLite, each in its own process group with its own log file, all on loopback.
Connections and settings are passed in the environment of every process. The REST API is used the way
a user would: ``POST /auth/token``-style JWT (``simple_auth_manager_all_admins``), unpause, trigger,
poll, read XComs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
FERNET_KEY = base64.urlsafe_b64encode(b"e2e-fernet-key-for-tests-only-32").decode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_group(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group created for ``process`` (start_new_session), SIGKILL after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    # The group may still hold children (LocalExecutor workers) after its leader exited.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def output(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


@dataclass
class AirflowStack:
    home: Path
    dags_folder: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    components: dict[str, Component] = field(default_factory=dict)
    _token: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of every Airflow process: inherited minus any Airflow config, plus ours."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "AIRFLOW_HOME"
        }
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__SECRET_KEY": self._secret("api"),
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "NO_PROXY": no_proxy,
                "no_proxy": no_proxy,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def _secret(self, name: str) -> str:
        path = self.home / f".{name}-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text()

    # -- lifecycle ------------------------------------------------------------------------------------

    def migrate(self, timeout: float = 120) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "db-migrate.log"
        with log.open("wb") as handle:
            result = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=self.env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{log.read_text()[-3000:]}")

    def start(self) -> None:
        env = self.env()
        for name in COMPONENTS:
            log_path = self.home / f"{name}.log"
            log_file = log_path.open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", name],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.components[name] = Component(name, process, log_path, log_file)

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM every component's process group at once, SIGKILL what is left after ``grace``."""
        for component in self.components.values():
            if component.process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(component.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for component in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            stop_group(component.process, grace=2.0)
            component.log_file.close()

    def check_alive(self) -> None:
        for component in self.components.values():
            if component.process.poll() is not None:
                code = component.process.returncode
                raise RuntimeError(f"airflow {component.name} exited with {code}:\n{component.tail()}")

    def logs(self) -> str:
        """Every component's log tail, for assertion messages."""
        return "\n".join(f"--- {c.name} ---\n{c.tail(25)}" for c in self.components.values())

    # -- REST API -------------------------------------------------------------------------------------

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                response = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5, trust_env=False)
                if response.status_code == 200:
                    body = response.json()
                    last = body
                    if body.get("metadatabase", {}).get("status") == "healthy":
                        return
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"api-server not healthy after {timeout}s ({last})\n{self.logs()}")

    def client(self) -> httpx.Client:
        if self._token is None:
            response = httpx.get(f"{self.base_url}/auth/token", timeout=10, trust_env=False)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=15,
            trust_env=False,
        )

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as api:
            while time.monotonic() < deadline:
                self.check_alive()
                if api.get(f"/dags/{dag_id}").status_code == 200:
                    return
                time.sleep(0.5)
            errors = api.get("/importErrors").json()
        raise TimeoutError(f"DAG {dag_id} not parsed in {timeout}s; import errors: {errors}\n{self.logs()}")

    def unpause(self, dag_id: str) -> None:
        with self.client() as api:
            response = api.patch(f"/dags/{dag_id}", json={"is_paused": False})
            response.raise_for_status()

    def trigger(self, dag_id: str, logical_date: str, conf: Mapping[str, Any] | None = None) -> str:
        with self.client() as api:
            response = api.post(
                f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": dict(conf or {})}
            )
            if response.status_code >= 400:
                raise RuntimeError(f"trigger failed: {response.status_code} {response.text}")
            run_id: str = response.json()["dag_run_id"]
            return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        state = "unknown"
        with self.client() as api:
            while time.monotonic() < deadline:
                self.check_alive()
                state = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
                if state in TERMINAL_RUN_STATES:
                    return state
                time.sleep(1.0)
        raise TimeoutError(
            f"run {run_id} still {state} after {timeout}s; tasks: {self.task_states(dag_id, run_id)}\n"
            f"{self.logs()}"
        )

    def wait_for_task_state(self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            states = self.task_states(dag_id, run_id)
            if states.get(task_id) == state:
                return
            if states.get(task_id) in ("success", "failed", "upstream_failed", "skipped"):
                break
            time.sleep(0.5)
        raise AssertionError(f"{task_id} never reached {state} (states: {states})\n{self.logs()}")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        with self.client() as api:
            body = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()
        return {ti["task_id"]: ti["state"] for ti in body.get("task_instances", [])}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        with self.client() as api:
            response = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
            response.raise_for_status()
            return response.json()["value"]

    def job_ids(self, job_type: str) -> list[int]:
        """Ids of the jobs of one type (``TriggererJob``, ``SchedulerJob``...) this deployment ran."""
        with self.client() as api:
            response = api.get("/jobs", params={"job_type": job_type})
            response.raise_for_status()
            return [int(job["id"]) for job in response.json()["jobs"]]
