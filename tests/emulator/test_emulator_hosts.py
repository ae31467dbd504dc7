"""``allowed_hosts`` / ``--allow-host``: named non-loopback hosts (docker-compose services) may be contacted
for media URLs, uploadEndpoint PUTs and webhook POSTs; loopback always; any other host never.

Names under ``.compose.test`` are made to resolve to 127.0.0.1 by patching ``socket.getaddrinfo``, so
the loopback receiver plays e.g. the ``s3`` service; every lookup is recorded, which shows that a
refused host is not even resolved. The apps run in-process (ASGI) on the test's asyncio loop, whose
resolver goes through ``socket.getaddrinfo``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest

from airflow_provider_wan.emulator import EmulatorSettings
from airflow_provider_wan.emulator.media import HostPolicy

from .conftest import MakeApi
from .helpers import loopback_receiver, mp4_file, new_uuid, video_task

SUFFIX = ".compose.test"


@pytest.fixture
def compose_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve ``*.compose.test`` to 127.0.0.1; returns the names looked up."""
    looked_up: list[str] = []
    real: Callable[..., Any] = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.endswith(SUFFIX):
            looked_up.append(name)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return looked_up


def named(url: str, host: str) -> str:
    """``url`` of the loopback receiver, spelled with ``host`` instead of 127.0.0.1."""
    return url.replace("127.0.0.1", host, 1)


async def test_media_urls_of_allowed_hosts_are_fetched_others_never(
    make_api: MakeApi, compose_dns: list[str], tmp_path: Path
) -> None:
    api = make_api(allowed_hosts=("S3.compose.test.",))  # case and trailing dot do not matter
    clip = mp4_file(tmp_path, seconds=1).read_bytes()
    with loopback_receiver() as site:
        site.files["/bucket/clip.mp4"] = (clip, "video/mp4")
        allowed = named(f"{site.url}/bucket/clip.mp4", "s3.compose.test")
        status, body = await api.one(
            [{"taskType": "mediaStorage", "taskUUID": new_uuid(), "operation": "upload", "media": allowed}]
        )
        assert status == 200, body
        assert len(site.received("GET")) == 1

        refused = named(f"{site.url}/bucket/clip.mp4", "minio.compose.test")
        status, body = await api.one(
            [{"taskType": "mediaStorage", "taskUUID": new_uuid(), "operation": "upload", "media": refused}]
        )
        assert status == 400
        [error] = body["errors"]
        assert error["code"] == "invalidMediaURL" and "s3.compose.test" in error["message"]
        status, body = await api.one([video_task(inputs={"referenceVideos": [refused]})])
        assert status == 400 and body["errors"][0]["code"] == "invalidMediaURL"
        assert len(site.received("GET")) == 1  # the refused host got nothing

        # loopback stays allowed alongside the list
        status, _ = await api.one([video_task(inputs={"referenceVideos": [f"{site.url}/bucket/clip.mp4"]})])
        assert status == 200
    assert compose_dns and set(compose_dns) == {"s3.compose.test"}  # the refused name was never resolved


async def test_without_allow_list_named_hosts_are_refused(
    make_api: MakeApi, compose_dns: list[str], tmp_path: Path
) -> None:
    api = make_api()
    with loopback_receiver() as site:
        site.files["/clip.mp4"] = (mp4_file(tmp_path, seconds=1).read_bytes(), "video/mp4")
        url = named(f"{site.url}/clip.mp4", "s3.compose.test")
        status, body = await api.one([video_task(inputs={"referenceVideos": [url]})])
        assert status == 400 and body["errors"][0]["code"] == "invalidMediaURL"
        assert site.received() == []
    assert compose_dns == []


async def test_deliveries_to_allowed_hosts_only(make_api: MakeApi, compose_dns: list[str]) -> None:
    # In-process (the test's asyncio loop resolves through socket.getaddrinfo; uvicorn's uvloop would not).
    api = make_api(allowed_hosts=("s3.compose.test",), processing_seconds=0, media_scale=0.25)
    with loopback_receiver() as site:
        task = video_task(
            uploadEndpoint=named(f"{site.url}/bucket/out.mp4?X-Amz-Signature=abc", "s3.compose.test"),
            webhookURL=named(f"{site.url}/hook?token=t", "airflow.compose.test"),
        )
        assert (await api.post([task])).status_code == 200
        for _ in range(500):
            ledger = api.ledger()
            if ledger["upload_deliveries"] == 1 and ledger["webhook"]["skipped"] == 1:
                break
            await asyncio.sleep(0.02)
        [put] = site.received()  # the PUT only: the webhook host is not on the list
    assert put.method == "PUT" and put.path == "/bucket/out.mp4?X-Amz-Signature=abc"
    assert put.headers["Host"].startswith("s3.compose.test:")
    assert ledger["upload_deliveries"] == 1 and ledger["webhook"]["attempts"] == 0
    assert "not allowed" in ledger["webhook"]["recent"][0]["last"]
    assert set(compose_dns) == {"s3.compose.test"}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:9/a", True),
        ("http://localhost/a", True),
        ("http://[::1]/a", True),
        ("http://s3:9000/bucket/key?sig=1", True),
        ("https://S3./bucket", True),
        ("http://minio:9000/b", True),
        ("http://10.1.2.3/x", True),
        ("http://s3.amazonaws.com/b", False),
        ("http://s3x:9000/b", False),
        ("http://evil.s3/b", False),
        ("http://10.1.2.4/x", False),
        ("ftp://s3/b", False),
        ("not a url", False),
    ],
)
def test_host_policy(url: str, ok: bool) -> None:
    policy = HostPolicy(EmulatorSettings(allowed_hosts=("s3", "MINIO", "10.1.2.3")).allowed_hosts)
    assert policy.allows_url(url) is ok
    assert HostPolicy().allows_url(url) is ("127.0.0.1" in url or "localhost" in url or "::1" in url)


def test_allowed_hosts_are_normalised_and_checked() -> None:
    settings = EmulatorSettings(allowed_hosts=("S3", "s3.", "[::1]", "my_service", "10.0.0.7"))
    assert settings.allowed_hosts == ("s3", "::1", "my_service", "10.0.0.7")
    assert EmulatorSettings().allowed_hosts == ()
    for bad in ("http://s3", "s3:9000", "*.internal", "", "s3/bucket", "a b"):
        with pytest.raises(pydantic.ValidationError):
            EmulatorSettings(allowed_hosts=(bad,))
