"""Charts as PNG bytes (matplotlib, Agg, no display) for the chart results handlers return.

`render(chart)` draws a `handlers.figures` chart; `filename(chart)` names its upload.
matplotlib is imported on first use, so a bot that never draws never pays for it.
"""

from __future__ import annotations

import re

from handlers.figures import BarChart, Chart, LineChart, TimelineChart


def render(chart: Chart) -> bytes:
    if isinstance(chart, LineChart):
        from bot.charts import lines

        return lines.render(chart)
    if isinstance(chart, BarChart):
        from bot.charts import bars

        return bars.render(chart)
    from bot.charts import timeline

    assert isinstance(chart, TimelineChart)
    return timeline.render(chart)


def filename(chart: Chart, fallback: str = "chart") -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (chart.title or fallback).lower()).strip("-")[:60]
    return f"{slug or fallback}.png"
