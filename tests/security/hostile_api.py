"""A Runware stand-in on 127.0.0.1 that answers each POST with whatever the test says: raw bytes, so
anything JSON can carry (huge integers, odd types, odd shapes) and anything it cannot (broken text)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Tasks = list[dict[str, Any]]
Answer = Callable[[Tasks], tuple[int, bytes]]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stops reading (a size cap, a deadline) is what these tests expect


class HostileApi:
    """``answer(tasks) -> (status, body)``; ``announce=False`` sends no Content-Length (read to close);
    ``drip`` trickles the body in."""

    def __init__(self) -> None:
        self.answer: Answer = lambda tasks: (200, b'{"data": []}')
        self.announce = True
        self.drip = 0.0  # seconds between the body's pieces (ten of them), each read on time
        self.requests: list[Tasks] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                tasks = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                api.requests.append(tasks)
                status, body = api.answer(tasks)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if api.announce:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = max(1, len(body) // 10) if api.drip else len(body) or 1
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(api.drip)
                self.close_connection = True

        self._httpd = QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def reply(self, body: bytes | dict[str, Any], status: int = 200) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answer = lambda tasks: (status, raw)

    def reset(self) -> HostileApi:
        self.reply({"data": []})
        self.announce = True
        self.drip = 0.0
        self.requests.clear()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
