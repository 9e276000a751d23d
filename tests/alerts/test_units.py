"""Matchers (Alertmanager's syntax on RE2), the alerts/watches config, routing and payload bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts import payload, routing
from bot.config import ConfigError, parse_config
from handlers.alerts.matchers import Matcher, MatcherError, parse, parse_list

TOKEN = "t" * 20


@pytest.mark.parametrize(
    ("text", "labels", "hit"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ("severity=critical", {"severity": "critical"}, True),
        ('severity!="critical"', {"severity": "warning"}, True),
        ('severity!="critical"', {}, True),
        ('service=~"api|web"', {"service": "web"}, True),
        ('service=~"api"', {"service": "api-2"}, False),  # anchored, as Alertmanager does
        ('service!~"api.*"', {"service": "api-2"}, False),
        ('team=""', {}, True),  # an empty value matches a missing label
    ],
)
def test_matchers(text: str, labels: dict[str, str], hit: bool) -> None:
    assert parse(text).matches(labels) is hit


def test_matcher_lists_and_errors() -> None:
    assert [str(m) for m in parse_list('{a="b", c=~"d.*"}')] == ['a="b"', 'c=~"d.*"']
    assert parse('a="x\\"y"').value == 'x"y'
    for bad in ('a="b', "1a=b", "a~b", 'a=~"(x"', "{a=b"):
        with pytest.raises(MatcherError):
            parse_list(bad)
    with pytest.raises(MatcherError):
        parse_list(",".join(f"a{i}=b" for i in range(40)))


@given(st.text(max_size=40), st.sampled_from(["=", "!=", "=~", "!~"]))
def test_matcher_round_trip(value: str, op: str) -> None:
    m = Matcher("name", op, value)
    if m.is_regex:
        try:
            parse(str(m))
        except MatcherError:
            return  # not a valid regex: refused, not crashed
    assert parse(str(m)) == m


def test_config_alerts_and_watches() -> None:
    cfg = parse_config(
        f"""
services: {{backend: {{health: ["http://x/h"]}}}}
alerts:
  token: {TOKEN}
  routes:
    - {{matchers: ['severity="critical"'], declare: p1, runbook: service-down}}
watches:
  - {{name: backend-health, service: backend, every: 30s}}
"""
    )
    assert cfg.alerts is not None
    assert cfg.alerts.routes[0].declare == "P1"
    assert cfg.watches[0].fail_after == 3
    problems = {
        "alerts: {token: short}": "at least 16",
        f"alerts: {{token: {TOKEN}, routes: [{{matchers: ['a=~\"(x\"']}}]}}": "regular expression",
        f"alerts: {{token: {TOKEN}, routes: [{{declare: SEV1}}]}}": "not a severity",
        f"alerts: {{token: {TOKEN}, extra: 1}}": "alerts.extra: unknown key",
        "watches: [{name: w, service: nope}]": "'nope' is not configured",
        "services: {b: {}}\nwatches: [{name: w, service: b}, {name: w, service: b}]": "given twice",
    }
    for text, why in problems.items():
        with pytest.raises(ConfigError, match=why):
            parse_config(text)


def test_route_choice_and_runbook_names() -> None:
    cfg = parse_config(
        f"""
alerts:
  token: {TOKEN}
  routes:
    - {{matchers: ['severity="critical"', 'team=~"core|db"'], declare: P1}}
    - {{matchers: ['severity="warning"'], runbook: "{{{{ alertname }}}}"}}
"""
    )
    idx, route = routing.choose(cfg, {"severity": "critical", "team": "db"})
    assert idx == 0
    assert route.declare == "P1"
    assert routing.choose(cfg, {"severity": "critical", "team": "web"})[0] is None
    _, warn = routing.choose(cfg, {"severity": "warning", "alertname": "High-CPU"})
    assert routing.runbook_name(warn, {"alertname": "High-CPU"}, []) == "high-cpu"
    assert routing.runbook_name(warn, {"alertname": "<!channel>"}, []) is None
    assert routing.runbook_params(["service", "pod"], {"service": "x", "pod": "p", "job": "j"}, ["x"]) == {
        "service": "x",
        "pod": "p",
    }
    assert routing.runbook_params(["service"], {"service": "unknown"}, ["x"]) == {}


def test_payload_bounds() -> None:
    base = {"version": "4", "groupKey": "k", "status": "firing", "alerts": []}
    with pytest.raises(payload.PayloadError, match="alerts"):
        payload.parse("alertmanager", {**base, "alerts": [{"status": "firing"}] * 1001})
    with pytest.raises(payload.PayloadError, match="labels"):
        payload.parse(
            "alertmanager",
            {
                **base,
                "alerts": [
                    {
                        "status": "firing",
                        "startsAt": "2026-01-01T00:00:00Z",
                        "labels": {str(i): "x" for i in range(65)},
                    }
                ],
            },
        )
    with pytest.raises(payload.PayloadError, match="not a JSON object"):
        payload.parse("grafana", [1, 2])
