"""Fixtures for the media tests: tiny valid media, a loopback file server with failure control, the
Runware emulator with a ``runware_default`` connection to it, and an S3 request counter."""

from __future__ import annotations

import io
import struct
import threading
import wave
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import runware_conn_json


def pytest_configure(config: pytest.Config) -> None:
    # The lead registers tests.fixtures_s3 in the root conftest; until then (or when run alone) load it here.
    if not config.pluginmanager.has_plugin("tests.fixtures_s3"):
        config.pluginmanager.import_plugin("tests.fixtures_s3")


# --------------------------------------------------------------------------------------------------
# Tiny valid media


def make_png(width: int = 2, height: int = 2, shade: int = 128) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([shade, 0, 255 - shade]) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def make_mp4(seconds: float = 1.0, fps: int = 10, size: int = 64, shade: int = 40) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame(size, size, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(shade + index * 7) % 256]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def make_wav(seconds: float = 0.2, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return make_png()


@pytest.fixture(scope="session")
def mp4_bytes() -> bytes:
    return make_mp4()


@pytest.fixture(scope="session")
def wav_bytes() -> bytes:
    return make_wav()


# --------------------------------------------------------------------------------------------------
# Loopback file server


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    fail_with: list[int] = field(default_factory=list)  # statuses answered first, one per request
    content_length: int | None = None  # announce this instead of len(body) (truncation tests)
    hits: int = 0


class MediaServer:
    """Serves registered bodies on 127.0.0.1 (GET/HEAD); each route can fail first or lie about its length."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self, with_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                server.requests[f"{self.command} {path}"] += 1
                route = server.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                route.hits += 1
                if route.fail_with:
                    status = route.fail_with.pop(0)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                length = route.content_length if route.content_length is not None else len(route.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if with_body:
                    view = memoryview(route.body)
                    for start in range(0, len(view), 256 * 1024):
                        self.wfile.write(view[start : start + 256 * 1024])
                self.close_connection = True

            def do_GET(self) -> None:
                self._serve(True)

            def do_HEAD(self) -> None:
                self._serve(False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def add(self, path: str, body: bytes, **kwargs: Any) -> str:
        self.routes[path] = Route(body, **kwargs)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def _media_server_session() -> Iterator[MediaServer]:
    server = MediaServer()
    yield server
    server.close()


@pytest.fixture
def media_server(_media_server_session: MediaServer) -> MediaServer:
    _media_server_session.routes.clear()
    _media_server_session.requests.clear()
    return _media_server_session


# --------------------------------------------------------------------------------------------------
# Runware emulator + connection


@pytest.fixture(scope="session")
def _emulator() -> Iterator[Any]:
    testing = pytest.importorskip("airflow_provider_wan.emulator.testing")
    with testing.running_emulator(processing_seconds=0.0, seconds_per_output_second=0.0, seed=7) as emu:
        yield emu


@pytest.fixture
def emulator(_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh emulator state and ``runware_default`` pointing at it."""
    _emulator.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", runware_conn_json(_emulator.base_url, api_key=_emulator.api_key)
    )
    return _emulator


@pytest.fixture
def runware_hook(emulator: Any) -> Iterator[Any]:
    from airflow_provider_wan.hooks.runware import RunwareHook

    hook = RunwareHook()
    yield hook
    hook.close()


# --------------------------------------------------------------------------------------------------
# Counting S3 requests made through S3Hook clients (botocore event hooks)


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counter of S3 operations (``PutObject``, ``UploadPart``...) issued by clients from S3Hook.get_conn."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    calls: Counter[str] = Counter()
    original: Callable[..., Any] = S3Hook.get_conn

    def counting_get_conn(self: Any) -> Any:
        client = original(self)
        if not getattr(client, "_wan_counted", False):

            def count(model: Any, **_: Any) -> None:
                calls[model.name] += 1

            client.meta.events.register("before-call.s3", count)
            client._wan_counted = True
        return client

    monkeypatch.setattr(S3Hook, "get_conn", counting_get_conn)
    return calls
