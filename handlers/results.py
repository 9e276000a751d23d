"""Typed results that handlers return; `bot.render` shows them (Slack, plain text, console).

Every result can carry `values`: named numeric or text facts (``used_pct``, ``unhealthy``,
``latency_ms``) that runbook checks compare against thresholds, so a check never has to
parse rendered text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Value = float | int | str | bool | None
# What a destructive preview saw and its confirmed run must still find (see Preview.pin).
Pin = Mapping[str, Value | list[str]]


class Status(StrEnum):
    """How a check or a step came out; ordered from best to worst."""

    OK = "ok"
    WARN = "warn"
    CRIT = "crit"

    @property
    def rank(self) -> int:
        return ("ok", "warn", "crit").index(self.value)

    @staticmethod
    def worst(statuses: Sequence[Status]) -> Status:
        return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True, kw_only=True)
class _Base:
    title: str = ""
    values: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Text(_Base):
    """Free text (Slack mrkdwn)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class KeyValues(_Base):
    """Label/value pairs, such as a server's version and uptime."""

    items: Sequence[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class Table(_Base):
    """Rows under column headings, with an optional summary line shown above them."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    summary: str = ""


@dataclass(frozen=True, kw_only=True)
class Logs(_Base):
    """Log lines; long ones are cut in Slack and uploaded whole as a file."""

    lines: Sequence[str]
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Check(_Base):
    """A judgement: ok, warn or crit, with what it was judged on."""

    status: Status
    detail: str


@dataclass(frozen=True, kw_only=True)
class Group(_Base):
    """Several results shown together (describe: conditions, containers, events)."""

    parts: Sequence[Result]


Result = Text | KeyValues | Table | Logs | Check | Group


@dataclass(frozen=True, kw_only=True)
class Preview:
    """What a destructive handler would change, shown before anyone confirms it.

    `summary` is one line (`deployment backend in prod: replicas 3 → 0`); `details` are
    further lines (the current image, the query a backend is running). `pin` is what the
    preview saw and the run must still find (JSON values: a revision, a pid and its start, the
    keys): it is stored with the pending action and handed back to the handler when the
    action runs (`handlers.pin.pinned`), which refuses when the target moved on.
    """

    summary: str
    details: Sequence[str] = ()
    pin: Pin = field(default_factory=dict)


def status_of(result: Result) -> Status:
    """The worst status of the checks inside a result (OK when there are none)."""
    if isinstance(result, Check):
        return result.status
    if isinstance(result, Group):
        return Status.worst([status_of(p) for p in result.parts])
    return Status.OK
