"""A real HTTP server for health checks: answers JSON after a set delay, counts requests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlowHealth:
    """`with SlowHealth(delay=0.2) as srv:` — GET any path answers {"status": ...} after `delay` s."""

    def __init__(self, *, delay: float = 0.0, status: int = 200, body: dict[str, Any] | None = None) -> None:
        self.delay = delay
        self.status = status
        self.body = body if body is not None else {"status": "ok"}
        self.hits: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> SlowHealth:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_a: Any) -> None:
                return

            def _answer(self, with_body: bool) -> None:
                with fake._lock:
                    fake.hits.append(self.path)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

        return Handler
