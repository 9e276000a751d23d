"""Results and Slack mrkdwn as rich renderables, for the terminal console.

Cells and log lines are `Text` objects, never markup strings: a pod name or a log line with
`[brackets]` is shown as typed, not interpreted by rich.
"""

from __future__ import annotations

import html
import re
from functools import singledispatch

from rich import box
from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.emoji import Emoji
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from bot.render import require_every_result
from handlers.redact import scrub
from handlers.results import Check, Group, KeyValues, Logs, Result, Status, Table
from handlers.results import Text as TextResult

STATUS_STYLE = {Status.OK: "bold green", Status.WARN: "bold yellow", Status.CRIT: "bold red"}
STATUS_MARK = {Status.OK: "✔ OK", Status.WARN: "▲ WARN", Status.CRIT: "✖ CRIT"}

# <@U123>, <@U123|name>, <#C123|name>, <!here>, <https://x|label>, <https://x>
_ANGLE = re.compile(r"<([@#!]?)([^<>|]+)(?:\|([^<>]*))?>")
_CODE = re.compile(r"(```[\s\S]*?```|`[^`\n]+`)")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+?)\*(?![\w*])")


def _angle(m: re.Match[str]) -> str:
    sigil, target, label = m.group(1), m.group(2), m.group(3)
    if sigil == "@":
        return f"@{label or target}"
    if sigil == "#":
        return f"#{label or target}"
    if sigil == "!":
        return f"@{(label or target).split('^')[0]}"
    return f"{label} ({target})" if label and label != target else target


def mrkdwn(text: str) -> Text:
    """Slack mrkdwn → styled terminal text: *bold*, `code`, ```blocks```, links, mentions, :emoji:."""
    out = Text()
    for i, part in enumerate(_CODE.split(text)):
        if not part:
            continue
        if i % 2:  # a code span or block: shown verbatim
            inner = part[3:-3].strip("\n") if part.startswith("```") else part[1:-1]
            out.append(html.unescape(inner), style="cyan")
            continue
        plain = Emoji.replace(html.unescape(_ANGLE.sub(_angle, part)))
        pos = 0
        for m in _BOLD.finditer(plain):
            out.append(plain[pos : m.start()])
            out.append(m.group(1), style="bold")
            pos = m.end()
        out.append(plain[pos:])
    return out


def _plain(value: object) -> Text:
    return Text(str(value))


def result_renderable(result: Result, *, heading: str = "") -> RenderableType:
    """A handler's typed result as something `Console.print` shows."""
    result = scrub(result)  # no secret on the terminal either
    title = Text(result.title, style="bold") if result.title else None
    body = _body(result)
    if title is None and heading:
        title = Text(heading, style="dim")
    return RichGroup(title, body) if title is not None else body


@singledispatch
def _body(result: Result) -> RenderableType:
    raise TypeError(f"no console rendering for {type(result).__name__}")


@_body.register
def _(result: TextResult) -> RenderableType:
    return mrkdwn(result.text)


@_body.register
def _(result: KeyValues) -> RenderableType:
    grid = RichTable.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in result.items:
        grid.add_row(_plain(key), _plain(value))
    return grid


@_body.register
def _(result: Table) -> RenderableType:
    table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in result.columns:
        table.add_column(_plain(column), overflow="fold")
    for row in result.rows:
        cells = [*row[: len(result.columns)], *[""] * (len(result.columns) - len(row))]
        table.add_row(*(_plain(c) for c in cells))
    parts: list[RenderableType] = [mrkdwn(result.summary)] if result.summary else []
    if result.rows:
        parts.append(table)
    elif not result.summary:  # a summary already says there is nothing
        parts.append(Text("(no rows)", style="dim"))
    return RichGroup(*parts)


@_body.register
def _(result: Logs) -> RenderableType:
    lines: list[RenderableType] = [Text(result.note, style="dim")] if result.note else []
    lines += [Text(line, no_wrap=False) for line in result.lines]
    if not result.lines:
        lines.append(Text("(no lines)", style="dim"))
    return RichGroup(*lines)


@_body.register
def _(result: Check) -> RenderableType:
    line = Text(STATUS_MARK[result.status], style=STATUS_STYLE[result.status])
    line.append("  ")
    line.append_text(mrkdwn(result.detail))
    return line


@_body.register
def _(result: Group) -> RenderableType:
    return RichGroup(*(Padding(result_renderable(p), (0, 0, 1, 0)) for p in result.parts))


require_every_result(_body.registry, "console")
