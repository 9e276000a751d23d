"""`chatops check-config` tries each Prometheus and runs each service's named PromQL once."""

from __future__ import annotations

from collections.abc import Callable

from bot.check_config import check_targets
from bot.config import parse_config
from tests.promstack import Exporter, Prometheus, free_port


def test_check_config_names_a_bad_metric_and_a_prometheus_that_is_down(
    exporter: Exporter, start_prometheus: Callable[..., Prometheus]
) -> None:
    prom = start_prometheus([exporter.target])
    closed = free_port()
    config = parse_config(
        f"""
prometheus:
  main: {{url: "{prom.url}", default: true, timeout: 2s}}
  old: {{url: "http://127.0.0.1:{closed}", timeout: 1s}}
services:
  backend:
    metrics:
      up: 'up{{job="test"}}'
      typo: 'sum(rate(http_requests_total[5m])'
"""
    )
    found = {(c.kind, c.name): c for c in check_targets(config, timeout=2.0)}
    assert found["prometheus", "main"].ok
    assert found["prometheus", "main"].detail.startswith("Prometheus 2.")
    assert not found["prometheus", "old"].ok
    assert "connection refused" in found["prometheus", "old"].detail
    assert found["metric", "backend.up"].ok
    typo = found["metric", "backend.typo"]
    assert not typo.ok
    assert "rejected the query" in typo.detail
    assert "1:34: parse error" in typo.detail
