"""Thresholds over a step's result `values`: `warn: "> 80"`, `crit: ">= 95"`, `crit: "== false"`.

A threshold is an operator and an operand. Numbers compare numerically; `==` and `!=` also
compare words (`== down`) and booleans (`== false`). The operand may be a template
(`> {{warn_ms}}`) filled from the run's params. A check that does not hold says which value
crossed which line, so the progress message explains the verdict.

This module is the syntax and the comparison (the model validates with it); `judge` applies a
step's check rules with it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.runbooks.template import has_template
from handlers.results import Value

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
