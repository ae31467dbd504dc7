"""A real S3 API over loopback (moto's server) for tests; register with ``pytest_plugins``.

Fixtures:

* ``moto_s3``: the endpoint URL (``http://127.0.0.1:PORT``) of one session-wide moto server; its state is
  reset before each test (``POST /moto-api/reset``), and dummy AWS credentials are set in the environment
  so nothing ever reaches real AWS.
* ``aws_conn``: sets ``AIRFLOW_CONN_AWS_DEFAULT`` to that endpoint; yields the conn id ``aws_default``.
* ``s3_bucket``: a fresh bucket (name unique per test); yields its name.
* ``s3_client``: a plain boto3 client on the endpoint (for arranging and asserting).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def aws_conn_json(endpoint_url: str) -> str:
    """An ``AIRFLOW_CONN_*`` value (JSON form) for an aws connection to ``endpoint_url``."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": endpoint_url, "region_name": REGION},
        }
    )


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_s3(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Endpoint URL of the moto server, with empty state and dummy credentials."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    httpx.post(f"{_moto_server}/moto-api/reset", timeout=10.0, trust_env=False).raise_for_status()
    yield _moto_server


@pytest.fixture
def aws_conn(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``aws_default`` pointing at the moto server."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_conn_json(moto_s3))
    return "aws_default"


def make_s3_client(endpoint_url: str) -> S3Client:
    import boto3

    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    return client


@pytest.fixture
def s3_client(moto_s3: str) -> S3Client:
    return make_s3_client(moto_s3)


@pytest.fixture
def s3_bucket(moto_s3: str, s3_client: Any) -> str:
    """A fresh, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name
