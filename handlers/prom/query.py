"""`/prom query EXPR` and `/prom graph EXPR [--since 1h] [--step 30s]`."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import httpx
from pydantic import model_validator

from handlers import Client, Context, handler
from handlers.figures import Line, LineChart, Series, Unit
from handlers.params import Duration, arg
from handlers.prom import api
from handlers.prom.common import (
    ExprParams,
    UnitChoice,
    guess_expr_unit,
    instant_vector,
    matrix,
    pick_unit,
    stats,
)
from handlers.prom.judge import show
from handlers.results import Group, Result, Table, Text

MAX_DRAWN = 10  # series drawn in a chart; the rest are named in the table
POINTS = 240  # points per series when no step is given (one every 15 s over an hour)
MAX_SINCE = timedelta(days=31)


class Query(ExprParams):
    unit: UnitChoice = arg(
        "auto", flags=("--unit",), help="how to show values: auto, ratio (as %), seconds, bytes, none"
    )


class Graph(ExprParams):
    since: Duration = arg(timedelta(hours=1), flags=("--since",), help="how far back (1h; at most 31d)")
    step: Duration | None = arg(
        None, flags=("--step",), help="seconds between points (auto; raised to ≤ 11,000 points)"
    )
    unit: UnitChoice = arg(
        "auto", flags=("--unit",), help="axis unit: auto, ratio (as %), seconds, bytes, none"
    )

    @model_validator(mode="after")
    def _window(self) -> Graph:
        if not timedelta(minutes=1) <= self.since <= MAX_SINCE:
            raise ValueError("--since must be between 1m and 31d")
        if self.step is not None and self.step < timedelta(seconds=1):
            raise ValueError("--step must be at least 1s")
        return self


def choose_step(since: float, step: float | None) -> tuple[float, bool]:
    """The step: the one asked for, or about POINTS points; raised so at most 11,000 points.
    Returns (step, raised)."""
    wanted = step if step is not None else max(1.0, math.ceil(since / POINTS))
    least = math.ceil(since / (api.MAX_POINTS - 1))
    return (float(least), step is not None) if wanted < least else (float(wanted), False)


def instant(ctx: Context[httpx.Client], expr: str) -> list[tuple[str, float]]:
    return instant_vector(api.get(ctx, "query", {"query": expr, "timeout": f"{ctx.timeout:g}s"}))


def query_range(
    ctx: Context[httpx.Client], expr: str, start: float, end: float, step: float
) -> list[tuple[str, list[tuple[float, float]]]]:
    params = {
        "query": expr,
        "start": f"{start:.3f}",
        "end": f"{end:.3f}",
        "step": f"{step:g}",
        "timeout": f"{ctx.timeout:g}s",
    }
    return matrix(api.get(ctx, "query_range", params))


@handler("prom.query", Query, client=Client.PROMETHEUS)
def query(ctx: Context[httpx.Client], params: Query) -> Result:
    """An instant query: the series with their values (highest first), or the scalar.

    `/prom query sum by (code) (rate(http_requests_total[5m]))`. Thousands of series: the
    first rows here, the whole list as a file.
    """
    expr = params.query
    rows = instant(ctx, expr)
    unit = pick_unit(params.unit, guess_expr_unit(expr))
    title = f"{expr}"[:150]
    if not rows:
        return Text(
            title=title, text="No series: the query matched nothing at this moment.", values={"series": 0}
        )
    rows.sort(key=lambda r: (math.isnan(r[1]), -r[1] if not math.isnan(r[1]) else 0, r[0]))
    if len(rows) == 1 and rows[0][0] in ("scalar", "string"):
        return Text(title=title, text=f"{rows[0][0]}: {show(rows[0][1], unit)}", values={"value": rows[0][1]})
    values: dict[str, Any] = {"series": len(rows), "max": rows[0][1]}
    if len(rows) == 1:
        values["value"] = rows[0][1]
    summary = f"{len(rows):,} series" + (" (highest first)" if len(rows) > 1 else "")
    return Table(
        title=title,
        columns=["series", "value"],
        rows=[[name or "{}", show(v, unit)] for name, v in rows],
        summary=summary,
        values=values,
    )


@handler("prom.graph", Graph, client=Client.PROMETHEUS)
def graph(ctx: Context[httpx.Client], params: Graph) -> Result:
    """A line chart of a range query (a PNG), each series with its min / max / last.

    `/prom graph rate(http_requests_total[5m]) --since 6h`. At most 10 series are drawn (the
    highest); the rest are named below the chart. The step is raised when the window would
    need more than Prometheus's 11,000 points.
    """
    expr = params.query
    since = params.since.total_seconds()
    step, raised = choose_step(since, params.step.total_seconds() if params.step else None)
    end = time.time()
    found = query_range(ctx, expr, end - since, end, step)
    unit = pick_unit(params.unit, guess_expr_unit(expr))
    return line_chart(expr, found, unit, since=params.since, step=step, raised=raised)


def line_chart(
    title: str,
    found: list[tuple[str, list[tuple[float, float]]]],
    unit: Unit,
    *,
    since: timedelta,
    step: float,
    raised: bool = False,
    thresholds: tuple[Line, ...] = (),
    small: bool = False,
    lead: tuple[Result, ...] = (),
) -> Result:
    """Series → a LineChart of the MAX_DRAWN highest, with a table of every series."""
    window = f"last {_span(since)}, a point every {step:g} s"
    if not found:
        text = f"No data over the {window}: the query matched no series."
        return Group(title=title[:150], parts=[*lead, Text(text=text)], values={"series": 0})
    ranked = sorted(found, key=lambda s: (-_max(s[1]), s[0]))
    drawn = ranked[:MAX_DRAWN]
    rows = []
    for i, (name, points) in enumerate(ranked):
        lo, hi, last = stats(points)
        rows.append(
            [name or "{}", show(lo, unit), show(hi, unit), show(last, unit), "yes" if i < MAX_DRAWN else "no"]
        )
    note = f"{len(found):,} series over the {window}"
    if raised:
        note += f" (step raised to {step:g} s: Prometheus allows at most {api.MAX_POINTS:,} points)"
    if len(found) > MAX_DRAWN:
        note += f"; the {MAX_DRAWN} highest drawn, {len(found) - MAX_DRAWN:,} more named in the table"
    table = Table(columns=["series", "min", "max", "last", "drawn"], rows=rows, summary=note)
    return LineChart(
        title=title[:150],
        parts=[*lead, table],
        series=[Series(name or "{}", points) for name, points in drawn],
        unit=unit,
        thresholds=thresholds,
        small=small,
        values={"series": len(found), "step": step},
    )


def _max(points: list[tuple[float, float]]) -> float:
    hi = stats(points)[1]
    return -math.inf if math.isnan(hi) else hi


def _span(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
