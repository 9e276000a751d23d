"""/health headers (curl -I) and /health metrics (Prometheus text) against a local service."""

from __future__ import annotations

import pytest

from handlers.errors import HandlerError, TargetUnavailable
from handlers.results import KeyValues, Table
from tests.integration.http.httpkit import closed_port


def test_headers_show_what_curl_i_shows(run, service) -> None:
    result = run("health.headers", url=f"{service}/static/main.css")
    assert isinstance(result, KeyValues)
    items = dict(result.items)
    assert items["Status"] == "HTTP/1.1 200 OK"
    assert "(HEAD)" in items["Time"]
    assert items["Cache-Control"] == "public, max-age=31536000, immutable"
    assert items["Content-Type"] == "text/css"
    assert result.values["status_code"] == 200
    assert result.values["content_length"] == 600
    assert result.values["cache_control"] == "public, max-age=31536000, immutable"


def test_cookie_values_are_hidden(run, service) -> None:
    result = run("health.headers", url=f"{service}/static/main.css")
    assert dict(result.items)["Set-Cookie"] == "session=***; Path=/; HttpOnly"
    assert "SeSsIoNsEcReT" not in repr(result)


def test_headers_fall_back_to_get_when_head_is_refused(run, service) -> None:
    result = run("health.headers", url=f"{service}/no-head/main.css")
    assert result.values["status_code"] == 200
    assert "(GET)" in dict(result.items)["Time"]


def test_redirects_are_shown_not_followed(run, service) -> None:
    result = run("health.headers", url=f"{service}/old")
    assert result.values["status_code"] == 301
    assert result.values["location"] == "/static/main.css"


def test_headers_name_a_refused_connection(run) -> None:
    with pytest.raises(TargetUnavailable, match="connection refused"):
        run("health.headers", url=f"http://127.0.0.1:{closed_port()}/static/main.css")


def test_metrics_show_matching_samples(run, service) -> None:
    result = run("health.metrics", url=f"{service}/metrics", pattern="cpu")
    assert isinstance(result, Table)
    assert result.rows == [("process_cpu_seconds_total", "counter", "12.5")]
    assert result.values["matched"] == 1
    assert result.values["value"] == 12.5
    assert result.values["process_cpu_seconds_total"] == 12.5
    assert result.values["samples"] == 5


def test_metrics_patterns_are_regular_expressions_over_labels_too(run, service) -> None:
    result = run("health.metrics", url=f"{service}/metrics", pattern="error|exception")
    assert [r[0] for r in result.rows] == ['app_errors_total{kind="TimeoutError"}']
    by_label = run("health.metrics", url=f"{service}/metrics", pattern='code="500"')
    assert by_label.values['http_requests_total{code="500",path="/api"}'] == 3
    memory = run("health.metrics", url=f"{service}/metrics", pattern="memory")
    assert memory.values["value"] == 52428800


def test_metrics_without_a_pattern_list_everything(run, service) -> None:
    result = run("health.metrics", url=f"{service}/metrics", limit=2)
    assert len(result.rows) == 2
    assert result.values["matched"] == 5
    assert "showing 2" in result.summary


def test_a_page_that_is_not_prometheus_text_is_said_so(run, service) -> None:
    with pytest.raises(HandlerError, match="did not answer in the Prometheus text format"):
        run("health.metrics", url=f"{service}/not-metrics")
    with pytest.raises(HandlerError, match="HTTP 404"):
        run("health.metrics", url=f"{service}/nowhere")


def test_an_invalid_pattern_is_refused(registry) -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        registry.get("health.metrics").params.model_validate({"url": "http://x/metrics", "pattern": "(cpu"})
