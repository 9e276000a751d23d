"""An incident's timeline (detected, declared, updates, mitigated, resolved), over its metrics."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bot.charts.lines import draw
from bot.charts.style import FONT, figure, png, style_axes
from handlers.figures import Mark, TimelineChart

KIND_COLOUR = {
    "detected": "#9467bd",
    "declared": "#d62728",
    "update": "#1f77b4",
    "mitigated": "#e6a700",
    "resolved": "#2ca02c",
}
MAX_LABELS = 12  # labelled marks; more updates are drawn without text


def render(chart: TimelineChart) -> bytes:
    panels = 1 + len(chart.metrics)
    fig = figure((8.0, 2.4 + 2.2 * len(chart.metrics)))
    ratios = [1.1] + [1.6] * len(chart.metrics)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False, height_ratios=ratios)[:, 0]
    top = axes[0]
    style_axes(top)
    marks = sorted(chart.marks, key=lambda m: m.at)
    times = [m.at / 86400.0 for m in marks]  # matplotlib's date numbers (epoch 1970)
    _draw_marks(top, axes[1:], marks, times)
    top.set_yticks([])
    top.set_ylim(0, 1)
    for kind, colour in KIND_COLOUR.items():
        if any(m.kind == kind for m in marks):
            top.plot([], [], color=colour, linewidth=2, label=kind)
    top.legend(fontsize=FONT - 3, loc="upper left", ncols=5, framealpha=0.9, bbox_to_anchor=(0, 1.32))
    if times:
        top.set_xlim(*_x_range(chart, times))
    for ax, metric in zip(axes[1:], chart.metrics, strict=True):
        draw(ax, metric)
        ax.set_title(metric.title[:80], fontsize=FONT - 1, loc="left")
    _date_axis(axes)
    if chart.title:
        fig.suptitle(chart.title[:100], fontsize=FONT + 1)
    return png(fig)


def _draw_marks(top: Any, below: Any, marks: list[Mark], times: list[float]) -> None:
    """A line per mark across every panel; labels on the top one (updates past MAX_LABELS bare)."""
    levels = [0.5, 0.85, 0.15]
    for i, (mark, at) in enumerate(zip(marks, times, strict=True)):
        colour = KIND_COLOUR.get(mark.kind, "#7f7f7f")
        top.axvline(at, color=colour, linewidth=1.6, alpha=0.9)
        if i < MAX_LABELS or mark.kind != "update":
            y = levels[i % len(levels)]
            text = mark.label if len(mark.label) <= 28 else mark.label[:27] + "…"
            top.annotate(
                text,
                (at, y),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=FONT - 3,
                color=colour,
                va="center",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "lw": 0.6},
            )
        for ax in below:
            ax.axvline(at, color=colour, linewidth=1.0, alpha=0.5, linestyle=":")


def _x_range(chart: TimelineChart, times: list[float]) -> tuple[float, float]:
    """The marks, padded, widened to the metrics' whole window."""
    span = (times[-1] - times[0]) * 86400
    pad = max(span * 0.05, 60.0) / 86400
    low, high = times[0] - pad, times[-1] + pad
    for metric in chart.metrics:  # the metrics' window is wider: show all of it
        for series in metric.series:
            if series.points:
                low = min(low, series.points[0][0] / 86400)
                high = max(high, series.points[-1][0] / 86400)
    return low, high


def _date_axis(axes: Any) -> None:
    """UTC dates on the bottom panel only."""
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped module

    locator = mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=7)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    for ax in axes[:-1]:
        ax.set_xlabel("")
    axes[-1].xaxis_date(tz=UTC)
    axes[-1].set_xlabel("time (UTC)", fontsize=FONT - 1)
