"""Shared helpers for the emulator tests: task builders, sample media, a loopback receiver."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av

from airflow_provider_wan.emulator.encoder import RenderSpec, render

KEY = "runware-emulator-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "alibaba:wan@2.7"
DROP = object()  # marker: remove this key from the task


def new_uuid() -> str:
    return str(uuid.uuid4())


def video_task(**overrides: Any) -> dict[str, Any]:
    """A valid 720p, 2 s text-to-video task; ``key=DROP`` removes a key."""
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": new_uuid(),
        "model": MODEL,
        "positivePrompt": "a red fox running through snow",
        "width": 1280,
        "height": 720,
        "duration": 2,
    }
    for key, value in overrides.items():
        if value is DROP:
            task.pop(key, None)
        else:
            task[key] = value
    return task


def poll(uuid_: str) -> dict[str, str]:
    return {"taskType": "getResponse", "taskUUID": uuid_}


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within timeout")
        time.sleep(interval)


# --- sample media --------------------------------------------------------------------------------


def _image(codec: str, muxer: str, pix_fmt: str, width: int, height: int, **options: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as container:
        stream: Any = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if options:
            stream.options = options
        rgb = av.VideoFrame(width, height, "rgb24")
        plane = rgb.planes[0]
        plane.update(bytes((i * 7) % 256 for i in range(plane.buffer_size)))  # deterministic content
        frame = rgb.reformat(format=pix_fmt)
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    return _image("png", "image2pipe", "rgb24", width, height)


def jpeg(width: int = 64, height: int = 48) -> bytes:
    return _image("mjpeg", "image2pipe", "yuvj420p", width, height)


def webp(width: int = 64, height: int = 48, lossless: bool = False) -> bytes:
    options = {"lossless": "1"} if lossless else {}
    return _image("libwebp", "webp", "bgra" if lossless else "yuv420p", width, height, **options)


def audio(codec: str = "pcm_s16le", muxer: str = "wav") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as container:
        stream: Any = container.add_stream(codec, rate=44100)
        stream.layout = "mono"
        sample_format = stream.codec_context.format.name
        frame = av.AudioFrame(format=sample_format, layout="mono", samples=1152)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 44100, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def mp4_file(directory: Path, seconds: int = 3) -> Path:
    """A small real MP4 (used as a reference video)."""
    path = directory / f"ref-{seconds}s.mp4"
    render(RenderSpec(64, 36, 10, seconds, "mp4", False), path)
    return path


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def probe(data_or_path: bytes | Path) -> dict[str, Any]:
    """What PyAV sees in a downloaded file: container, streams, size, decoded frame count."""
    source: Any = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    with av.open(source) as container:
        video = container.streams.video[0]
        info = {
            "format": container.format.name,
            "duration": (container.duration or 0) / 1_000_000,
            "codec": video.codec_context.name,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "fps": float(video.average_rate) if video.average_rate else None,
            "audio": [s.codec_context.name for s in container.streams.audio],
        }
        info["frames"] = sum(1 for _ in container.decode(video=0))
    return info


# --- a loopback HTTP receiver (webhooks, uploads, media URLs) ------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers from ``files`` (GET) or a scripted status list per path."""

    url: str
    requests: list[Received] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, method: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if method is None or r.method == method]


@contextmanager
def loopback_receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            receiver = state["r"]
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            with receiver.lock:
                receiver.requests.append(Received(self.command, self.path, dict(self.headers), body))
                scripted = receiver.statuses.get(path)
                status = scripted.pop(0) if scripted else 200
            payload, mime = receiver.files.get(path, (b"ok", "text/plain"))
            if self.command in ("PUT", "POST"):
                payload, mime = b"", "text/plain"
            if status != 200:
                payload = b"nope"
            self.send_response(status)
            self.send_header("content-type", mime)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    state["r"] = receiver
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
