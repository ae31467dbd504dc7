"""docker-compose: the image installs with the project's lock as constraints, and the stack refuses to
start with its published development secrets when ``runware_default`` points at the real Runware API.

No container engine here: the check script (docker/check_secrets.py) runs as airflow-init would run it,
with the environment docker-compose.yml gives airflow-init for a given ``.env``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_compose import _VAR

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
CHECK = DOCKER / "check_secrets.py"
REAL = "https://api.runware.ai/v1"
OWN_SECRETS = {
    "AIRFLOW_JWT_SECRET": "a-jwt-secret-of-my-own-4c2f",
    "AIRFLOW_API_SECRET_KEY": "a-session-key-of-my-own-9b1e",
    "AIRFLOW_FERNET_KEY": "bXktZmVybmV0LWtleS1vZi0zMi1ieXRlcy0wMDAwMDA=",
    "_AIRFLOW_WWW_USER_PASSWORD": "a-login-of-my-own-77",
}
STRICT_DOWNLOADS = {"RUNWARE_DOWNLOAD_ALLOW_HTTP": "false", "RUNWARE_DOWNLOAD_ALLOWED_NETWORKS": ""}


def _value(match: re.Match[str], dotenv: Mapping[str, str]) -> str:
    """Compose's ``${X:-d}`` (d when X is unset or empty) and ``${X-d}`` (d only when X is unset)."""
    name, default = match.group("name"), match.group("default") or ""
    if name not in dotenv or (match.group("colon") and not dotenv[name]):
        return default
    return dotenv[name]


def _init_env(dotenv: Mapping[str, str]) -> dict[str, str]:
    """The environment docker-compose.yml gives the airflow-init service for this ``.env``."""
    init = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["airflow-init"]
    return {
        key: _VAR.sub(lambda m: _value(m, dotenv), str(value)) for key, value in init["environment"].items()
    }


def _check(dotenv: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**_init_env(dotenv), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(CHECK)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_default_emulator_stack_starts() -> None:
    assert _check({}).returncode == 0
    assert _check({"RUNWARE_API_KEY": "runware-emulator-key"}).returncode == 0


@pytest.mark.parametrize("base_url", [REAL, "https://api.runware.ai", "api.runware.ai/v1"])
def test_the_real_api_with_the_published_defaults_is_refused(base_url: str) -> None:
    result = _check({"RUNWARE_BASE_URL": base_url, "RUNWARE_API_KEY": "real-key-0a9b8c7d"})
    assert result.returncode == 1
    for setting in OWN_SECRETS:
        assert setting in result.stderr
    assert "real-key-0a9b8c7d" not in result.stderr + result.stdout
    assert "wan-local-dev" not in result.stderr  # names the variables, never a value


def test_one_default_left_is_enough_to_refuse() -> None:
    for left in OWN_SECRETS:
        dotenv = {**OWN_SECRETS, "RUNWARE_BASE_URL": REAL, "RUNWARE_API_KEY": "k"}
        del dotenv[left]
        result = _check(dotenv)
        assert result.returncode == 1 and left in result.stderr, left


def test_the_real_api_with_secrets_of_ones_own_starts() -> None:
    result = _check({**OWN_SECRETS, **STRICT_DOWNLOADS, "RUNWARE_BASE_URL": REAL, "RUNWARE_API_KEY": "k"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("left", sorted(STRICT_DOWNLOADS))
def test_the_real_api_with_the_emulators_download_exceptions_is_refused(left: str) -> None:
    # Plain http and the compose network's private ranges are for the emulator's videos only.
    dotenv = {**OWN_SECRETS, **STRICT_DOWNLOADS, "RUNWARE_BASE_URL": REAL, "RUNWARE_API_KEY": "k"}
    del dotenv[left]
    result = _check(dotenv)
    assert result.returncode == 1 and left in result.stderr


def test_the_check_knows_the_compose_files_defaults() -> None:
    # The script's list of published defaults is the compose file's: neither can drift from the other.
    import runpy

    defaults: dict[str, tuple[str, str]] = runpy.run_path(str(CHECK))["DEFAULT_SECRETS"]
    env = _init_env({})
    for name, (_, default) in defaults.items():
        assert env[name] == default, name
    compose = (ROOT / "docker-compose.yml").read_text()
    for setting, _ in defaults.values():
        assert "${" + setting in compose, setting


def test_airflow_init_runs_the_check_before_anything_else_and_gates_every_airflow_service() -> None:
    script = (DOCKER / "airflow-init.sh").read_text()
    assert "python /opt/wan/docker/check_secrets.py" in script
    assert script.index("check_secrets.py") < script.index("airflow db migrate")
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        if name.startswith("airflow-") and name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_the_image_installs_with_the_projects_lock_as_constraints() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    copies = dict(
        (line.split()[-2], line.split()[-1]) for line in dockerfile.splitlines() if line.startswith("COPY ")
    )
    assert copies.get("requirements/dev.lock") == "/opt/wan/constraints.txt"
    assert copies.get("docker/check_secrets.py") == "/opt/wan/docker/check_secrets.py"
    install = next(line for line in dockerfile.splitlines() if line.startswith("RUN pip install"))
    assert "--constraint /opt/wan/constraints.txt" in install
    lock = (ROOT / "requirements" / "dev.lock").read_text()
    airflow = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)
    assert airflow and f"apache/airflow:{airflow.group(1)}-python3.11" in dockerfile  # image matches the lock
    allowed = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert "!requirements/dev.lock" in allowed and "!docker/check_secrets.py" in allowed
