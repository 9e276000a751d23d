"""Time-series line charts: one line per series, threshold lines, UTC times on the x axis."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bot.charts.style import (
    FONT,
    LEVEL_COLOUR,
    PALETTE,
    SMALL,
    WIDE,
    figure,
    png,
    short_names,
    style_axes,
    unit_axis,
)
from handlers.figures import LineChart


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
        ax.axhline(
            line.value,
            color=LEVEL_COLOUR[line.level],
            linestyle="--",
            linewidth=1.4,
            label=line.label.replace("%", "%"),
        )
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


LEGEND_ROW = 0.21  # inches per row of the legend under the plot
MARGIN = {"left": 0.85, "right": 0.2, "top": 0.4, "bottom": 0.62}  # inches: ticks, labels, title


def render(chart: LineChart) -> bytes:
    width, height = SMALL if chart.small else WIDE
    rows = (len(chart.series) + len(chart.thresholds) + 2) // 3 if len(chart.series) > 3 else 0
    height += LEGEND_ROW * rows
    # Fixed margins instead of constrained layout: one draw per PNG instead of two.
    fig = figure((width, height), constrained=False)
    fig.subplots_adjust(
        left=MARGIN["left"] / width,
        right=1 - MARGIN["right"] / width,
        top=1 - MARGIN["top"] / height,
        bottom=(MARGIN["bottom"] + LEGEND_ROW * rows) / height,
    )
    ax = fig.add_subplot()
    draw(ax, chart)
    title = chart.title if len(chart.title) <= 80 else chart.title[:79] + "…"
    # A fixed y: matplotlib would otherwise measure every tick label to place the title.
    ax.set_title(title, fontsize=FONT + (0 if chart.small else 1), loc="left", y=1.0, pad=6)
    return png(fig)
