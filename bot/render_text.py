"""Plain-text rendering of results: for uploaded files, the console fallback and logs."""

from __future__ import annotations

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


def to_text(result: Result) -> str:
    head = [result.title] if result.title else []
    if isinstance(result, Text):
        body = [result.text]
    elif isinstance(result, KeyValues):
        width = max((len(k) for k, _ in result.items), default=0)
        body = [f"{k.ljust(width)}  {v}" for k, v in result.items]
    elif isinstance(result, Table):
        body = ([result.summary] if result.summary else []) + table_lines(
            list(result.columns), [list(r) for r in result.rows]
        )
    elif isinstance(result, Logs):
        body = ([result.note] if result.note else []) + list(result.lines)
    elif isinstance(result, Check):
        body = [f"[{STATUS_WORD[result.status.value]}] {result.detail}"]
    else:
        assert isinstance(result, Group)
        body = [to_text(p) for p in result.parts]
        return "\n\n".join(head + body)
    return "\n".join(head + body)
