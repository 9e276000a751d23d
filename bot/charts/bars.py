"""Horizontal bars of use against request and limit (CPU, memory): `/k8s top`."""

from __future__ import annotations

from bot.charts.style import FONT, PALETTE, figure, png, style_axes, unit_axis
from handlers.figures import BarChart

MAX_BARS = 20  # per panel; the table beside the chart has every row

REQUEST_COLOUR = "#e6a700"
LIMIT_COLOUR = "#d62728"


def render(chart: BarChart) -> bytes:
    panels = [p for p in chart.panels if p.bars] or list(chart.panels[:1])
    rows = max((min(len(p.bars), MAX_BARS) for p in panels), default=1)
    fig = figure((8.0, max(2.6, 1.2 + 0.34 * rows)))
    axes = fig.subplots(1, max(len(panels), 1), sharey=True, squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=False):
        style_axes(ax)
        bars = list(panel.bars[:MAX_BARS])
        names = [b.name if len(b.name) <= 32 else b.name[:31] + "…" for b in bars]
        ys = list(range(len(bars)))
        ax.barh(ys, [b.used for b in bars], color=PALETTE[0], height=0.6, label="used")
        for y, b in zip(ys, bars, strict=True):
            if b.request is not None:
                ax.vlines(b.request, y - 0.4, y + 0.4, color=REQUEST_COLOUR, linewidth=2.5)
            if b.limit is not None:
                ax.vlines(b.limit, y - 0.4, y + 0.4, color=LIMIT_COLOUR, linewidth=2.5)
        # Legend entries for the markers, once.
        ax.plot([], [], color=REQUEST_COLOUR, linewidth=2.5, label="request")
        ax.plot([], [], color=LIMIT_COLOUR, linewidth=2.5, label=panel.limit_label)
        ax.set_yticks(ys, names, fontsize=FONT - 2)
        ax.invert_yaxis()
        top = max(
            [b.used for b in bars] + [v for b in bars for v in (b.request, b.limit) if v is not None] + [0]
        )
        ax.set_xlim(0, top * 1.1 if top > 0 else 1)
        unit_axis(ax, panel.unit, axis="x")
        ax.set_title(panel.title, fontsize=FONT, loc="left")
        ax.legend(fontsize=FONT - 3, loc="lower right", framealpha=0.9)
    if chart.title:
        fig.suptitle(chart.title[:100], fontsize=FONT + 1)
    return png(fig)
