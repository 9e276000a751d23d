"""Thresholds with units, PromQL words, the step rule and the `prometheus:` config (no I/O)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands.parse import split_verbatim
from bot.config import ConfigError, parse_config
from bot.prometheus import service_metrics
from handlers.prom.api import MAX_POINTS
from handlers.prom.judge import default_limits, limits, parse, show
from handlers.prom.metric import verdict
from handlers.prom.query import choose_step
from handlers.results import Status


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("> 5%", ">", 0.05),
        ("<95%", "<", 0.95),
        (">= 500ms", ">=", 0.5),
        ("> 2s", ">", 2.0),
        ("> 512MB", ">", 512 * 2**20),
        ("> 100", ">", 100.0),
    ],
)
def test_thresholds_read_their_unit(text: str, op: str, value: float) -> None:
    t = parse(text)
    assert t.op == op
    assert math.isclose(t.value, value)


@pytest.mark.parametrize("bad", ["5%", "> five", "== 3", "> 5 parsecs", ""])
def test_bad_thresholds_say_how_to_write_one(bad: str) -> None:
    with pytest.raises(ValueError, match="needs an operator"):
        parse(bad)


def test_either_direction_and_crit_wins() -> None:
    errors = limits("> 2%", "> 5%")
    assert [errors.judge(v) for v in (0.01, 0.03, 0.06)] == [Status.OK, Status.WARN, Status.CRIT]
    availability = limits("< 99%", "< 95%")
    assert [availability.judge(v) for v in (0.999, 0.97, 0.90)] == [Status.OK, Status.WARN, Status.CRIT]
    assert availability.judge(math.nan) is Status.OK  # NaN is handled by verdict(), as no data


def test_verdict_judges_the_worst_series_and_no_data_is_a_warning() -> None:
    lim = limits("< 99%", "< 95%")
    status, value, series, line = verdict(
        "availability", [("a", 0.99), ("b", 0.9), ("c", 0.97)], lim, "ratio"
    )
    assert (status, value, series) == (Status.CRIT, 0.9, "b")
    assert line == "availability = 90.0% (crit < 95%)"
    status, _, _, line = verdict("error_rate", [], default_limits("error_rate"), "ratio")
    assert status is Status.WARN
    assert "no data" in line
    assert "warn > 2% / crit > 5%" in line


def test_values_show_in_their_unit() -> None:
    assert show(0.06, "ratio") == "6%"
    assert show(0.25, "seconds") == "250 ms"
    assert show(2.5, "seconds") == "2.5 s"
    assert show(3 * 2**30, "bytes") == "3.0 GB"
    assert show(12345.0, "") == "12,345"
    assert show(math.nan, "ratio") == "NaN"


def test_promql_words_keep_quotes_and_brackets() -> None:
    words = split_verbatim('graph sum by (le) (rate(x{a="b c", d=~"5.."}[5m])) --since 1h')
    assert words == ["graph", "sum", "by", "(le)", '(rate(x{a="b c", d=~"5.."}[5m]))', "--since", "1h"]
    assert split_verbatim("query up &lt; 1 &amp;&amp; x &gt; 0") == [
        "query",
        "up",
        "<",
        "1",
        "&&",
        "x",
        ">",
        "0",
    ]
    assert split_verbatim("query up{job=“api”}") == ["query", 'up{job="api"}']


@given(st.integers(min_value=60, max_value=31 * 86400), st.one_of(st.none(), st.integers(1, 3600)))
def test_the_step_never_asks_for_more_than_11000_points(since: int, step: int | None) -> None:
    chosen, raised = choose_step(float(since), None if step is None else float(step))
    assert since / chosen + 1 <= MAX_POINTS
    assert raised == (step is not None and chosen > step)
    if step is not None and not raised:
        assert chosen == step


def test_config_fills_placeholders_and_refuses_unknown_ones() -> None:
    cfg = parse_config(
        """
prometheus:
  main: {url: "http://prometheus:9090/", default: true, timeout: 5s, headers: {Authorization: "Bearer x"}}
services:
  backend:
    namespace: prod
    metrics: {error_rate: 'rate(x{ns="{{namespace}}",svc="{{ service }}",d="{{deployment}}"}[5m])'}
"""
    )
    assert cfg.prometheus["main"].url == "http://prometheus:9090"
    assert cfg.default_target("prometheus") == "main"
    assert (
        service_metrics(cfg.services)["backend"]["error_rate"]
        == 'rate(x{ns="prod",svc="backend",d="backend"}[5m])'
    )
    with pytest.raises(
        ConfigError, match=r"services\.backend\.metrics: metrics\.x: unknown placeholder \{\{pod\}\}"
    ):
        parse_config("services: {backend: {metrics: {x: 'up{pod=\"{{pod}}\"}'}}}")
    with pytest.raises(ConfigError, match=r"prometheus\.main\.url: .*not an http\(s\) URL"):
        parse_config("prometheus: {main: {url: prometheus:9090}}")
    with pytest.raises(ConfigError, match=r"prometheus\.main\.token: unknown key"):
        parse_config("prometheus: {main: {url: 'http://p:9090', token: x}}")


def test_a_runbook_step_gives_promql_as_one_string() -> None:
    from handlers.prom.query import Graph, Query

    assert Query.model_validate({"expr": 'sum(up{job="x"})'}).query == 'sum(up{job="x"})'
    assert Graph.model_validate({"expr": ["rate(x[5m])", ">", "0"], "since": "2h"}).query == "rate(x[5m]) > 0"
    with pytest.raises(ValueError, match="at most 4,000"):
        Query.model_validate({"expr": "x" * 4001})
    with pytest.raises(ValueError, match="--since must be between 1m and 31d"):
        Graph.model_validate({"expr": "up", "since": "40d"})
