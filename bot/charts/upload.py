"""Upload the charts inside a result as PNGs beside the message (files_upload_v2)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.charts import filename, render
from handlers.figures import charts_in
from handlers.results import Result

log = logging.getLogger(__name__)

MAX_CHARTS = 4  # per answer; a Group of many charts is a mistake, not a dashboard


def upload_charts(client: Any, channel: str, result: Result, *, thread_ts: str | None = None) -> list[str]:
    """Draw and upload each chart; the problems, in words, for the requester (empty when all went up)."""
    problems: list[str] = []
    for chart in list(charts_in(result))[:MAX_CHARTS]:
        try:
            data = render(chart)
        except Exception as exc:  # a drawing bug must not lose the answer the text already gave
            log.exception("chart %r could not be drawn", chart.title)
            problems.append(f"the chart {chart.title!r} could not be drawn ({type(exc).__name__})")
            continue
        kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        try:
            client.files_upload_v2(
                channel=channel,
                file=data,
                filename=filename(chart),
                title=chart.title or "chart",
                alt_txt=f"Chart: {chart.title}"[:1000],
                **kwargs,
            )
        except SlackApiError as exc:
            err = exc.response.get("error", "unknown error") if exc.response is not None else str(exc)
            problems.append(
                f"the chart could not be uploaded ({err}); invite the bot to this channel to get charts"
            )
    return problems
