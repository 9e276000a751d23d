"""The shared Prometheus/Alertmanager fixtures work end to end: scrape, query, fire, resolve."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.promstack import Alertmanager, Exporter, Prometheus

RULES = {
    "groups": [
        {
            "name": "test",
            "rules": [
                {
                    "alert": "HighErrorRate",
                    "expr": "test_error_ratio > 0.05",
                    "labels": {"severity": "critical", "service": "backend"},
                    "annotations": {"summary": "error ratio {{ $value }}"},
                }
            ],
        }
    ]
}


class Receiver:
    """A webhook receiver that records each POST's headers and JSON body."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.cond:
                    receiver.posts.append((dict(self.headers), body))
                    receiver.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts/alertmanager"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_status(self, status: str, timeout: float = 40.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((b for _, b in self.posts if b["status"] == status), None)

        with self.cond:
            self.cond.wait_for(lambda: found() is not None, timeout=timeout)
            body = found()
        if body is None:
            pytest.fail(f"no {status} webhook within {timeout:.0f} s; got {self.posts}")
        return body


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_prometheus_scrapes_the_values_the_test_sets(exporter: Exporter, start_prometheus) -> None:
    ratio = exporter.gauge("test_error_ratio", "share of failed requests")
    ratio.set(0.06)
    prom: Prometheus = start_prometheus([exporter.target])
    prom.wait_scraped(exporter.target)
    prom.wait_for("test_error_ratio", lambda r: bool(r) and r[0]["value"][1] == "0.06")
    ratio.set(0.01)
    prom.wait_for("test_error_ratio", lambda r: bool(r) and r[0]["value"][1] == "0.01")


def test_a_rule_fires_through_alertmanager_and_resolves(
    exporter: Exporter, start_prometheus, start_alertmanager, receiver: Receiver
) -> None:
    ratio = exporter.gauge("test_error_ratio", "share of failed requests")
    ratio.set(0.06)
    am: Alertmanager = start_alertmanager(receiver.url, bearer_token="s3cret")
    start_prometheus([exporter.target], rules=RULES, alertmanager=am.url)

    firing = receiver.wait_status("firing")
    assert firing["version"] == "4"
    assert firing["commonLabels"]["alertname"] == "HighErrorRate"
    assert firing["alerts"][0]["fingerprint"]
    headers = next(h for h, b in receiver.posts if b is firing)
    assert headers["Authorization"] == "Bearer s3cret"
    assert am.alerts(), "Alertmanager holds the firing alert"

    ratio.set(0.01)
    resolved = receiver.wait_status("resolved")
    assert resolved["alerts"][0]["status"] == "resolved"
