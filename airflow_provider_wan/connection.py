"""The ``runware`` connection form (pure data: Airflow reads it while discovering providers).

Every extra has a ``default`` (the value the hook uses when the extra is absent): Airflow's connection
form pre-fills "Extra Fields JSON" with each field's default, and without one it writes ``null`` for
every field, which saving then stores.
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://api.runware.ai/v1"

# The hook's settings when an extra is absent (or null, as older saves stored): one place for both.
EXTRA_DEFAULTS: dict[str, float] = {
    "timeout": 30.0,
    "connect_timeout": 10.0,
    "max_retries": 6,
    "retry_max_seconds": 120.0,
    "backoff_base": 0.5,
    "backoff_max": 20.0,
    "max_connections": 20,
    "max_response_bytes": 32 * 1024 * 1024,
    # Result downloads (media.downloads.DownloadPolicy). Its two exceptions (download_allow_http,
    # download_allowed_networks) are left to the Extra JSON: they widen what a videoURL may reach.
    "download_max_bytes": 1024**3,
    "download_deadline_seconds": 900.0,
    "download_max_redirects": 5,
}


def _field(label: str, kind: str, minimum: float, description: str) -> dict[str, Any]:
    schema = {"type": [kind, "null"], "minimum": minimum}
    return {"label": label, "description": description, "schema": schema}


CONN_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": _field("Read timeout (s)", "number", 1, "Seconds to wait for Runware's answer to one call."),
    "connect_timeout": _field(
        "Connect timeout (s)", "number", 1, "Seconds to wait for a TCP/TLS connection to Runware."
    ),
    "max_retries": _field(
        "Attempts per HTTP call",
        "integer",
        1,
        "Transient failures (408/429/5xx, network) are retried with jittered backoff.",
    ),
    "retry_max_seconds": _field(
        "Max seconds retrying one call",
        "number",
        0,
        "A server Retry-After longer than the time left ends the call at once.",
    ),
    "backoff_base": _field("Backoff base (s)", "number", 0, "First wait between attempts; it doubles."),
    "backoff_max": _field(
        "Backoff cap (s)", "number", 0, "Caps the hook's own waits; a server Retry-After is honoured in full."
    ),
    "max_connections": _field(
        "Connection pool size", "integer", 1, "HTTP connections kept open to Runware by one hook."
    ),
    "max_response_bytes": _field(
        "Max answer size (bytes)", "integer", 1024, "A larger answer from Runware is refused, not read."
    ),
    "download_max_bytes": _field(
        "Max video download (bytes)", "integer", 1, "A larger result video is refused, not landed."
    ),
    "download_deadline_seconds": _field(
        "Video download deadline (s)", "number", 1, "One result download, connect to last byte."
    ),
    "download_max_redirects": _field(
        "Max download redirects", "integer", 0, "Each redirect target is checked like the first URL."
    ),
}
for _name, _spec in CONN_EXTRA_FIELDS.items():
    _spec["schema"]["default"] = EXTRA_DEFAULTS[_name]

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"password": "API Key", "host": "Base URL"},
    "placeholders": {"host": DEFAULT_BASE_URL, "password": "Runware API key"},
}
