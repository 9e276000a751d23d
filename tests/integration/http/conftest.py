"""A real HTTP service for the /health tests: healthy, slow, failing, lying and hanging endpoints.

It listens on 127.0.0.1 (plain HTTP) and, with a certificate from a private CA the client does
not trust, on a second port over TLS.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import trustme

from handlers import Context, Registry, load_all
from handlers.results import Result
from tests.integration.calls import runner

METRICS = """\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.24288e+07
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/api"} 1027
http_requests_total{code="500",path="/api"} 3
# HELP app_errors_total Errors by kind.
# TYPE app_errors_total counter
app_errors_total{kind="TimeoutError"} 4
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json", **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, data: Any) -> None:
        self._send(code, json.dumps(data).encode())

    def do_HEAD(self) -> None:
        if self.path.startswith("/no-head"):
            self._send(405, b"", Allow="GET")
            return
        self.do_GET()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        path = url.path
        if path == "/health":
            self._json(
                200, {"status": "ok", "version": "1.4.2", "database": {"status": "up", "connections": 12}}
            )
        elif path == "/health/slow":
            time.sleep(float(query.get("delay", ["0.3"])[0]))
            self._json(200, {"status": "ok"})
        elif path == "/health/500":
            self._json(500, {"status": "error", "database": {"status": "down"}})
        elif path == "/health/503-text":
            self._send(503, b"Service Unavailable", "text/plain")
        elif path == "/health/badjson":
            self._send(200, b'{"status": "ok", "database": ', "application/json")
        elif path == "/health/degraded":
            self._json(200, {"status": "degraded", "redis": {"status": "down"}})
        elif path == "/health/component-down":
            self._json(200, {"status": "ok", "redis": {"status": "down"}})
        elif path == "/health/leaky":
            self._json(200, {"status": "ok", "dsn": "postgresql://app:Hunter2Secret@db/app"})
        elif path == "/health/hang":
            time.sleep(3)
            self._json(200, {"status": "ok"})
        elif path == "/missing":
            self._json(404, {"error": "not found"})
        elif path in ("/static/main.css", "/no-head/main.css"):
            self._send(
                200,
                b"body{}" * 100,
                "text/css",
                Cache_Control="public, max-age=31536000, immutable",
                ETag='"abc123"',
                Set_Cookie="session=SeSsIoNsEcReT; Path=/; HttpOnly",
            )
        elif path == "/old":
            self._send(301, b"", "text/html", Location="/static/main.css")
        elif path == "/metrics":
            self._send(200, METRICS.encode(), "text/plain; version=0.0.4")
        elif path == "/not-metrics":
            self._send(200, b"<html><body>metrics are elsewhere</body></html>", "text/html")
        else:
            self._json(404, {"error": path})


@pytest.fixture(scope="session")
def service() -> Iterator[str]:
    """Base URL of the plain HTTP service."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tls_service() -> Iterator[str]:
    """Base URL of the same service over TLS with a certificate the client does not trust."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_all()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    # As the bot builds it: redirects are shown, not followed.
    client = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0), follow_redirects=False)
    yield client
    client.close()


@pytest.fixture
def services(service: str) -> dict[str, list[str]]:
    return {
        "backend": [f"{service}/health"],
        "api": [f"{service}/health/500"],
        "search": [f"{service}/health/slow?delay=0.8"],
    }


@pytest.fixture
def ctx(http: httpx.Client, services: dict[str, list[str]]) -> Context[Any]:
    return Context(client=http, timeout=5, options={"services": services})


@pytest.fixture
def run(registry: Registry, ctx: Context[Any]) -> Callable[..., Result]:
    return runner(registry, ctx)


@pytest.fixture
def short(http: httpx.Client) -> Context[Any]:
    """A context with a 0.5 s budget, for the endpoint that hangs."""
    return Context(client=http, timeout=0.5, options={"services": {}})
