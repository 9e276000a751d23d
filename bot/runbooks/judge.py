"""A runbook step's check rules judged against its result's values (with `thresholds`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.runbooks.model import CheckRule
from bot.runbooks.thresholds import crosses, parse_threshold
from handlers.results import Status, Value


@dataclass(frozen=True)
class Finding:
    """One check's outcome on a step: its status and a line that says why."""

    rule: CheckRule
    status: Status | None  # None: the value was missing or not comparable
    text: str


def _fmt(value: Value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def evaluate(
    rule: CheckRule, values: Mapping[str, Value], fill: Callable[[str], str] | None = None
) -> Finding:
    """Judge one rule against a step's values; crit wins over warn."""
    name = rule.label or rule.value
    if rule.value not in values:
        known = ", ".join(sorted(values)) or "none"
        return Finding(rule, None, f"{name}: the result has no value {rule.value!r} (it has: {known})")
    value = values[rule.value]
    for status, raw in ((Status.CRIT, rule.crit), (Status.WARN, rule.warn)):
        if raw is None:
            continue
        threshold = parse_threshold(fill(raw) if fill else raw)
        hit = crosses(value, threshold)
        if hit is None:
            return Finding(rule, None, f"{name} = {_fmt(value)} cannot be compared with {threshold}")
        if hit:
            return Finding(rule, status, f"{name} = {_fmt(value)} ({status.value} {threshold})")
    limits = " / ".join(
        f"{s} {parse_threshold(fill(r) if fill else r)}"
        for s, r in (("warn", rule.warn), ("crit", rule.crit))
        if r
    )
    return Finding(rule, Status.OK, f"{name} = {_fmt(value)} (ok; {limits})")
