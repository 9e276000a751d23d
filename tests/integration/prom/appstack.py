"""A service whose traffic the test drives (a real exporter, a real Prometheus) and the bot
configured to read it: `backend` at 6% errors, `steady` at 1%, `bare` with no metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.pngcheck import has_colour, png_size_and_colours
from tests.promstack import Exporter, Prometheus, free_port

__all__ = ["has_colour", "png_size_and_colours"]

ROOT = Path(__file__).resolve().parents[3]

ERROR_RATE = (
    'sum(rate(http_requests_total{service="{{service}}",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="{{service}}"}[5m]))'
)
LATENCY = (
    "histogram_quantile(0.95, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{service="{{service}}"}[5m])))'
)
RULES = {
    "groups": [
        {
            "name": "test",
            "rules": [
                {
                    "alert": "HighErrorRate",
                    "expr": ERROR_RATE.replace("{{service}}", "backend") + " > 0.05",
                    "labels": {"severity": "critical", "service": "backend"},
                    "annotations": {"summary": "backend errors above 5%"},
                },
                {
                    "alert": "SlowBurn",
                    "expr": ERROR_RATE.replace("{{service}}", "steady") + " > 0.005",
                    "for": "1h",
                    "labels": {"severity": "warning", "service": "steady"},
                },
            ],
        }
    ]
}
QUEUES = 12  # more series than a chart draws


@dataclass
class Stack:
    exporter: Exporter
    prom: Prometheus
    dead: str  # a scrape target nobody listens on

    def error_rate(self, service: str) -> str:
        return ERROR_RATE.replace("{{service}}", service)


def bot_config(prom_url: str, *, timeout: str = "5s") -> str:
    metrics = f"""
    metrics:
      error_rate: '{ERROR_RATE}'
      latency_p95: '{LATENCY}'"""
    return f"""
runbooks_dir: "{ROOT / "runbooks"}"
prometheus:
  main: {{url: "{prom_url}", default: true, timeout: {timeout}}}
services:
  backend:{metrics}
  steady:{metrics}
  bare:
    namespace: prod
# The runbooks' metrics_url is the local exporter: /health may fetch it (issue 12's egress rules).
health: {{allow: ["http://127.0.0.1:*/metrics"], allow_private: true}}
"""


@pytest.fixture
def stack(exporter: Exporter, start_prometheus: Callable[..., Prometheus]) -> Stack:
    """6% of backend's requests fail, 1% of steady's; p95 latency 0.3 s and 0.05 s; 12 queues."""
    requests = exporter.counter("http_requests", "HTTP requests", ["service", "code"])
    latency = exporter.histogram("http_request_duration_seconds", "latency", ["service"])
    depth = exporter.gauge("queue_depth", "items waiting", ["queue"])
    for service in ("backend", "steady"):
        latency.labels(service)  # zero buckets before the first scrape
        for code in ("200", "500"):
            requests.labels(service, code).inc(0)
    for q in range(QUEUES):
        depth.labels(f"q{q:02d}").set(10 * (q + 1))
    dead = f"127.0.0.1:{free_port()}"
    prom = start_prometheus([exporter.target, dead], rules=RULES)
    prom.wait_scraped(exporter.target)
    # Counted after the first scrape, so the rate sees the increase.
    requests.labels("backend", "200").inc(94)
    requests.labels("backend", "500").inc(6)
    requests.labels("steady", "200").inc(99)
    requests.labels("steady", "500").inc(1)
    for _ in range(20):
        latency.labels("backend").observe(0.3)
        latency.labels("steady").observe(0.05)
    for service, want in (("backend", 0.06), ("steady", 0.01)):
        prom.wait_for(
            ERROR_RATE.replace("{{service}}", service),
            lambda r, want=want: bool(r) and abs(float(r[0]["value"][1]) - want) < 1e-9,  # type: ignore[misc]
        )
    prom.wait_for(LATENCY.replace("{{service}}", "backend") + " > 0")
    prom.wait_for('ALERTS{alertname="HighErrorRate", alertstate="firing"}')
    prom.wait_for('ALERTS{alertname="SlowBurn", alertstate="pending"}')
    return Stack(exporter, prom, dead)


@pytest.fixture
def pbot(fake_slack: FakeSlack, tmp_path: Path, stack: Stack) -> Iterator[RunningBot]:
    running = start_bot(fake_slack, tmp_path, bot_config(stack.prom.url))
    yield running
    stop_bot(running)


def wait_uploads(slack: FakeSlack, suffix: str, count: int = 1, timeout: float = 20.0) -> list[bytes]:
    """The files uploaded so far whose names end in `suffix`, once there are `count` of them."""

    def ready() -> list[bytes] | None:
        names = [
            str(c.args.get("filename", "")) for c in slack.calls if c.method == "files.getUploadURLExternal"
        ]
        completed = sum(1 for c in slack.calls if c.method == "files.completeUploadExternal")
        if completed < len(names) or len(slack.uploads) < len(names):
            return None
        # File ids grow with each upload, so sorted ids pair with the calls in order.
        bodies = [slack.uploads[k] for k in sorted(slack.uploads)]
        found = [b for n, b in zip(names, bodies, strict=True) if n.endswith(suffix)]
        return found if len(found) >= count else None

    result: list[bytes] = slack.wait_for(ready, timeout=timeout)
    return result
