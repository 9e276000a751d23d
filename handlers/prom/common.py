"""What the /prom handlers share: the target field, the PromQL words, series names and samples."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from handlers.figures import Unit
from handlers.params import Params, arg
from handlers.prom.api import number

MAX_EXPR = 4000  # characters of PromQL

UnitChoice = Literal["auto", "none", "ratio", "percent", "seconds", "bytes", "cores"]


class PromParams(Params):
    prometheus: str | None = arg(
        None, flags=("-p", "--prometheus"), help="a Prometheus under `prometheus:` (default: the default one)"
    )


class ExprParams(PromParams):
    # The router keeps PromQL's quotes and brackets (shlex would strip `job="api"` to `job=api`).
    VERBATIM: ClassVar[bool] = True

    expr: list[str] = arg(..., positional=True, help="PromQL, as typed")

    @field_validator("expr", mode="before")
    @classmethod
    def _one_string(cls, v: object) -> object:
        # A runbook step writes `expr: "sum(...)"`; the command line gives words.
        return [v] if isinstance(v, str) else v

    @field_validator("expr")
    @classmethod
    def _bounded(cls, v: list[str]) -> list[str]:
        text = " ".join(v).strip()
        if not text:
            raise ValueError("give a PromQL expression")
        if len(text) > MAX_EXPR:
            raise ValueError(f"the expression is {len(text):,} characters; at most {MAX_EXPR:,}")
        return v

    @property
    def query(self) -> str:
        return " ".join(self.expr).strip()


def series_name(metric: Mapping[str, str]) -> str:
    """`http_requests_total{code="500", service="backend"}` as Prometheus writes it."""
    name = metric.get("__name__", "")
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels or not name else name


def instant_vector(data: Any) -> list[tuple[str, float]]:
    """An instant query's answer as (series, value); a scalar is one unnamed row."""
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind in ("scalar", "string") and isinstance(result, list) and len(result) == 2:
        return [("scalar" if kind == "scalar" else "string", number(result[1]))]
    out: list[tuple[str, float]] = []
    for item in result or []:
        metric = item.get("metric", {})
        if "value" in item:
            out.append((series_name(metric), number(item["value"][1])))
        elif item.get("values"):
            out.append((series_name(metric), number(item["values"][-1][1])))
    return out


def matrix(data: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    """A range query's answer as (series, [(t, v), ...])."""
    out = []
    for item in (data.get("result") if isinstance(data, dict) else None) or []:
        points = [(float(t), number(v)) for t, v in item.get("values", [])]
        out.append((series_name(item.get("metric", {})), points))
    return out


def stats(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(min, max, last) over the finite values; NaN when there are none."""
    vals = [v for _, v in points if not math.isnan(v)]
    if not vals:
        return math.nan, math.nan, math.nan
    return min(vals), max(vals), vals[-1]


def pick_unit(choice: UnitChoice, guessed: Unit) -> Unit:
    if choice == "auto":
        return guessed
    return "" if choice == "none" else choice


def guess_expr_unit(expr: str) -> Unit:
    text = expr.lower()
    if "_bytes" in text:
        return "bytes"
    if "_seconds" in text or "latency" in text:
        return "seconds"
    return ""
