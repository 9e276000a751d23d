"""Formatting as kubectl shows it: ages, CPU and memory quantities, label selectors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import V1LabelSelector


MI = 1024 * 1024


def now() -> datetime:
    return datetime.now(UTC)


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: 45s, 5m30s, 95m, 5h30m, 30h, 3d5h, 12d, 3y45d."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8 and days % 365:
        return f"{years}y{days % 365}d"
    return f"{years}y"


def age(ts: datetime | None, at: datetime | None = None) -> str:
    """The age column: `<unknown>` when the API gave no time."""
    if ts is None:
        return "<unknown>"
    return human_duration(((at or now()) - _aware(ts)).total_seconds())


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity (`250m`, `512Mi`, `1.5`) as a number; None when unreadable."""
    from kubernetes.utils import parse_quantity as _parse_quantity

    if value is None:
        return None
    try:
        parsed = _parse_quantity(value)
    except (ValueError, InvalidOperation, TypeError):
        return None
    return Decimal(parsed)


def cpu_millis(value: object) -> float | None:
    q = quantity(value)
    return None if q is None else float(q * 1000)


def mem_bytes(value: object) -> float | None:
    q = quantity(value)
    return None if q is None else float(q)


def fmt_cpu(millis: float) -> str:
    return f"{round(millis)}m"


def fmt_mem(n: float) -> str:
    """Bytes as kubectl top shows them (Mi), or Gi past 10 Gi."""
    if n >= 10 * 1024 * MI:
        return f"{n / (1024 * MI):.1f}Gi"
    return f"{round(n / MI)}Mi"


def pct(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


def fmt_pct(value: float | None) -> str:
    """Whole percent, truncated as kubectl top prints it."""
    return "-" if value is None else f"{int(value)}%"


def selector_string(selector: V1LabelSelector | None) -> str:
    """A LabelSelector as the string form the list calls take."""
    if selector is None:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for expr in selector.match_expressions or []:
        values = ",".join(expr.values or [])
        op = expr.operator
        if op == "In":
            terms.append(f"{expr.key} in ({values})")
        elif op == "NotIn":
            terms.append(f"{expr.key} notin ({values})")
        elif op == "Exists":
            terms.append(expr.key)
        elif op == "DoesNotExist":
            terms.append(f"!{expr.key}")
    return ",".join(terms)


def labels_string(labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def cut(text: str, limit: int = 120) -> str:
    """One line, at most `limit` characters (event messages, conditions)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
