"""A fake PagerDuty Events API v2: a real HTTPS server on 127.0.0.1 (PagerDuty's client speaks
only HTTPS), with a throwaway CA from `trustme` whose file the bot is given as `ca_file`.

`POST /v2/enqueue` validates events as PagerDuty does (routing key, action, a trigger's
summary ≤ 1,024 chars, source, severity) and answers 202 `{"status": "success", "dedup_key": …}`
or 400 `{"status": "invalid event", "errors": […]}`. It keeps alerts by dedup key: a trigger
for a key with no open alert opens one (`opened` counts them), acknowledge and resolve move it.
`throttle(n)` answers the next n events with 429, `break_(status, n)` with a 5xx.
Also signs v3 webhooks as PagerDuty does (`webhook_headers`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Alert:
    dedup_key: str
    status: str  # triggered, acknowledged, resolved
    summary: str
    events: list[dict[str, Any]] = field(default_factory=list)


class FakePagerDuty:
    def __init__(self, tmp: Path, *, routing_key: str = "R0UTINGKEY0000000000000000000000") -> None:
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []  # every accepted event, in order
        self.rejected: list[dict[str, Any]] = []
        self.alerts: dict[str, Alert] = {}
        self.opened = 0
        self._fail: list[int] = []
        self._lock = threading.Condition()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = tmp / "fake-pagerduty-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._ids = itertools.count(1)

    @property
    def events_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/v2/enqueue"

    def __enter__(self) -> FakePagerDuty:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- controls --------------------------------------------------------------------------------

    def throttle(self, times: int = 1) -> None:
        with self._lock:
            self._fail += [429] * times

    def break_(self, status: int = 503, times: int = 1) -> None:
        with self._lock:
            self._fail += [status] * times

    def wait_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.events) >= count, timeout):
                raise AssertionError(f"expected {count} PagerDuty events, got {self.events}")
            return list(self.events)

    def wait_rejected(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.rejected) >= count, timeout):
                raise AssertionError(f"expected {count} rejected events, got {self.rejected}")
            return list(self.rejected)

    def actions(self) -> list[str]:
        return [str(e.get("event_action")) for e in self.events]

    # -- the API ---------------------------------------------------------------------------------

    def validate(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event object is invalid"]
        errors = []
        if event.get("routing_key") != self.routing_key:
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is missing or blank")
        key = event.get("dedup_key")
        if key is not None and (not isinstance(key, str) or len(key) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not key:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing")
            else:
                summary = payload.get("summary")
                if not isinstance(summary, str) or not summary:
                    errors.append("'payload.summary' is missing or blank")
                elif len(summary) > 1024:
                    errors.append("'payload.summary' is longer than 1024 characters")
                if not payload.get("source"):
                    errors.append("'payload.source' is missing or blank")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' must be one of critical, error, warning, info")
        return errors

    def accept(self, event: dict[str, Any]) -> str:
        key = str(event.get("dedup_key") or uuid.uuid4().hex)
        action = event["event_action"]
        alert = self.alerts.get(key)
        if action == "trigger":
            if alert is None or alert.status == "resolved":
                self.alerts[key] = alert = Alert(key, "triggered", event["payload"]["summary"])
                self.opened += 1
        elif alert is not None and alert.status != "resolved":
            alert.status = "acknowledged" if action == "acknowledge" else "resolved"
        if alert is not None:
            alert.events.append(event)
        self.events.append({**event, "dedup_key": key})
        return key

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v2/enqueue":
                    self._send(404, {"status": "not found"})
                    return
                with fake._lock:
                    failure = fake._fail.pop(0) if fake._fail else None
                    if failure is not None:
                        fake.rejected.append({"status": failure})
                        fake._lock.notify_all()
                if failure == 429:
                    self._send(
                        429,
                        {
                            "status": "throttle event",
                            "message": "Requests for this service are arriving too quickly.",
                        },
                    )
                    return
                if failure is not None:
                    self._send(failure, {"status": "unavailable"})
                    return
                try:
                    event = json.loads(raw)
                except ValueError:
                    event = None
                errors = fake.validate(event)
                with fake._lock:
                    if errors:
                        fake.rejected.append({"status": 400, "errors": errors, "event": event})
                        fake._lock.notify_all()
                    else:
                        key = fake.accept(event)
                        fake._lock.notify_all()
                if errors:
                    self._send(
                        400,
                        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                    )
                else:
                    self._send(202, {"status": "success", "message": "Event processed", "dedup_key": key})

        return Handler


def webhook_body(
    event_type: str, *, incident_key: str, agent: str = "Jane Doe", event_id: str | None = None
) -> str:
    """A v3 webhook body as PagerDuty sends it for an incident event."""
    return json.dumps(
        {
            "event": {
                "id": event_id or uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-11-10T10:00:00.000Z",
                "agent": {"id": "PLH1HKV", "summary": agent, "type": "user_reference"},
                "client": {"name": "PagerDuty"},
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                    "number": 2,
                    "status": event_type.split(".")[-1],
                    "title": "P0 incident",
                    "incident_key": incident_key,
                    "urgency": "high",
                },
            }
        }
    )


def webhook_headers(body: str, *secrets: str) -> dict[str, str]:
    """X-PagerDuty-Signature as PagerDuty signs: `v1=<hex>` per secret, comma separated."""
    sigs = [f"v1={hmac.new(s.encode(), body.encode(), hashlib.sha256).hexdigest()}" for s in secrets]
    return {"Content-Type": "application/json", "X-PagerDuty-Signature": ",".join(sigs)}
