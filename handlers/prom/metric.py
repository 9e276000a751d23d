"""A service's named metrics (`services.X.metrics` in chatops.yaml) judged against thresholds.

`/prom backend error_rate` answers with the value, its verdict and a small chart of the last
hour; `prom.check` is the same judgement for runbook steps (by a service's named metric or by
an expression), and never fails a runbook for a metric nobody configured: it says which key
to add.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from pydantic import field_validator, model_validator

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest
from handlers.figures import Unit
from handlers.params import arg
from handlers.prom.common import MAX_EXPR, PromParams, UnitChoice, guess_expr_unit, pick_unit
from handlers.prom.judge import Limits, default_limits, guess_unit, limits, parse, show
from handlers.prom.query import choose_step, instant, line_chart, query_range
from handlers.results import Check, Result, Status, Table

HOUR = timedelta(hours=1)


def _threshold(v: str | None) -> str | None:
    if v is not None:
        parse(v)
    return v


class Judged(PromParams):
    warn: str | None = arg(
        None, flags=("--warn",), help='warning threshold, like "> 2%" (default: the seeds\')'
    )
    crit: str | None = arg(None, flags=("--crit",), help='critical threshold, like "> 5%" or "< 95%"')
    unit: UnitChoice = arg(
        "auto", flags=("--unit",), help="auto (from the name), ratio (as %), seconds, bytes, none"
    )

    _check = field_validator("warn", "crit")(_threshold)


class ServiceMetric(Judged):
    service: str = arg(..., positional=True, help="a configured service")
    metric: str = arg(..., positional=True, help="one of its `metrics:` (error_rate, latency_p95)")


class CheckParams(Judged):
    service: str | None = arg(None, flags=("-s", "--service"), help="a configured service")
    metric: str | None = arg(None, flags=("--metric",), help="the service's named metric")
    expr: str | None = arg(None, flags=("--expr",), help="PromQL instead of a named metric")
    label: str | None = arg(None, flags=("--label",), help="what to call the value (default: the metric)")

    @model_validator(mode="after")
    def _one(self) -> CheckParams:
        if (self.expr is None) == (self.metric is None):
            raise ValueError("give either metric (with service) or expr")
        if self.metric is not None and self.service is None:
            raise ValueError("a named metric needs its service")
        if self.expr is not None and len(self.expr) > MAX_EXPR:
            raise ValueError(f"expr: at most {MAX_EXPR:,} characters")
        return self


class Missing(InvalidRequest):
    """The service has no such named metric configured."""


def named(options: Mapping[str, Any], service: str, metric: str) -> str:
    """The service's PromQL for `metric`, or Missing naming the key to add."""
    table: Mapping[str, Mapping[str, str]] = options.get("metrics", {})
    have = table.get(service, {})
    if metric in have:
        return have[metric]
    known = ", ".join(sorted(have)) or "none"
    raise Missing(
        f"services.{service}.metrics has no `{metric}` (it has: {known}); add "
        f"`services.{service}.metrics.{metric}` (its PromQL) to chatops.yaml"
    )


def _limits(params: Judged, metric: str) -> Limits:
    if params.warn is None and params.crit is None:
        return default_limits(metric)
    return limits(params.warn, params.crit)


def _unit(params: Judged, metric: str, expr: str, lim: Limits) -> Unit:
    guessed = guess_unit(metric) if metric else ""
    return pick_unit(params.unit, guessed or lim.unit or guess_expr_unit(expr))


def verdict(
    name: str, rows: list[tuple[str, float]], lim: Limits, unit: Unit
) -> tuple[Status, float, str, str]:
    """(status, the value judged, the series it came from, the line that says why).

    With several series the one furthest over the line is judged; no data is a warning
    (nothing could be judged), never an ok."""
    finite = [(s, v) for s, v in rows if not math.isnan(v)]
    if not finite:
        why = (
            "no data (the query returned no series)"
            if not rows
            else "no data (the value is NaN: no traffic?)"
        )
        return Status.WARN, math.nan, "", f"{name}: {why}; judged against {lim.describe()}"
    series, value = finite[0]
    for s, v in finite[1:]:
        if lim.worse(v, value):
            series, value = s, v
    status = lim.judge(value)
    crossed = lim.crit if status is Status.CRIT else lim.warn if status is Status.WARN else None
    against = f"{status.value} {crossed.text}" if crossed else f"ok; {lim.describe()}"
    return status, value, series, f"{name} = {show(value, unit)} ({against})"


@handler("prom.metric", ServiceMetric, client=Client.PROMETHEUS, default=True)
def metric(ctx: Context[httpx.Client], params: ServiceMetric) -> Result:
    """A service's named metric: its value, the verdict against the thresholds, the last hour.

    `/prom backend error_rate`. The thresholds are the seeds' for the usual names (error_rate
    warn > 2% crit > 5%, latency_p95 > 2s / > 5s, cpu and memory > 80%), or --warn/--crit.
    """
    expr = named(ctx.options, params.service, params.metric)
    lim = _limits(params, params.metric)
    unit = _unit(params, params.metric, expr, lim)
    rows = instant(ctx, expr)
    status, value, series, line = verdict(params.metric, rows, lim, unit)
    values: dict[str, Any] = {"value": None if math.isnan(value) else value, "judged": line}
    check = Check(title=f"{params.service} {params.metric}", status=status, detail=line, values=values)
    lead: tuple[Result, ...] = (check,)
    if len(rows) > 1:
        lead += (
            Table(
                columns=["series", "value"],
                rows=[[s or "{}", show(v, unit)] for s, v in rows[:50]],
                summary=f"{len(rows)} series; judged: {series or '-'}",
            ),
        )
    step, _ = choose_step(HOUR.total_seconds(), None)
    end = time.time()
    found = query_range(ctx, expr, end - HOUR.total_seconds(), end, step)
    return line_chart(
        f"{params.service} {params.metric}",
        found,
        unit,
        since=HOUR,
        step=step,
        thresholds=tuple(lim.lines()),
        small=True,
        lead=lead,
    )


@handler("prom.check", CheckParams, client=Client.PROMETHEUS)
def check(ctx: Context[httpx.Client], params: CheckParams) -> Result:
    """Judge a metric against warn / crit thresholds (for runbook steps); read-only.

    By a service's named metric (`service=backend metric=error_rate crit="> 5%"`) or by
    PromQL (`expr=... crit="< 95%"`). A service without that metric configured is a warning
    that names the key to add; the rest of the runbook runs on.
    """
    name = params.label or params.metric or "value"
    if params.metric is not None:
        assert params.service is not None
        try:
            expr = named(ctx.options, params.service, params.metric)
        except Missing as exc:
            line = f"{name}: not checked: {exc}"
            return Check(
                title=name, status=Status.WARN, detail=line, values={"judged": line, "configured": False}
            )
    else:
        assert params.expr is not None
        expr = params.expr
    lim = _limits(params, params.metric or "")
    unit = _unit(params, params.metric or "", expr, lim)
    rows = instant(ctx, expr)
    status, value, series, line = verdict(name, rows, lim, unit)
    if series and len(rows) > 1:
        line += f" — {series}"
    values: dict[str, Any] = {
        "value": None if math.isnan(value) else value,
        "judged": line,
        "thresholds": lim.describe(),
        "series": len(rows),
    }
    return Check(title=name, status=status, detail=line, values=values)
