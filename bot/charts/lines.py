"""Time-series line charts: one line per series, threshold lines, UTC times on the x axis.

`/prom graph` draws one for every request, and most of a new figure's cost is building it:
axes, tick artists, a legend laid out box by box. So a chart is drawn onto a kept figure of
its shape (`Kept`), taken from a small pool while one thread draws on it: its lines and
thresholds are replaced, its scales and labels set again, and its legend slots (a swatch and a
label each, placed once) filled in. bench/prom_chart.py times it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from bot.charts.style import (
    FONT,
    LEVEL_COLOUR,
    PALETTE,
    SMALL,
    WIDE,
    canvas_of,
    encode,
    figure,
    short_names,
    style_axes,
    unit_axis,
)
from handlers.figures import LineChart

LEGEND_ROW = 0.21  # inches per row of the legend under the plot
LEGEND_COLUMNS = 3
MARGIN = {"left": 0.85, "right": 0.2, "top": 0.4, "bottom": 0.62}  # inches: ticks, labels, title
KEEP = 4  # idle kept figures per shape: handler threads draw at once, each on its own


def draw(ax: object, chart: LineChart, *, legend: bool = True) -> None:
    """Draw a chart's series and thresholds onto `ax` (also used inside the post-mortem)."""
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped module
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    style_axes(ax)
    labels = short_names([s.name for s in chart.series])
    for i, (series, label) in enumerate(zip(chart.series, labels, strict=True)):
        if not series.points:
            continue
        xs = [t / 86400.0 for t, _ in series.points]  # matplotlib's date numbers (epoch 1970)
        ys = [v for _, v in series.points]
        ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.8, label=label)
    for line in chart.thresholds:
        colour = LEVEL_COLOUR[line.level]
        ax.axhline(line.value, color=colour, linestyle="--", linewidth=1.4, label=line.label)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)", fontsize=FONT - 1)
    if chart.unit in ("ratio", "percent", "seconds", "bytes", "cores"):
        ax.set_ylim(bottom=0)
    ax.xaxis_date(tz=UTC)
    unit_axis(ax, chart.unit)
    if not legend or not (len(chart.series) > 1 or chart.thresholds):
        return
    if len(chart.series) > 3:
        # Many series: the legend goes under the plot, where it hides no line.
        ax.figure.legend(
            fontsize=FONT - 2, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=3, frameon=False
        )
    else:
        ax.legend(fontsize=FONT - 2, loc="best", framealpha=0.85)


def legend_rows(chart: LineChart) -> int:
    """Rows of the legend under the plot (many series); 0 when it sits inside the axes."""
    if len(chart.series) <= 3:
        return 0
    return (len(chart.series) + len(chart.thresholds) + LEGEND_COLUMNS - 1) // LEGEND_COLUMNS


class Kept:
    """A figure of one shape, built once and drawn on again for each chart of that shape."""

    def __init__(self, small: bool, rows: int) -> None:
        from matplotlib.lines import Line2D

        width, height = SMALL if small else WIDE
        height += LEGEND_ROW * rows
        # Fixed margins instead of constrained layout: one draw per PNG instead of two.
        self.fig = figure((width, height), constrained=False)
        self.fig.subplots_adjust(
            left=MARGIN["left"] / width,
            right=1 - MARGIN["right"] / width,
            top=1 - MARGIN["top"] / height,
            bottom=(MARGIN["bottom"] + LEGEND_ROW * rows) / height,
        )
        self.ax: Any = self.fig.add_subplot()
        # A fixed y: matplotlib would otherwise measure every tick label to place the title.
        self.title = self.ax.set_title("", fontsize=FONT + (0 if small else 1), loc="left", y=1.0, pad=6)
        self.slots: list[tuple[Any, Any]] = []  # (swatch, label) under the plot, row by row
        column = (width - 0.6) / LEGEND_COLUMNS
        for i in range(rows * LEGEND_COLUMNS):
            row, col = divmod(i, LEGEND_COLUMNS)
            x = (0.3 + col * column) / width
            y = (LEGEND_ROW * (rows - row - 0.5) + 0.03) / height  # the row's middle
            swatch = Line2D([x, x + 0.32 / width], [y, y], linewidth=1.8, transform=self.fig.transFigure)
            self.fig.add_artist(swatch)
            label = self.fig.text(x + 0.4 / width, y, "", fontsize=FONT - 2, va="center")
            self.slots.append((swatch, label))
        self.canvas = canvas_of(self.fig)

    def render(self, chart: LineChart) -> bytes:
        from matplotlib.ticker import AutoLocator

        ax = self.ax
        # What the last chart left: its lines and thresholds, its legend, fixed limits and ticks.
        for artist in list(ax.lines):
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.relim()  # no lines left: the data limits start empty
        ax.set_autoscale_on(True)
        ax.yaxis.set_major_locator(AutoLocator())
        ax.set_ylabel("")
        draw(ax, chart, legend=not self.slots)
        self._fill_legend()
        title = chart.title if len(chart.title) <= 80 else chart.title[:79] + "…"
        self.title.set_text(title)
        return encode(self.canvas)

    def _fill_legend(self) -> None:
        from matplotlib.colors import to_hex

        entries = [(line.get_label(), line) for line in self.ax.lines]
        for i, (swatch, label) in enumerate(self.slots):
            shown = i < len(entries)
            swatch.set_visible(shown)
            label.set_visible(shown)
            if shown:
                text, line = entries[i]
                swatch.set_color(to_hex(line.get_color()))
                swatch.set_linestyle(line.get_linestyle())
                label.set_text(text)


class _Pool:
    """Kept figures by shape; one thread draws on a figure at a time."""

    def __init__(self) -> None:
        self._idle: dict[tuple[bool, int], list[Kept]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def take(self, small: bool, rows: int) -> Iterator[Kept]:
        key = (small, rows)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            kept = idle.pop() if idle else None
        if kept is None:
            kept = Kept(small, rows)
        yield kept  # a figure whose drawing raised is dropped here, never drawn on again
        with self._lock:
            if len(self._idle[key]) < KEEP:
                self._idle[key].append(kept)


_POOL = _Pool()


def render(chart: LineChart) -> bytes:
    with _POOL.take(chart.small, legend_rows(chart)) as kept:
        return kept.render(chart)
