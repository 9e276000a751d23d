"""`POST /alerts/alertmanager` and `POST /alerts/grafana`: check, store, answer, then work.

401 without the bearer token (compared in constant time), 413 over 1 MiB, 400 for a body that
is not the sender's payload (naming what is wrong), 503 when the state store cannot take the
alerts (Alertmanager retries 5xx, and only 5xx), else 200 `{"accepted": N, "duplicates": M}`,
sent only after the alerts are committed. The Slack work runs after the answer.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from bot.alerts import payload
from bot.alerts import store as astore
from bot.alerts.pipeline import Pipeline
from handlers.redact import redact

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
WEBHOOKS = Counter(
    "chatops_alert_webhooks_total", "Alert webhook requests, by source and HTTP status", ["source", "status"]
)
ALERTS = Counter(
    "chatops_alerts_received_total", "Alerts in webhook posts, by source and result", ["source", "result"]
)
_ENGINE_LOCK = threading.Lock()
StartResponse = Callable[..., Any]
Route = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _reply(
    start: StartResponse, status: str, body: dict[str, Any], headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    data = json.dumps(body).encode() + b"\n"
    start(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])]
    )
    return [data]


def _authorized(environ: dict[str, Any], token: str) -> bool:
    given = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _body(environ: dict[str, Any]) -> bytes | None:
    """The body, or None when it is over MAX_BODY (said by Content-Length or found reading)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    stream = environ["wsgi.input"]
    data: bytes = stream.read(length) if length else stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


@dataclass(frozen=True)
class IntakeEngine:
    """The webhooks' own engine, kept on the runtime (closed by bot.alerts.wiring.stop)."""

    engine: Engine


def intake_engine(runtime: Runtime) -> Engine:
    """The engine webhooks store through. On PostgreSQL its own pool without pre-ping: a storm's
    answers are waited on by Alertmanager, and a dead pooled connection after a database restart
    fails one request with 503 (which Alertmanager retries) and is replaced, instead of costing
    every request a round trip. Its statement is planned for each post's own values."""
    intake = runtime.find(IntakeEngine)
    if intake is not None:
        return intake.engine
    with _ENGINE_LOCK:  # two first requests at once build one engine
        intake = runtime.find(IntakeEngine)
        if intake is not None:
            return intake.engine
        return _new_engine(runtime)


def _new_engine(runtime: Runtime) -> Engine:
    store = runtime.store
    if store.dialect != "postgresql":
        engine = store.engine
    else:
        engine = create_engine(
            store.url,
            pool_pre_ping=False,
            pool_size=16,
            max_overflow=8,
            # Never a server-side prepared statement: after five runs PostgreSQL may switch the
            # intake statement to a generic plan, which on tables without statistics yet (a new
            # database meeting its first storm) took 4.8 ms a post instead of 1.3 ms.
            connect_args={"connect_timeout": 5, "prepare_threshold": None},
        )
    runtime.provide(IntakeEngine(engine))
    return engine


def endpoint(runtime: Runtime, source: str) -> Route:
    def counted(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        def start_counted(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            WEBHOOKS.labels(source, status.split(" ", 1)[0]).inc()
            return start(status, headers, *exc)

        return handle(environ, start_counted)

    def handle(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") != "POST":
            return _reply(start, "405 Method Not Allowed", {"error": "POST only"}, [("Allow", "POST")])
        cfg = runtime.config.alerts
        if cfg is None:
            return _reply(
                start, "404 Not Found", {"error": "alerts are not configured (chatops.yaml `alerts:`)"}
            )
        if not _authorized(environ, cfg.token):
            return _reply(
                start,
                "401 Unauthorized",
                {"error": "missing or wrong bearer token"},
                [("WWW-Authenticate", "Bearer")],
            )
        # The sender waits on this answer, and the group work it starts waits for it (bot.acks);
        # counted from the token check on, so a stranger's posts hold nothing back.
        return runtime.acks.owing(lambda: accept(environ, start))

    def accept(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        raw = _body(environ)
        if raw is None:
            return _reply(start, "413 Payload Too Large", {"error": f"the body is over {MAX_BODY} bytes"})
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _reply(start, "400 Bad Request", {"error": f"the body is not JSON: {exc}"})
        try:
            batch = payload.parse(source, data)
        except payload.PayloadError as exc:
            return _reply(start, "400 Bad Request", {"error": str(exc)})
        if batch.truncated:
            log.warning(
                "alerts: %s left %d alert(s) out of group %s (max_alerts): they are not stored",
                source,
                batch.truncated,
                batch.group_key[:200],
            )
        try:
            stored = astore.store_batch(intake_engine(runtime), batch, runtime.clock())
        except SQLAlchemyError as exc:
            reason = redact(str(exc).splitlines()[0][:300]) if str(exc) else type(exc).__name__
            log.error("alerts: cannot store a %s group: %s", source, reason)
            return _reply(
                start,
                "503 Service Unavailable",
                {"error": "the state store is unreachable; retry"},
                [("Retry-After", "5")],
            )
        ALERTS.labels(source, "accepted").inc(stored.accepted)
        ALERTS.labels(source, "duplicate").inc(stored.duplicates)
        pipeline = runtime.find(Pipeline)
        if stored.accepted and pipeline is not None:
            pipeline.submit([stored.group_id])
        return _reply(start, "200 OK", {"accepted": stored.accepted, "duplicates": stored.duplicates})

    return counted


def routes(runtime: Runtime) -> dict[str, Route]:
    """The alert endpoints, for `bot.web.WebApp`'s routing table."""
    return {
        "/alerts/alertmanager": endpoint(runtime, "alertmanager"),
        "/alerts/grafana": endpoint(runtime, "grafana"),
    }
