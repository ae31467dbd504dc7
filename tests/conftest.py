"""Shared fixtures. Airflow is pointed at a throw-away home before anything imports it.

Real parts over loopback: the Runware emulator (a uvicorn server in a thread), moto's S3 server, and a
migrated SQLite metadata DB for ``dag.test()``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_wan.emulator.testing import RunningEmulator

ROOT = Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="wan-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# dag.test() needs the DAG in a bundle: the examples and the test DAGs are two local bundles.
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(ROOT / folder), "refresh_interval": 0},
        }
        for name, folder in (("test-dags", "tests/dags"), ("examples", "dags_examples"))
    ]
)

pytest_plugins = ["tests.fixtures_s3"]

# The XCom contract as the README documents it (tests check against this, not against the code's list).
CONTRACT_KEYS = frozenset(
    {"task_uuid", "model", "status", "video_url", "video_urls", "videos", "cost", "estimated_cost"}
)
VIDEO_KEYS = frozenset({"video_uuid", "video_url", "seed", "nsfw_content", "cost"})

API_KEY = "test-key-0123456789abcdef"
# A second accepted key with a unique, greppable value: the secrets canary test hunts for it everywhere.
CANARY_KEY = "canary-5e1f7a9c-wan-secret-d41d8cd98f00"


# The emulator and the test file servers serve plain http on 127.0.0.1, which result downloads refuse
# unless the connection allows it: tests allow it explicitly, as a deployment with the emulator must.
LOCAL_DOWNLOADS: dict[str, Any] = {"download_allow_http": True, "download_allowed_networks": "127.0.0.1/32"}


def runware_conn_json(base_url: str, api_key: str = API_KEY, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_*`` value (JSON form) for a runware connection (local downloads allowed)."""
    extras = {"backoff_base": 0.01, "backoff_max": 0.05, "retry_max_seconds": 5, **LOCAL_DOWNLOADS, **extra}
    return json.dumps({"conn_type": "runware", "host": base_url, "password": api_key, "extra": extras})


@pytest.fixture(scope="session", autouse=True)
def local_media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Local media may be read from every test's ``tmp_path`` (they all lie under pytest's base temp
    folder), through the documented deployment setting ``[wan] allowed_local_roots``."""
    root = tmp_path_factory.getbasetemp()
    os.environ["AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS"] = str(root)
    yield root
    os.environ.pop("AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS", None)


@pytest.fixture
def runware_conn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``runware_default`` pointing at a respx-mocked base URL (no server)."""
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json("https://runware.test/v1"))
    yield "https://runware.test/v1"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    """One emulator for the session, fast settings; each test resets it through ``emulator``."""
    from airflow_provider_wan.emulator.testing import running_emulator

    with running_emulator(api_keys=[API_KEY, CANARY_KEY], processing_seconds=0.3, media_scale=0.25) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    """The emulator, reset (tasks, ledger, faults), with ``runware_default`` pointing at it."""
    emulator_server.reset()
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(emulator_server.base_url))
    yield emulator_server
    emulator_server.reset()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB in the throw-away AIRFLOW_HOME (once per session)."""
    from airflow.utils.db import upgradedb

    upgradedb()


def load_dag(module: str, dag_id: str) -> Any:
    """Import a DAG object from a file of tests/dags or dags_examples (both are on the bundle list)."""
    import importlib

    mod = importlib.import_module(module)
    return getattr(mod, "dags", {}).get(dag_id) or getattr(mod, dag_id)
