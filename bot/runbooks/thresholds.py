"""Thresholds over a step's result `values`: `warn: "> 80"`, `crit: ">= 95"`, `crit: "== false"`.

A threshold is an operator and an operand. Numbers compare numerically; `==` and `!=` also
compare words (`== down`) and booleans (`== false`). The operand may be a template
(`> {{warn_ms}}`) filled from the run's params. A check that does not hold says which value
crossed which line, so the progress message explains the verdict.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.runbooks.template import has_template
from handlers.results import Status, Value

if TYPE_CHECKING:
    from bot.runbooks.model import CheckRule

_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S(?:.*\S)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
OPERATORS = tuple(_OPS)


@dataclass(frozen=True)
class Threshold:
    op: str
    operand: float | str | bool

    def __str__(self) -> str:
        shown = self.operand
        if isinstance(shown, bool):
            shown = str(shown).lower()
        elif isinstance(shown, float) and shown.is_integer():
            shown = int(shown)
        return f"{self.op} {shown}"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_threshold(text: str) -> Threshold:
    """`"> 80"` → Threshold(">", 80.0). ValueError naming the problem otherwise."""
    m = _THRESHOLD.match(text)
    if not m:
        raise ValueError(
            f'threshold {text!r} needs an operator ({", ".join(OPERATORS)}) and a value, like "> 80"'
        )
    op, raw = m.group(1), m.group(2)
    num = _number(raw)
    if num is not None:
        return Threshold(op, num)
    if raw.lower() in ("true", "false"):
        if op not in ("==", "!="):
            raise ValueError(f"threshold {text!r}: true/false only compare with == or !=")
        return Threshold(op, raw.lower() == "true")
    if op not in ("==", "!="):
        raise ValueError(f"threshold {text!r}: {raw!r} is not a number ({op} compares numbers)")
    return Threshold(op, raw)


def check_threshold(text: str) -> str:
    """Model-level check: the syntax is right (a templated operand is checked after filling)."""
    m = _THRESHOLD.match(text)
    if m and has_template(m.group(2)):
        return text
    parse_threshold(text)
    return text


def crosses(value: Value, threshold: Threshold) -> bool | None:
    """Whether `value` meets the threshold; None when they cannot be compared."""
    op, operand = threshold.op, threshold.operand
    if value is None:
        return None
    if isinstance(operand, bool):
        if isinstance(value, bool):
            return (value == operand) if op == "==" else (value != operand)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return (
                ((value.lower() == "true") == operand)
                if op == "=="
                else ((value.lower() == "true") != operand)
            )
        return None
    if isinstance(operand, float):
        if isinstance(value, bool):
            return None
        num = float(value) if isinstance(value, int | float) else _number(str(value))
        return None if num is None else _OPS[op](num, operand)
    equal = str(value).strip().lower() == operand.strip().lower()
    return equal if op == "==" else not equal


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
