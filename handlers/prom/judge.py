"""Thresholds on metric values (`> 5%`, `< 95%`, `> 2s`, `> 100`) and how values are shown.

A threshold is an operator and a value with an optional unit: `%` divides by 100 (a metric
that is a ratio), `ms`/`s`/`m` are seconds, `kB`/`MB`/`GB` are bytes (powers of 1024). The
operator gives the direction, so `crit: "< 95%"` judges availability as `crit: "> 5%"` judges
an error rate. The seeds' thresholds are the defaults for the usual metric names.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from handlers.figures import Line, Unit
from handlers.humanize import size
from handlers.results import Status

_THRESHOLD = re.compile(
    r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(%|ms|s|m|h|B|kB|KB|MB|GB|TB)?\s*$"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SCALE = {
    "%": 0.01,
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "B": 1.0,
    "kB": 1024.0,
    "KB": 1024.0,
    "MB": 1024.0**2,
    "GB": 1024.0**3,
    "TB": 1024.0**4,
}
_UNIT_OF_SUFFIX: dict[str, Unit] = {
    "%": "ratio",
    "ms": "seconds",
    "s": "seconds",
    "m": "seconds",
    "h": "seconds",
    "B": "bytes",
    "kB": "bytes",
    "KB": "bytes",
    "MB": "bytes",
    "GB": "bytes",
    "TB": "bytes",
}


@dataclass(frozen=True)
class Threshold:
    op: str
    value: float  # in the metric's own unit (a ratio for %, seconds, bytes)
    text: str  # as written: "> 5%"
    unit: Unit = ""

    def crossed(self, value: float) -> bool:
        return not math.isnan(value) and _OPS[self.op](value, self.value)


def parse(text: str) -> Threshold:
    """`"> 5%"` → Threshold(">", 0.05). ValueError naming the problem otherwise."""
    # Typed in Slack, `>` arrives as `&gt;`.
    m = _THRESHOLD.match(text.replace("&gt;", ">").replace("&lt;", "<"))
    if not m:
        raise ValueError(
            f"threshold {text!r} needs an operator (>, >=, <, <=) and a number with an optional unit "
            '(%, ms, s, MB, GB), like "> 5%" or "> 2s"'
        )
    op, num, suffix = m.group(1), float(m.group(2)), m.group(3)
    unit: Unit = _UNIT_OF_SUFFIX[suffix] if suffix else ""
    return Threshold(op, num * _SCALE.get(suffix or "", 1.0), f"{op} {m.group(2)}{suffix or ''}", unit)


@dataclass(frozen=True)
class Limits:
    warn: Threshold | None = None
    crit: Threshold | None = None

    def judge(self, value: float) -> Status:
        if self.crit is not None and self.crit.crossed(value):
            return Status.CRIT
        if self.warn is not None and self.warn.crossed(value):
            return Status.WARN
        return Status.OK

    def worse(self, a: float, b: float) -> bool:
        """Whether `a` is further over the line than `b` (by the thresholds' direction)."""
        low = any(t is not None and t.op.startswith("<") for t in (self.crit, self.warn))
        if math.isnan(b):
            return not math.isnan(a)
        if math.isnan(a):
            return False
        return a < b if low else a > b

    def describe(self) -> str:
        parts = [f"{name} {t.text}" for name, t in (("warn", self.warn), ("crit", self.crit)) if t]
        return " / ".join(parts) or "no thresholds"

    def lines(self) -> list[Line]:
        out = []
        if self.warn is not None:
            out.append(Line(self.warn.value, f"warn {self.warn.text}", Status.WARN))
        if self.crit is not None:
            out.append(Line(self.crit.value, f"crit {self.crit.text}", Status.CRIT))
        return out

    @property
    def unit(self) -> Unit:
        return next((t.unit for t in (self.crit, self.warn) if t is not None and t.unit), "")


def limits(warn: str | None, crit: str | None) -> Limits:
    return Limits(parse(warn) if warn else None, parse(crit) if crit else None)


# The seeds' thresholds for the usual metric names: 003 "Alert Thresholds" (error rate > 2%
# warning, > 5% critical; p95 > 2 s; availability < 95%; database connections and Redis memory
# > 80%; queue size > 100), 000 (response time > 5 s critical, resources > 80%) and 004's
# table (CPU 85%, memory 90%, connections 95% critical).
DEFAULTS: dict[str, tuple[str | None, str | None]] = {
    "error_rate": ("> 2%", "> 5%"),
    "latency_p95": ("> 2s", "> 5s"),
    "latency_p99": ("> 2s", "> 5s"),
    "response_time": ("> 2s", "> 5s"),
    "availability": ("< 99%", "< 95%"),
    "cpu": ("> 80%", "> 85%"),
    "memory": ("> 80%", "> 90%"),
    "db_connections": ("> 80%", "> 95%"),
    "redis_memory": ("> 80%", "> 90%"),
    "queue_size": ("> 100", None),
}


def default_limits(metric: str) -> Limits:
    warn, crit = DEFAULTS.get(metric, (None, None))
    return limits(warn, crit)


def guess_unit(metric: str) -> Unit:
    """A metric's unit from its name: rates and usage are ratios, latencies seconds."""
    name = metric.lower()
    if name.endswith("_bytes") or name.endswith("bytes"):
        return "bytes"
    if "latency" in name or "duration" in name or "response_time" in name or name.endswith("_seconds"):
        return "seconds"
    if any(w in name for w in ("rate", "ratio", "availability", "cpu", "memory", "connections", "usage")):
        return "ratio" if not name.endswith("_total") else ""
    return ""


def show(value: float, unit: Unit) -> str:
    """A value in its unit: `6.1%`, `850 ms`, `2.3 s`, `1.2 GB`, `0.25`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit in ("ratio", "percent"):
        pct = value * 100 if unit == "ratio" else value
        return f"{pct:.3g}%" if abs(pct) < 10 else f"{pct:.1f}%"
    if unit == "seconds":
        if abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:.3g} s" if abs(value) < 100 else f"{value:,.0f} s"
    if unit == "bytes":
        return size(value)
    if unit == "cores":
        return f"{value:.3g} cores"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"
