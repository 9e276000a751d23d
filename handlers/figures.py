"""Chart results: the data of a picture, drawn by the bot (`bot.charts`) and uploaded as a PNG.

A chart is a `Group` whose `parts` say in words what the picture shows (each series with its
min / max / last), or a `Table` of what its bars show, so every front end that cannot show a
picture (the console, the plain-text renderer, a runbook's thread) still shows everything the
chart holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from handlers.results import Group, Result, Status, Table

# How values are shown on an axis: percent takes ratios (0.05 → 5%).
Unit = Literal["", "ratio", "percent", "seconds", "bytes", "cores"]


@dataclass(frozen=True)
class Series:
    """One line: (unix seconds, value) points, oldest first."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Line:
    """A horizontal line at `value` (a threshold), coloured by its level."""

    value: float
    label: str
    level: Status = Status.WARN


@dataclass(frozen=True, kw_only=True)
class LineChart(Group):
    """Time series over a window, in `unit`, with threshold lines."""

    series: Sequence[Series]
    unit: Unit = ""
    thresholds: Sequence[Line] = ()
    small: bool = False  # a thumbnail beside an answer (/prom SERVICE METRIC)


@dataclass(frozen=True)
class Bar:
    """One resource's use against its request and limit (None when not set)."""

    name: str
    used: float
    request: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class BarPanel:
    title: str
    unit: Unit
    bars: Sequence[Bar]
    limit_label: str = "limit"  # a node's "allocatable"


@dataclass(frozen=True, kw_only=True)
class BarChart(Table):
    """A table with bars of its rows, one panel per resource (CPU, memory): `/k8s top`."""

    panels: Sequence[BarPanel]


@dataclass(frozen=True)
class Mark:
    """A moment on a timeline (detected, declared, an update, mitigated, resolved)."""

    at: float  # unix seconds
    kind: str
    label: str


@dataclass(frozen=True, kw_only=True)
class TimelineChart(Group):
    """An incident's timeline, optionally over its service's metrics in the same window."""

    marks: Sequence[Mark]
    metrics: Sequence[LineChart] = ()


Chart = LineChart | BarChart | TimelineChart


def charts_in(result: Result) -> Iterator[Chart]:
    """Every chart inside a result, depth first (a chart's own parts are words, not charts)."""
    if isinstance(result, LineChart | BarChart | TimelineChart):
        yield result
    elif isinstance(result, Group):
        for part in result.parts:
            yield from charts_in(part)
