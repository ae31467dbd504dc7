"""Tokens in URLs (a presigned ``upload_endpoint``, a ``webhookURL`` secret, CDN signatures) reach neither
Airflow's rendered template fields nor the task log, httpx's request lines included; on the event loop
the hook masks with Airflow's async API.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pendulum
import pytest

from airflow_provider_wan.hooks.runware import RunwareHook
from tests.conftest import load_dag

SIGNATURE = "f00dfacecafe5ea1ed5167a7e0123456789abcdef"
CREDENTIAL = "AKIAEXAMPLEKEY7777"
WEBHOOK_TOKEN = "hook-token-9d8c7b6a5f4e"
ENDPOINT = (
    "https://wan-bucket.s3.amazonaws.com/_delivered/x.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={CREDENTIAL}%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={SIGNATURE}"
)
WEBHOOK = f"https://hooks.example.com/wan/done?token={WEBHOOK_TOKEN}"
TOKENS = (SIGNATURE, CREDENTIAL, WEBHOOK_TOKEN)


def _rendered_fields(dag_id: str, run_id: str) -> str:
    from airflow.configuration import conf

    path = conf.get("database", "sql_alchemy_conn").removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    assert rows, "no rendered fields were stored"
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.usefixtures("airflow_db")
def test_url_tokens_are_masked_in_rendered_fields_and_logs(
    emulator: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    when = pendulum.now("UTC")
    dag = load_dag("tests.dags.security_trust_flows", "url_tokens_dag")
    dr = dag.test(logical_date=when, run_after=when, run_conf={"endpoint": ENDPOINT, "webhook": WEBHOOK})
    assert dr.state == "failed"  # refused by its budget, after rendering
    assert emulator.ledger()["http_requests"] == 0
    rendered = _rendered_fields(dr.dag_id, dr.run_id)
    fields = json.loads(rendered)
    assert fields["upload_endpoint"].startswith("https://wan-bucket.s3.amazonaws.com/_delivered/x.mp4?")
    assert "***" in fields["upload_endpoint"] and "***" in json.dumps(fields["request"])
    output = "".join(capfd.readouterr())
    for token in TOKENS:
        assert token not in rendered, f"{token} in the rendered fields"
        assert token not in output, f"{token} in the task log"


@pytest.fixture
def video_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"mp4!")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_httpx_request_lines_lose_their_query(
    video_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The provider's hook module installs the filter (imported above): httpx's INFO lines name the URL.
    url = f"{video_server}/video/v.mp4?Expires=1&Signature={SIGNATURE}&Key-Pair-Id={CREDENTIAL}"
    with caplog.at_level(logging.INFO, logger="httpx"):
        with httpx.Client() as client:
            assert client.get(url).status_code == 200
        async with httpx.AsyncClient() as aclient:
            assert (await aclient.get(url)).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 2 and all(f"{video_server}/video/v.mp4?***" in line for line in lines), lines
    for token in (SIGNATURE, CREDENTIAL):
        assert token not in caplog.text


class _Comms:
    """Stands in for the triggerer's supervisor channel: records how masks were sent."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def send(self, msg: Any) -> None:  # from the event loop this would block the triggerer
        self.calls.append(f"send {type(msg).__name__}")

    async def asend(self, msg: Any) -> None:
        self.calls.append(f"asend {type(msg).__name__}")


async def test_the_async_path_masks_with_the_async_api(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.execution_time import task_runner

    comms = _Comms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    async with RunwareHook() as hook:
        await hook.aget_responses([str(uuid.uuid4())])
    assert "asend MaskSecret" in comms.calls
    assert not [c for c in comms.calls if c.startswith("send")], comms.calls
