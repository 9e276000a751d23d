"""HTTP mode: /slack/events (Bolt), /healthz, /readyz, /metrics, on a production WSGI server."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cheroot import wsgi
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import ChatopsApp

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Route = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _reply(
    start: StartResponse, status: str, body: bytes, ctype: str = "text/plain; charset=utf-8"
) -> list[bytes]:
    start(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


class WebApp:
    """The WSGI application: Slack's endpoint plus the probes and metrics."""

    def __init__(self, app: ChatopsApp, *, slack_path: str = "/slack/events") -> None:
        self.app = app
        self.slack = SlackRequestHandler(app, path=slack_path)
        self.slack_path = slack_path
        self.routes: dict[str, Route] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/metrics": self.metrics,
        }

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.slack_path:
            return self.slack(environ, start)
        route = self.routes.get(path)
        if route is None:
            return _reply(start, "404 Not Found", b"not found\n")
        return route(environ, start)

    def healthz(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        return _reply(start, "200 OK", b"ok\n")

    def readyz(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        ok, why = self.app.runtime.store.readiness()
        body = json.dumps({"ready": ok, "store": why}).encode() + b"\n"
        return _reply(start, "200 OK" if ok else "503 Service Unavailable", body, "application/json")

    def metrics(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        return _reply(start, "200 OK", generate_latest(REGISTRY), CONTENT_TYPE_LATEST)


class HttpServer:
    """cheroot's threaded WSGI server, stoppable from a signal handler or a test."""

    def __init__(self, web: WebApp, *, host: str = "0.0.0.0", port: int = 3000, threads: int = 16) -> None:
        self.server = wsgi.Server((host, port), web, numthreads=threads, shutdown_timeout=15)
        self.server.prepare()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])

    def serve_forever(self) -> None:
        self.server.serve()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=20)


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM/SIGINT stop taking requests and let the ones in flight finish."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: shutting down", signum)
        threading.Thread(target=stop, name="shutdown").start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
