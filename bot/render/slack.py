"""Typed results → Block Kit, within Slack's limits; the small block helpers other messages use.

A text block holds at most 3,000 characters and a message at most 50 blocks. What does not
fit is cut with a note saying how much was left out, and `ResultBlocks.file` then holds the whole
output as plain text for `files_upload_v2`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render import require_every_result
from bot.render.text import table_lines, to_text
from handlers.redact import scrub
from handlers.results import Check, Group, KeyValues, Logs, Result, Status, Table, Text

TEXT_LIMIT = 3000
MAX_BLOCKS = 50
ICON = {Status.OK: ":large_green_circle:", Status.WARN: ":large_yellow_circle:", Status.CRIT: ":red_circle:"}


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped, also inside code blocks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:TEXT_LIMIT]))


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:TEXT_LIMIT])])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text[:150]))


@dataclass
class ResultBlocks:
    """A result as one Slack message: its blocks, fallback text, and the file for what was cut."""

    blocks: list[Block] = field(default_factory=list)
    text: str = ""  # notification / fallback text
    file: str | None = None  # the whole output when the blocks had to cut it
    omitted: int = 0  # lines or rows left out of the blocks

    def as_dicts(self) -> list[dict[str, Any]]:
        return [b.to_dict() for b in self.blocks]


@dataclass
class _Budget:
    blocks: int
    cut: int = 0


def _code_chunks(lines: list[str], budget: _Budget, *, tail: bool = False) -> list[Block]:
    """Lines in ``` blocks of ≤3,000 chars each; when out of blocks, keep the head (or the tail)."""
    room = TEXT_LIMIT - 8  # the fences and newlines
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    seq = list(reversed(lines)) if tail else lines
    for line in seq:
        line = escape(line)
        if len(line) > room:
            line = line[: room - 1] + "…"
        if size + len(line) + 1 > room and current:
            chunks.append(current)
            current, size = [], 0
            if len(chunks) >= budget.blocks:
                break
        current.append(line)
        size += len(line) + 1
    else:
        if current:
            chunks.append(current)
    chunks = chunks[: max(budget.blocks, 0)]
    kept = sum(len(c) for c in chunks)
    budget.cut += len(lines) - kept
    budget.blocks -= len(chunks)
    if tail:
        chunks = [list(reversed(c)) for c in reversed(chunks)]
    return [section("```\n" + "\n".join(c) + "\n```") for c in chunks]


def _text_chunks(text: str, budget: _Budget) -> list[Block]:
    out: list[Block] = []
    rest = text
    while rest and budget.blocks > 0:
        piece = rest[:TEXT_LIMIT]
        if len(rest) > TEXT_LIMIT:
            nl = piece.rfind("\n")
            piece = piece[: nl + 1] if nl > TEXT_LIMIT // 2 else piece
        out.append(section(piece))
        budget.blocks -= 1
        rest = rest[len(piece) :]
    if rest:
        budget.cut += rest.count("\n") + 1
    return out


def _blocks(result: Result, budget: _Budget) -> list[Block]:
    out: list[Block] = []
    if result.title and budget.blocks > 1 and not isinstance(result, Check):
        out.append(section(f"*{escape(result.title)}*"))
        budget.blocks -= 1
    return out + _body(result, budget)


@singledispatch
def _body(result: Result, budget: _Budget) -> list[Block]:
    raise TypeError(f"no Block Kit rendering for {type(result).__name__}")


@_body.register
def _(result: Text, budget: _Budget) -> list[Block]:
    # Handler text carries outside data (pod names, queries): escape it like everything else.
    return _text_chunks(escape(result.text), budget)


@_body.register
def _(result: KeyValues, budget: _Budget) -> list[Block]:
    return _text_chunks("\n".join(f"*{escape(k)}:* {escape(v)}" for k, v in result.items), budget)


@_body.register
def _(result: Table, budget: _Budget) -> list[Block]:
    out: list[Block] = []
    if result.summary and budget.blocks > 1:
        out.append(section(escape(result.summary)))
        budget.blocks -= 1
    if result.rows:
        out += _code_chunks(table_lines(list(result.columns), [list(r) for r in result.rows]), budget)
    elif budget.blocks > 0:
        out.append(context("_(none)_"))
        budget.blocks -= 1
    return out


@_body.register
def _(result: Logs, budget: _Budget) -> list[Block]:
    out: list[Block] = []
    if result.note and budget.blocks > 1:
        out.append(context(escape(result.note)))
        budget.blocks -= 1
    if result.lines:
        out += _code_chunks(list(result.lines), budget, tail=True)
    elif budget.blocks > 0:
        out.append(context("_(no log lines)_"))
        budget.blocks -= 1
    return out


@_body.register
def _(result: Check, budget: _Budget) -> list[Block]:
    title = f"*{escape(result.title)}* " if result.title else ""
    budget.blocks -= 1
    return [section(f"{ICON[result.status]} {title}{escape(result.detail)}")]


@_body.register
def _(result: Group, budget: _Budget) -> list[Block]:
    out: list[Block] = []
    for part in result.parts:
        if budget.blocks <= 1:
            budget.cut += 1
            continue
        out += _blocks(part, budget)
    return out


require_every_result(_body.registry, "Slack")


def result_blocks(result: Result, *, max_blocks: int = MAX_BLOCKS) -> ResultBlocks:
    """Blocks for a result; one block is kept back for the note when something is cut."""
    result = scrub(result)  # no secret leaves, whatever the handler forgot to redact
    budget = _Budget(blocks=max_blocks - 1)
    blocks = _blocks(result, budget)
    # The notification text is mrkdwn too: escaped like the blocks (no <!channel>, no links).
    fallback = escape((result.title or to_text(result))[:200])
    rendered = ResultBlocks(blocks=blocks, text=fallback, omitted=budget.cut)
    if budget.cut:
        rendered.file = to_text(result)
        what = "lines" if isinstance(result, Logs) else "lines or rows"
        blocks.append(
            context(f":scissors: {budget.cut} {what} not shown here; the whole output is attached as a file.")
        )
    return rendered
