"""Provider registration: Airflow discovers the package, its connection type, hook and modules."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import airflow_provider_wan

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _airflow(*args: str) -> str:
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=env, timeout=120, check=True)
    # A fresh AIRFLOW_HOME may print set-up notes before the JSON: take the JSON line.
    return next(line for line in out.stdout.splitlines() if line.startswith("["))


def test_provider_info_modules_import() -> None:
    info = airflow_provider_wan.get_provider_info()
    assert info["package-name"] == "airflow-provider-wan"
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        assert hasattr(importlib.import_module(module), name)
    conn = info["connection-types"][0]
    assert conn["connection-type"] == "runware"
    assert conn["ui-field-behaviour"]["relabeling"]["password"] == "API Key"
    assert conn["ui-field-behaviour"]["relabeling"]["host"] == "Base URL"
    assert {"timeout", "max_retries"} <= set(conn["conn-fields"])


def test_airflow_cli_shows_provider_and_hook() -> None:
    providers = json.loads(_airflow("providers", "get", "airflow-provider-wan", "-o", "json"))
    assert providers[0]["Provider"] == "airflow-provider-wan"
    hooks = json.loads(_airflow("providers", "hooks", "-o", "json"))
    runware = [h for h in hooks if h.get("connection_type") == "runware"]
    assert runware and runware[0]["class"] == "airflow_provider_wan.hooks.runware.RunwareHook"


def test_the_wan_config_section_is_declared_and_unset_by_default() -> None:
    """``[wan] allowed_local_roots`` shows in ``airflow config list``; unset, local_roots falls back to the
    DAGs folder (an empty default would mean "no local files at all")."""
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("AIRFLOW__WAN__ALLOWED_LOCAL_ROOTS", None)
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"  # its dags_folder is a '{TEST_DAGS_FOLDER}' placeholder
    listed = subprocess.run(
        [AIRFLOW, "config", "list", "--section", "wan"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    assert "[wan]" in listed and "allowed_local_roots" in listed
    code = (
        "from airflow.configuration import conf; from airflow_provider_wan.media.local import local_roots; "
        "print(conf.get('wan', 'allowed_local_roots', fallback=None)); "
        "from pathlib import Path; "
        "print(Path(conf.get('core', 'dags_folder')).absolute() in [r.absolute() for r in local_roots()])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    ).stdout.split()
    assert out[-2:] == ["None", "True"], out
