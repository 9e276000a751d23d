"""Results as plain text: for uploaded files, the console fallback, logs and the audit."""

from __future__ import annotations

from functools import singledispatch

from bot.render import require_every_result
from handlers.results import Check, Group, KeyValues, Logs, Result, Table, Text

STATUS_WORD = {"ok": "OK", "warn": "WARN", "crit": "CRIT"}


def table_lines(columns: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, as kubectl prints them."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*columns).rstrip()]
    for row in rows:
        cells = [*row[: len(widths)], *[""] * (len(widths) - len(row))]
        out.append(fmt.format(*cells).rstrip())
    return out


@singledispatch
def to_text(result: Result) -> str:
    """The result under its title; a group's parts separated by blank lines."""
    raise TypeError(f"no plain-text rendering for {type(result).__name__}")


def _titled(result: Result, body: list[str], sep: str = "\n") -> str:
    return sep.join(([result.title] if result.title else []) + body)


@to_text.register
def _(result: Text) -> str:
    return _titled(result, [result.text])


@to_text.register
def _(result: KeyValues) -> str:
    width = max((len(k) for k, _ in result.items), default=0)
    return _titled(result, [f"{k.ljust(width)}  {v}" for k, v in result.items])


@to_text.register
def _(result: Table) -> str:
    summary = [result.summary] if result.summary else []
    return _titled(result, summary + table_lines(list(result.columns), [list(r) for r in result.rows]))


@to_text.register
def _(result: Logs) -> str:
    return _titled(result, ([result.note] if result.note else []) + list(result.lines))


@to_text.register
def _(result: Check) -> str:
    return _titled(result, [f"[{STATUS_WORD[result.status.value]}] {result.detail}"])


@to_text.register
def _(result: Group) -> str:
    return _titled(result, [to_text(p) for p in result.parts], sep="\n\n")


require_every_result(to_text.registry, "plain-text")
