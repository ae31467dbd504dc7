"""Refuse to start the compose stack with its published development secrets when ``runware_default`` points
at a real Runware endpoint (anything but the local emulator): a real key would sit behind a login, a
session key and a token-signing secret that everyone who read docker-compose.yml knows.

Run by docker/airflow-init.sh before anything else; every Airflow service waits for airflow-init to
succeed, so a refusal here keeps the whole Airflow side of the stack down. Exit status 1 names the
variables to set (never their values). Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

# The defaults docker-compose.yml falls back to (pinned to it by tests/security/test_compose_secrets.py):
# container variable -> (the .env variable that sets it, its published default).
DEFAULT_SECRETS: dict[str, tuple[str, str]] = {
    "AIRFLOW__API_AUTH__JWT_SECRET": ("AIRFLOW_JWT_SECRET", "wan-local-dev-jwt-secret-change-me"),
    "AIRFLOW__API__SECRET_KEY": ("AIRFLOW_API_SECRET_KEY", "wan-local-dev-secret-key-change-me"),
    "AIRFLOW__CORE__FERNET_KEY": ("AIRFLOW_FERNET_KEY", ""),  # empty: connections stored unencrypted
    "_AIRFLOW_WWW_USER_PASSWORD": ("_AIRFLOW_WWW_USER_PASSWORD", "airflow"),
}
# Hosts of the local emulator: the only endpoints where the published defaults are acceptable.
EMULATOR_HOSTS = frozenset({"runware-emulator", "localhost", "127.0.0.1", "::1"})
DEFAULT_BASE_URL = "https://api.runware.ai/v1"


# The emulator's result downloads (plain http from the compose network) need these extras; with a real
# endpoint they would let a hostile videoURL reach the compose network: extra -> the .env variable.
EMULATOR_DOWNLOAD_EXTRAS: dict[str, str] = {
    "download_allow_http": "RUNWARE_DOWNLOAD_ALLOW_HTTP",
    "download_allowed_networks": "RUNWARE_DOWNLOAD_ALLOWED_NETWORKS",
}


def _connection(env: Mapping[str, str]) -> dict[str, object] | None:
    try:
        conn = json.loads(env.get("AIRFLOW_CONN_RUNWARE_DEFAULT") or "{}")
    except ValueError:
        return None
    return conn if isinstance(conn, dict) else None


def runware_host(env: Mapping[str, str]) -> str | None:
    """The host ``runware_default`` points at; None when the connection is not JSON (then not judged)."""
    conn = _connection(env)
    if conn is None:
        return None
    host = str(conn.get("host") or DEFAULT_BASE_URL).strip()
    if "://" not in host:
        host = "https://" + host
    try:
        return (urlsplit(host).hostname or "").lower()
    except ValueError:
        return ""


def problems(env: Mapping[str, str]) -> list[str]:
    """The .env variables still at their published defaults while a real endpoint is configured."""
    host = runware_host(env)
    if host is None or host in EMULATOR_HOSTS:
        return []
    found = [setting for name, (setting, default) in DEFAULT_SECRETS.items() if env.get(name, "") == default]
    extra = (_connection(env) or {}).get("extra")
    extra = extra if isinstance(extra, dict) else {}
    for name, setting in EMULATOR_DOWNLOAD_EXTRAS.items():
        value = str(extra.get(name) or "").strip().lower()
        if value not in ("", "false", "0", "no"):
            found.append(setting)
    return found


def main(env: Mapping[str, str]) -> int:
    found = problems(env)
    if not found:
        return 0
    print(
        f"REFUSING TO START: runware_default points at {runware_host(env)} (a real, billed Runware "
        f"endpoint) but {', '.join(found)} still hold the published development defaults. Set each secret "
        "to one of your own and the download settings to false / empty in .env (see docker/env.example), "
        "or unset RUNWARE_BASE_URL to use "
        "the local emulator.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(os.environ))
