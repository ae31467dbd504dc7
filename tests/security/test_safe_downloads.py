"""Result downloads against hostile servers on loopback: redirects to internal addresses, html for a video,
oversized and slow bodies. Driven through the landing entry points with a real S3 API (moto).

The hostile "CDN" listens on 127.0.0.2, the one address its policy allows; a bystander (an internal service
that must never be reached) listens on 127.0.0.1. A tripwire fails any connect() to a non-loopback address,
so no packet leaves this machine even when a refusal is missing: refusals are decided before connecting.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from airflow_provider_wan.errors import RunwareError
from airflow_provider_wan.hooks.runware import RunwareHook
from airflow_provider_wan.media.delivery import delivery_key, land_task_outputs
from airflow_provider_wan.media.downloads import DownloadPolicy, DownloadRefused, parse_networks
from airflow_provider_wan.media.landing import LandedVideo, land_videos
from airflow_provider_wan.media.s3 import S3Location
from airflow_provider_wan.results import VideoResult
from airflow_provider_wan.retry import RetryPolicy
from tests.security.hostile_api import QuietServer

TASK = "5b0c6f7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f"
CDN_HOST = "127.0.0.2"
POLICY = DownloadPolicy(allow_http=True, allowed_networks=parse_networks(f"{CDN_HOST}/32"))
VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41" + bytes(4000)
HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
MiB = 1024 * 1024
ONE_TRY = RetryPolicy(max_retries=1)

Respond = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """Answers each path as told; counts requests per path."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, Respond] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                server.routes.get(path, lambda h: h.send_error(404))(self)

            do_GET = do_HEAD = _answer

        self._httpd = QuietServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def add(self, path: str, respond: Respond) -> str:
        self.routes[path] = respond
        return self.base + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def body(data: bytes, content_type: str = "video/mp4", *, announce: bool = True) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if announce:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command == "GET":
            handler.wfile.write(data)
        handler.close_connection = True

    return respond


def redirect(location: str, status: int = 302) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def drip(head: bytes, pieces: int, every: float) -> Respond:
    """A video header, then a few bytes every ``every`` seconds: each read is quick, the whole is slow."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(head) + pieces * 100))
        handler.end_headers()
        try:
            handler.wfile.write(head)
            for _ in range(pieces):
                handler.wfile.flush()
                time.sleep(every)
                handler.wfile.write(b"\x00" * 100)
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True

    return respond


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connect() to a non-loopback address fails before a packet is sent (and is recorded)."""
    attempts: list[str] = []
    original = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            host = str(address[0]).split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                attempts.append(host)
                raise OSError(errno.ENETUNREACH, f"test tripwire: no packet to {host}")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture(scope="module")
def _servers() -> Iterator[tuple[Server, Server]]:
    cdn, bystander = Server(CDN_HOST), Server("127.0.0.1")
    yield cdn, bystander
    cdn.close()
    bystander.close()


@pytest.fixture
def cdn(_servers: tuple[Server, Server]) -> Server:
    _servers[0].routes.clear()
    _servers[0].hits.clear()
    return _servers[0]


@pytest.fixture
def bystander(_servers: tuple[Server, Server]) -> Server:
    """An internal service holding something worth stealing (and looking like a video, to be landed)."""
    server = _servers[1]
    server.hits.clear()
    for path in ("/secret.mp4", "/latest/meta-data/iam/security-credentials/"):
        server.add(path, body(VIDEO))
    return server


def _land(
    url: str, bucket: str, policy: DownloadPolicy = POLICY, video_uuid: str = "video-1", **kwargs: Any
) -> list[LandedVideo]:
    video = VideoResult(TASK, video_uuid, url)
    where = S3Location(bucket, "out/")
    return land_videos([video], task_uuid=TASK, location=where, downloads=policy, retry=ONE_TRY, **kwargs)


def _nothing_landed(s3_client: Any, bucket: str) -> bool:
    objects = s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return not objects and not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


FORBIDDEN = {
    "metadata": ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "metadata"),
    "metadata-ipv6": ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    "metadata-ipv4-mapped": ("http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"),
    "private-10": ("http://10.1.2.3:{port}/secret.mp4", "private"),
    "cgnat": ("http://100.64.0.7/secret.mp4", "CGNAT"),
    "link-local": ("http://169.254.10.20/secret.mp4", "link-local"),
    "multicast": ("http://224.0.0.1/secret.mp4", "multicast"),
    "unspecified": ("http://0.0.0.0:{port}/secret.mp4", "unspecified"),
    "localhost-by-name": ("http://localhost:{port}/secret.mp4", "loopback"),
    "loopback-by-ip": ("http://127.0.0.1:{port}/secret.mp4", "loopback"),
}


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_a_redirect_to_an_internal_address_is_refused_before_connecting(
    name: str,
    cdn: Server,
    bystander: Server,
    tripwire: list[str],
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
) -> None:
    target, reason = FORBIDDEN[name]
    start = cdn.add("/video.mp4", redirect(target.format(port=bystander.port)))
    with pytest.raises(DownloadRefused, match=reason) as info:
        _land(start, s3_bucket, aws_conn_id=aws_conn)
    assert not info.value.retryable and TASK in str(info.value)
    assert cdn.hits["/video.mp4"] == 1  # tried once: a refusal is not retried
    assert sum(bystander.hits.values()) == 0 and tripwire == []  # refused before any connection
    assert _nothing_landed(s3_client, s3_bucket)


def test_redirects_within_allowed_hosts_are_followed_a_bounded_number_of_times(
    cdn: Server, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    cdn.add("/final.mp4", body(VIDEO))
    for hop in range(1, 3):
        cdn.add(f"/hop{hop}", redirect(f"/hop{hop + 1}" if hop < 2 else "/final.mp4", 307))
    (landed,) = _land(f"{cdn.base}/hop1", s3_bucket, aws_conn_id=aws_conn)
    assert landed.size_bytes == len(VIDEO)

    for hop in range(1, 10):  # a loop of redirects, longer than the policy allows
        cdn.add(f"/loop{hop}", redirect(f"/loop{hop + 1}"))
    with pytest.raises(DownloadRefused, match="more than 3 redirects"):
        three = DownloadPolicy(**{**POLICY.__dict__, "max_redirects": 3})
        _land(f"{cdn.base}/loop1", s3_bucket, three, "video-2", aws_conn_id=aws_conn)
    assert sum(cdn.hits[f"/loop{hop}"] for hop in range(1, 10)) == 4


@pytest.mark.parametrize("size", [len(HTML), 6 * MiB])
def test_an_html_page_is_never_landed_as_a_video(
    size: int, cdn: Server, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    page = HTML + b" " * (size - len(HTML))
    url = cdn.add("/video.mp4", body(page, "text/html"))
    with pytest.raises(DownloadRefused, match="not a video container") as info:
        _land(url, s3_bucket, aws_conn_id=aws_conn, chunk_size=5 * MiB)
    assert "text/html" in str(info.value) and "Sign in" not in str(info.value)  # the body is not echoed
    assert _nothing_landed(s3_client, s3_bucket)


@pytest.mark.parametrize("announce", [True, False], ids=["announced", "unannounced"])
def test_a_body_over_the_size_cap_is_refused(
    announce: bool, cdn: Server, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    url = cdn.add("/video.mp4", body(VIDEO + bytes(2 * MiB), announce=announce))
    capped = DownloadPolicy(**{**POLICY.__dict__, "max_bytes": 1 * MiB})
    with pytest.raises(DownloadRefused, match=f"cap of {MiB} bytes"):
        _land(url, s3_bucket, capped, aws_conn_id=aws_conn)
    assert cdn.hits["/video.mp4"] == 1 and _nothing_landed(s3_client, s3_bucket)


def test_a_slow_body_is_abandoned_at_the_deadline(
    cdn: Server, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    url = cdn.add("/video.mp4", drip(VIDEO[:64], pieces=40, every=0.1))  # 4 s in all
    hurried = DownloadPolicy(**{**POLICY.__dict__, "deadline_seconds": 1.0})
    started = time.monotonic()
    with pytest.raises(RunwareError, match="deadline of 1 s") as info:
        _land(url, s3_bucket, hurried, aws_conn_id=aws_conn)
    assert info.value.code == "downloadDeadline" and not info.value.retryable
    assert time.monotonic() - started < 3.0
    assert _nothing_landed(s3_client, s3_bucket)


def _connection(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    conn = {"conn_type": "runware", "password": "k", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({}, "download_allow_http"),
        ({"download_allow_http": True}, "loopback"),
        ({"download_allow_http": "true", "download_allowed_networks": "127.0.0.1/32"}, "loopback"),
        ({"download_allow_http": True, "download_allowed_networks": f"{CDN_HOST}/32"}, None),
    ],
)
def test_plain_http_and_local_addresses_need_the_connection_to_allow_them(
    extra: dict[str, Any],
    refusal: str | None,
    cdn: Server,
    monkeypatch: pytest.MonkeyPatch,
    aws_conn: str,
    s3_client: Any,
    s3_bucket: str,
) -> None:
    _connection(monkeypatch, **extra)
    video = VideoResult(TASK, "video-1", cdn.add("/video.mp4", body(VIDEO)))
    with RunwareHook() as hook:
        land = lambda: land_task_outputs(  # noqa: E731
            [video], task_uuid=TASK, location=S3Location(s3_bucket, ""), aws_conn_id=aws_conn, hook=hook
        )
        if refusal is None:
            assert [x.size_bytes for x in land()] == [len(VIDEO)]
            return
        with pytest.raises(DownloadRefused, match=refusal):
            land()
    assert cdn.hits["/video.mp4"] == 0 and _nothing_landed(s3_client, s3_bucket)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("download_max_bytes", "lots"),
        ("download_max_bytes", 0),
        ("download_deadline_seconds", -5),
        ("download_allowed_networks", "the office"),
        ("download_allow_http", "perhaps"),
        ("download_max_redirects", -1),
    ],
)
def test_a_bad_download_setting_is_refused_naming_it(
    name: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, **{name: value})
    with pytest.raises(RunwareError, match=name) as info:
        RunwareHook().config  # noqa: B018
    assert info.value.parameter == name


def test_a_delivered_object_that_is_not_a_video_is_not_filed(
    cdn: Server, aws_conn: str, s3_client: Any, s3_bucket: str
) -> None:
    """uploadEndpoint delivery: Runware PUT an html page, and the videoURL serves the same page."""
    location = S3Location(s3_bucket, "d/")
    key = delivery_key(location, "token-1")
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=HTML)
    video = VideoResult(TASK, "video-1", cdn.add("/video.mp4", body(HTML, "text/html")))
    with pytest.raises(DownloadRefused, match="not a video container"):
        land_task_outputs(
            [video], task_uuid=TASK, location=location, aws_conn_id=aws_conn, delivered=key, downloads=POLICY
        )
    assert _nothing_landed(s3_client, s3_bucket)  # the staged page is deleted, nothing filed
