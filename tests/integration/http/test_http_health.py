"""/health against a real local HTTP service: thresholds, bodies, `all`, and named failures."""

from __future__ import annotations

import pytest

from handlers.errors import InvalidRequest, NotFound
from handlers.results import Check, Group, Status, Table
from tests.integration.http.httpkit import closed_port
from tests.values import num


def test_a_healthy_url_with_a_json_summary(run, service) -> None:
    result = run("health.check", service=f"{service}/health")
    assert isinstance(result, Check)
    assert result.status is Status.OK
    assert result.detail.startswith("HTTP 200 in ")
    assert "status=ok" in result.detail
    assert "database.connections=12" in result.detail
    assert result.values["status_code"] == 200
    assert result.values["body.database.connections"] == 12
    assert result.values["unhealthy"] == 0
    assert num(result.values, "latency_ms") > 0


def test_a_slow_answer_is_a_warning_then_critical(run, service) -> None:
    url = f"{service}/health/slow?delay=0.3"
    warn = run("health.check", service=url, warn="0.1s", crit="2s")
    assert warn.status is Status.WARN
    assert "slower than 0.1 s" in warn.detail
    crit = run("health.check", service=url, warn="0.05s", crit="0.1s")
    assert crit.status is Status.CRIT
    assert "slower than 0.1 s" in crit.detail


def test_the_seeds_thresholds_are_the_defaults(registry) -> None:
    params = registry.get("health.check").params()
    assert params.warn.total_seconds() == 2
    assert params.crit.total_seconds() == 5


def test_any_5xx_is_critical(run, service) -> None:
    result = run("health.check", service=f"{service}/health/500")
    assert result.status is Status.CRIT
    assert "HTTP 500" in result.detail
    assert result.values["status_code"] == 500
    assert run("health.check", service=f"{service}/health/503-text").status is Status.CRIT


def test_bad_json_is_a_warning_that_says_so(run, service) -> None:
    result = run("health.check", service=f"{service}/health/badjson")
    assert result.status is Status.WARN
    assert "not valid JSON" in result.detail
    assert result.values["status_code"] == 200


def test_the_body_status_is_judged(run, service) -> None:
    assert run("health.check", service=f"{service}/health/degraded").status is Status.WARN
    down = run("health.check", service=f"{service}/health/component-down")
    assert down.status is Status.WARN
    assert "redis.status=down" in down.detail


def test_a_4xx_is_a_warning_about_the_url(run, service) -> None:
    result = run("health.check", service=f"{service}/missing")
    assert result.status is Status.WARN
    assert "is the health URL right?" in result.detail


def test_a_service_by_name_and_urls_from_the_bots_expansion(run, service) -> None:
    by_name = run("health.check", service="backend")
    assert by_name.status is Status.OK
    assert by_name.title.startswith("Health of backend (")
    # The bot fills `urls` from the service's health list before validation.
    expanded = run("health.check", service="backend", urls=[f"{service}/health", f"{service}/health/500"])
    assert isinstance(expanded, Group)
    assert expanded.values["checked"] == 2
    assert expanded.values["unhealthy"] == 1
    assert expanded.values["backend.status"] == "crit"


def test_all_checks_every_service_in_one_table(run) -> None:
    for target in ({"service": "all"}, {}):
        result = run("health.check", **target, warn="0.5s")
        assert isinstance(result, Group)
        overall, table = result.parts
        assert isinstance(overall, Check)
        assert isinstance(table, Table)
        assert overall.status is Status.CRIT
        assert sorted(r[1] for r in table.rows) == ["api", "backend", "search"]
        assert table.rows[0][1] == "api", "the worst first"
        v = result.values
        assert (v["checked"], v["ok"], v["degraded"], v["unhealthy"]) == (3, 1, 1, 1)
        assert (v["backend.status"], v["search.status"], v["api.status"]) == ("ok", "warn", "crit")


def test_unknown_service_and_nothing_configured(run, registry, http) -> None:
    with pytest.raises(NotFound, match="services with health URLs: api, backend, search"):
        run("health.check", service="nosuch")
    from handlers import Context

    empty = Context(client=http, timeout=5, options={"services": {}})
    with pytest.raises(InvalidRequest, match="no services with health URLs are configured"):
        run("health.check", context=empty)


def test_a_bad_url_is_refused_before_any_request(registry) -> None:
    spec = registry.get("health.check")
    with pytest.raises(ValueError, match="not an http"):
        spec.params.model_validate({"service": "ftp://example.com/health"})
    with pytest.raises(ValueError, match="urls"):
        spec.params.model_validate({"urls": ["not a url"]})


def test_refused_connections_are_named(run) -> None:
    port = closed_port()
    result = run("health.check", service=f"http://127.0.0.1:{port}/health")
    assert result.status is Status.CRIT
    assert f"connection refused by 127.0.0.1:{port}" in result.detail


def test_dns_failures_are_named(run) -> None:
    result = run("health.check", service="http://api.nonexistent.invalid/health")
    assert result.status is Status.CRIT
    assert "DNS lookup failed for api.nonexistent.invalid" in result.detail


def test_tls_failures_are_named(run, tls_service, service) -> None:
    untrusted = run("health.check", service=f"{tls_service}/health")
    assert untrusted.status is Status.CRIT
    assert "TLS certificate verification failed for 127.0.0.1" in untrusted.detail
    plain = service.replace("http://", "https://")
    wrong = run("health.check", service=f"{plain}/health")
    assert wrong.status is Status.CRIT
    assert "TLS error with 127.0.0.1" in wrong.detail


def test_timeouts_are_named(run, short, service) -> None:
    result = run("health.check", context=short, service=f"{service}/health/hang")
    assert result.status is Status.CRIT
    assert "timed out" in result.detail
    assert result.values["latency_ms"] is None


def test_secrets_in_urls_and_bodies_never_show(run, service) -> None:
    host = service.removeprefix("http://")
    secret_url = f"http://ops:Pa55wordInUrl@{host}/health/leaky?token=T0kenInQuery"
    result = run("health.check", service=secret_url)
    text = repr(result)
    assert result.status is Status.OK
    for secret in ("Pa55wordInUrl", "T0kenInQuery", "Hunter2Secret"):
        assert secret not in text
    refused = run("health.check", service=f"http://ops:Pa55wordInUrl@127.0.0.1:{closed_port()}/health")
    assert "Pa55wordInUrl" not in repr(refused)
