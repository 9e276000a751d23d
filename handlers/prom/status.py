"""`/prom alerts` (firing and pending) and `/prom targets` (scrape targets that are down)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from handlers import Client, Context, handler
from handlers.humanize import cut, duration
from handlers.prom import api
from handlers.prom.common import PromParams
from handlers.results import Check, Group, Result, Status, Table

_HIDDEN = {"alertname", "severity"}


def _age(stamp: Any, now: datetime) -> str:
    try:
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return duration((now - at).total_seconds())


@handler("prom.alerts", PromParams, client=Client.PROMETHEUS)
def alerts(ctx: Context[httpx.Client], params: PromParams) -> Result:
    """Prometheus's own alerts that are firing or pending, firing first."""
    data = api.get(ctx, "alerts")
    found = [a for a in (data.get("alerts") if isinstance(data, dict) else None) or [] if isinstance(a, dict)]
    now = datetime.now(UTC)
    order = {"firing": 0, "pending": 1}
    found.sort(
        key=lambda a: (order.get(str(a.get("state")), 2), str(a.get("labels", {}).get("alertname", "")))
    )
    rows = []
    for a in found:
        labels = a.get("labels", {}) or {}
        rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in _HIDDEN)
        summary = (a.get("annotations", {}) or {}).get("summary", "")
        rows.append(
            [
                str(labels.get("alertname", "")),
                str(a.get("state", "")),
                str(labels.get("severity", "")),
                _age(a.get("activeAt"), now),
                cut(rest, 80),
                cut(str(summary), 80),
            ]
        )
    firing = sum(1 for a in found if a.get("state") == "firing")
    pending = sum(1 for a in found if a.get("state") == "pending")
    summary = f"{firing} firing, {pending} pending on {api.where(ctx)}"
    return Table(
        title="Prometheus alerts",
        columns=["alert", "state", "severity", "for", "labels", "summary"],
        rows=rows,
        summary=summary,
        values={"firing": firing, "pending": pending},
    )


@handler("prom.targets", PromParams, client=Client.PROMETHEUS)
def targets(ctx: Context[httpx.Client], params: PromParams) -> Result:
    """Scrape targets that are down, with the last scrape's error."""
    data = api.get(ctx, "targets", {"state": "active"})
    active = [
        t
        for t in (data.get("activeTargets") if isinstance(data, dict) else None) or []
        if isinstance(t, dict)
    ]
    now = datetime.now(UTC)
    down = [t for t in active if t.get("health") != "up"]
    rows = [
        [
            str(t.get("labels", {}).get("job", t.get("scrapePool", ""))),
            str(t.get("labels", {}).get("instance", t.get("scrapeUrl", ""))),
            str(t.get("health", "")),
            _age(t.get("lastScrape"), now) + " ago" if t.get("lastScrape") else "",
            cut(str(t.get("lastError", "")), 120),
        ]
        for t in sorted(down, key=lambda t: (str(t.get("scrapePool", "")), str(t.get("scrapeUrl", ""))))
    ]
    status = Status.CRIT if down and len(down) == len(active) else Status.WARN if down else Status.OK
    detail = f"{len(down)} of {len(active)} scrape targets down on {api.where(ctx)}"
    parts: list[Result] = [Check(status=status, detail=detail)]
    if down:
        parts.append(Table(columns=["job", "instance", "health", "last scrape", "error"], rows=rows))
    return Group(title="Prometheus targets", parts=parts, values={"down": len(down), "targets": len(active)})
