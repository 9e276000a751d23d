"""The HTTP server, in both modes: /healthz, /readyz, /metrics, /status, the routes other parts add
(alerts, paging), and /slack/events (Bolt) in HTTP mode; on a production WSGI server.

Every request gets an id (the caller's `X-Request-Id` when it is a sane token, else a new
one), echoed in the response and logged in one line with status and duration. Shutdown
(SIGTERM, SIGINT) is graceful: stop accepting, let in-flight requests finish, let the Bolt
listeners still running after their ack finish, stop the scheduler, drain the handler pool,
close the clients and the state store.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cheroot import wsgi
from cheroot.errors import MaxSizeExceeded
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import metrics, status_page
from bot.alerts.web import routes as alert_routes
from bot.alerts.wiring import stop as alerts_stop
from bot.httpconn import MAX_BODY, MAX_HEAD, REQUEST_DEADLINE, GatheringConnection
from bot.oncall.paging import Pager
from bot.oncall.webhook import Webhook
from bot.replay import ReplayGuard, Verdict
from bot.runtime import Runtime

log = logging.getLogger(__name__)
access_log = logging.getLogger("bot.http")

StartResponse = Callable[..., Any]
Route = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Probes and scrapes come every few seconds; at INFO they would drown the requests that matter.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

STATUS_HEADERS = [
    # The page loads nothing from anywhere: inline styles only, no scripts.
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "public, max-age=15"),
]


def runtime_of(app: App) -> Runtime:
    """The runtime `bot.app.build_app` hangs on its App (web.py does not import the composition root)."""
    runtime = getattr(app, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise TypeError("the App has no chatops runtime: build it with bot.app.build_app")
    return runtime


def _reply(
    start: StartResponse,
    status: str,
    body: bytes,
    ctype: str = "text/plain; charset=utf-8",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start(status, [("Content-Type", ctype), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def request_id(environ: dict[str, Any]) -> str:
    given = str(environ.get("HTTP_X_REQUEST_ID", ""))
    return given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def body_of(environ: dict[str, Any]) -> bytes:
    """The request body WebApp already read (bounded to MAX_BODY) for a route."""
    return bytes(environ.get("chatops.body", b""))


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read at most MAX_BODY bytes; BodyTooLarge past it (checked on Content-Length first)."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        raise BodyTooLarge
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        data = stream.read(declared) if declared else stream.read(MAX_BODY + 1)
    except (ValueError, MaxSizeExceeded):  # cheroot's chunked reader past its limit
        raise BodyTooLarge from None
    except OSError:  # the socket's timeout (only without bot.httpconn, which reads it first)
        raise BodyTimeout from None
    if len(data) > MAX_BODY:
        raise BodyTooLarge
    return bytes(data)


def _headers_only(body: Iterable[bytes]) -> list[bytes]:
    """HEAD: the GET route's status and headers, no body (cheroot would send it, and a body
    on a HEAD response corrupts the next response on a kept-alive connection)."""
    close = getattr(body, "close", None)
    if callable(close):
        close()
    return []


def _methods(key: str) -> tuple[str, str]:
    """'POST /alerts/x' -> ('POST', '/alerts/x'); a bare path takes every method ('*')."""
    method, sep, path = key.partition(" ")
    return (method.upper(), path) if sep else ("*", key)


class WebApp:
    """The WSGI application: Slack's endpoint plus the probes, metrics and the status page.

    Routing is one table, `routes`, keyed "METHOD /path" (GET also answers HEAD; a bare
    "/path" takes every method and checks for itself). Another method on a known path gets
    405 with `Allow`, an unknown path 404. A route is a WSGI callable; WebApp has already read
    the body (at most MAX_BODY bytes, else 413) and hands it over as `wsgi.input` and as
    `body_of(environ)`. Add a route with one line: `routes={"POST /alerts/grafana": fn}`.
    """

    def __init__(
        self,
        app: App,
        *,
        slack_path: str | None = "/slack/events",
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        self.app = app
        self.runtime = runtime_of(app)
        self.slack_path = slack_path
        self.draining = False  # set at shutdown: /readyz answers 503 so traffic moves away
        self.routes: dict[str, Route] = {
            "GET /healthz": self.healthz,
            "GET /readyz": self.readyz,
            "GET /metrics": self.metrics,
            "GET /status": self.status,
            "POST /paging/pagerduty": Webhook(self.runtime),  # PagerDuty v3 webhooks (bot.oncall.webhook)
        }
        self.routes.update(alert_routes(self.runtime))
        if slack_path is not None:  # HTTP mode; Socket Mode gets its events over the WebSocket
            self.slack = SlackRequestHandler(app, path=slack_path)
            self.replays = ReplayGuard(self.runtime.settings.slack_signing_secret, self.runtime.store.engine)
            self.routes[f"POST {slack_path}"] = self.slack_events
        self.routes.update(routes or {})
        self._ready_why = "ok"

    def close(self) -> None:
        """At shutdown, after the last request: the replay guard writes what it still holds."""
        if self.slack_path is not None:
            self.replays.close()

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        rid = request_id(environ)
        environ["chatops.request_id"] = rid
        started = time.monotonic()
        seen: list[str] = []

        def start_logged(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.append(status)
            headers = [*headers, ("X-Request-Id", rid)]
            return start(status, headers, exc_info) if exc_info else start(status, headers)

        try:
            return self._route(environ, start_logged)
        except Exception:
            log.exception(
                "unhandled error serving %s", environ.get("PATH_INFO", ""), extra={"request_id": rid}
            )
            body = b"internal error\n"
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
            start_logged("500 Internal Server Error", headers, sys.exc_info())
            return [body]
        finally:
            path = str(environ.get("PATH_INFO", ""))
            status = seen[-1].split(" ", 1)[0] if seen else "000"
            access_log.log(
                logging.DEBUG if path in QUIET_PATHS and status.startswith("2") else logging.INFO,
                "%s %s %s",
                environ.get("REQUEST_METHOD", ""),
                path,
                status,
                extra={
                    "request_id": rid,
                    "method": environ.get("REQUEST_METHOD", ""),
                    "path": path,
                    "status": int(status) if status.isdigit() else 0,
                    "duration_ms": int((time.monotonic() - started) * 1000),
                    "remote": environ.get("REMOTE_ADDR", ""),
                },
            )

    def _route(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        by_method = {m: fn for m, p, fn in ((*_methods(k), fn) for k, fn in self.routes.items()) if p == path}
        if not by_method:
            return _reply(start, "404 Not Found", b"not found\n")
        route = by_method.get(method) or by_method.get("*")
        if route is None and method == "HEAD" and "GET" in by_method:
            return _headers_only(by_method["GET"](environ, start))
        if route is None:
            allowed = sorted(set(by_method) | ({"HEAD"} if "GET" in by_method else set()))
            return _reply(
                start,
                "405 Method Not Allowed",
                b"method not allowed\n",
                headers=[("Allow", ", ".join(allowed))],
            )
        if method not in ("GET", "HEAD"):
            try:
                body = _read_body(environ)
            except BodyTooLarge:
                log.warning("request body over %d bytes refused", MAX_BODY, extra={"path": path})
                return _reply(
                    start,
                    "413 Content Too Large",
                    b"request body too large\n",
                    headers=[("Connection", "close")],
                )
            environ["chatops.body"] = body
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return route(environ, start)

    def slack_events(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """Slack's endpoint: signature, timestamp and replay checked here, then Bolt."""
        headers = {
            "x-slack-request-timestamp": str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")),
            "x-slack-signature": str(environ.get("HTTP_X_SLACK_SIGNATURE", "")),
        }
        verdict = self.replays.check(body_of(environ), headers)
        if verdict is Verdict.OK:
            # Answers wait until cheroot has written this ack (bot.acks).
            return self.runtime.acks.owing(lambda: self.slack(environ, start))
        # One line, and never the body: it is unauthenticated input.
        log.warning(
            "slack request refused: %s", verdict.value, extra={"remote": environ.get("REMOTE_ADDR", "")}
        )
        if verdict is Verdict.REPLAY:
            return _reply(start, "200 OK", b"")  # already handled once; a retry needs nothing more
        return _reply(start, "401 Unauthorized", b'{"error":"invalid request"}', "application/json")

    def healthz(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        return _reply(start, "200 OK", b"ok\n")

    def readyz(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """Ready or not, and a one-word reason; never a host, port or error text (it is public)."""
        if self.draining:
            body = json.dumps({"ready": False, "store": "shutting down"}).encode() + b"\n"
            return _reply(start, "503 Service Unavailable", body, "application/json")
        ok, why = self.runtime.store.readiness()
        if why != self._ready_why:  # the detail goes to the log, once per change
            log.log(logging.INFO if ok else logging.WARNING, "readiness: %s", why)
            self._ready_why = why
        reason = "ok" if ok else ("migrations not current" if "migration" in why else "unreachable")
        body = json.dumps({"ready": ok, "store": reason}).encode() + b"\n"
        return _reply(start, "200 OK" if ok else "503 Service Unavailable", body, "application/json")

    def metrics(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        rt = self.runtime
        try:
            metrics.refresh_gauges(rt.store.engine, rt.clock())
        except Exception as exc:  # the store being down must not hide the other metrics
            log.warning("metrics: cannot read gauges from the state store: %s", exc)
        return _reply(start, "200 OK", generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

    def status(self, _env: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        rt = self.runtime
        try:
            html = status_page.page(rt.store.engine, rt.clock(), rt.config)
        except Exception as exc:
            log.error("status page: cannot read incidents: %s", exc)
            body = b"The status page is temporarily unavailable. Please try again in a minute.\n"
            return _reply(start, "503 Service Unavailable", body, headers=[("Retry-After", "30")])
        return _reply(start, "200 OK", html.encode(), "text/html; charset=utf-8", STATUS_HEADERS)


LISTEN_BACKLOG = 256


class HttpServer:
    """cheroot's threaded WSGI server, stoppable from a signal handler or a test."""

    def __init__(
        self,
        web: WebApp,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        threads: int = 16,
        shutdown_timeout: int = 20,
        request_deadline: int = REQUEST_DEADLINE,
    ) -> None:
        self.web = web
        self.server = wsgi.Server(
            (host, port),
            web,
            numthreads=threads,
            shutdown_timeout=shutdown_timeout,
            # cheroot's default listen backlog is 5: a burst of Slack requests (an incident, a
            # channel full of people clicking) overflows it and each refused SYN waits ~1 s.
            request_queue_size=LISTEN_BACKLOG,
            # A silent connection is closed after this; a slow one gets 408 (bot.httpconn).
            timeout=request_deadline,
        )
        # Requests are gathered without holding a worker (slowloris); cheroot's own limits
        # stay as a second line behind the gathering connection's.
        self.server.ConnectionClass = type(
            "Connection", (GatheringConnection,), {"deadline": float(request_deadline)}
        )
        self.server.max_request_header_size = MAX_HEAD
        self.server.max_request_body_size = MAX_BODY
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
        """Close the listening socket, then wait for the requests in flight (up to shutdown_timeout)."""
        self.web.draining = True
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=20)


class Shutdown:
    """The shutdown sequence, run once, in order, whatever asks for it first.

    0. `first`, when given (Socket Mode: close the WebSocket, so no new events arrive);
    1. the HTTP server stops accepting and finishes the requests in flight;
    2. the Bolt listeners still running after their ack finish (listener executor);
    3. the scheduler stops (a tick in progress completes);
    4. the handler pool drains;
    5. clients and the state store close.
    """

    def __init__(
        self, app: App, server: HttpServer | None = None, *, first: Callable[[], None] | None = None
    ) -> None:
        self.app = app
        self.server = server
        self.first = first  # e.g. close the Socket Mode connection: no new events while draining
        self.done = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def begin(self) -> None:
        """Start the sequence in its own thread (safe from a signal handler); later calls do nothing."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="shutdown").start()

    def run(self) -> None:
        """Run the sequence here and wait for it (or for the one already running)."""
        self.begin()
        self.done.wait()

    def _run(self) -> None:
        try:
            if self.first is not None:
                self.first()
            drain(self.app, self.server)
        except Exception:
            log.exception("shutdown did not finish cleanly")
        finally:
            self.done.set()


def drain(app: App, server: HttpServer | None = None) -> None:
    started = time.monotonic()
    if server is not None:
        log.info("shutting down: no new requests; waiting for the ones in flight")
        server.stop()
        server.web.close()
    executor = getattr(app.listener_runner, "listener_executor", None)
    shutdown = getattr(executor, "shutdown", None)
    if callable(shutdown):
        log.info("shutting down: waiting for Slack listeners to finish")
        shutdown(wait=True)
    runtime = runtime_of(app)
    runtime.answer_pool.shutdown(wait=True)  # answers to slash commands still being sent
    if runtime.scheduler is not None:
        runtime.scheduler.stop()
    alerts_stop(runtime)  # the alert groups being worked on finish
    runtime.pool.shutdown(wait=True)
    runtime.action_pool.shutdown(wait=True)  # a confirmed action still running ends and is audited
    pager = runtime.find(Pager)
    if pager is not None:
        pager.close()  # the pages queued by the work above go out
    runtime.response_pool.clear()  # the listeners are done: no answer is still being sent
    runtime.services.close()
    log.info("stopped", extra={"duration_ms": int((time.monotonic() - started) * 1000)})


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM/SIGINT call `stop` (which must not block: the signal handler runs in the main thread)."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def serve(app: App, server: HttpServer, *, first: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully (`first` first); returns when everything
    stopped."""
    shutdown = Shutdown(app, server, first=first)
    install_signal_handlers(shutdown.begin)
    try:
        server.serve_forever()
    finally:
        shutdown.run()
