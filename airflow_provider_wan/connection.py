"""The ``runware`` connection form (pure data: Airflow reads it while discovering providers)."""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://api.runware.ai/v1"

CONN_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": {"label": "Read timeout (s)", "schema": {"type": ["number", "null"], "minimum": 1}},
    "connect_timeout": {"label": "Connect timeout (s)", "schema": {"type": ["number", "null"], "minimum": 1}},
    "max_retries": {
        "label": "Attempts per HTTP call",
        "description": "Transient failures (408/429/5xx, network) are retried with jittered backoff.",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "retry_max_seconds": {
        "label": "Max seconds retrying one call",
        "description": "A server Retry-After longer than the time left ends the call at once.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "backoff_base": {"label": "Backoff base (s)", "schema": {"type": ["number", "null"], "minimum": 0}},
    "backoff_max": {
        "label": "Backoff cap (s)",
        "description": "Caps the hook's own waits; a server Retry-After is honoured in full.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "max_connections": {
        "label": "Connection pool size",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"password": "API Key", "host": "Base URL"},
    "placeholders": {"host": DEFAULT_BASE_URL, "password": "Runware API key"},
}
