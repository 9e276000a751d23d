"""Per-service state for the status page, from the watches: operational, degraded or down,
with a 90-day uptime bar (one cell per UTC day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select

from bot.alerts.tables import watch_days, watch_state
from bot.config import ChatopsConfig

DAYS = 90
OPERATIONAL, DEGRADED, DOWN, UNKNOWN = "operational", "degraded", "down", "unknown"


@dataclass(frozen=True)
class Day:
    day: date
    ok: int
    failed: int
    down: bool

    @property
    def level(self) -> str:
        """The cell's colour: none (no probes), down, degraded (some failed probes), ok."""
        if self.ok + self.failed == 0:
            return "none"
        if self.down:
            return "down"
        return "degraded" if self.failed else "ok"

    @property
    def uptime(self) -> float | None:
        total = self.ok + self.failed
        return None if total == 0 else self.ok / total

    @property
    def label(self) -> str:
        pct = self.uptime
        shown = "no data" if pct is None else f"{pct * 100:.2f}% up"
        return f"{self.day.isoformat()}: {shown}" + (" (down)" if self.down else "")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str
    detail: str
    days: Sequence[Day]

    @property
    def uptime(self) -> str:
        ok = sum(d.ok for d in self.days)
        total = ok + sum(d.failed for d in self.days)
        return "no data" if total == 0 else f"{ok / total * 100:.2f}%"


def services(engine: Engine, now: datetime, config: ChatopsConfig | None) -> list[ServiceStatus]:
    if config is None or not config.watches:
        return []
    by_service: dict[str, list[str]] = {}
    for w in config.watches:
        by_service.setdefault(w.service, []).append(w.name)
    names = [w.name for w in config.watches]
    first = now.date() - timedelta(days=DAYS - 1)
    with engine.connect() as conn:
        states = {r.name: r for r in conn.execute(select(watch_state).where(watch_state.c.name.in_(names)))}
        days = conn.execute(
            select(watch_days).where(watch_days.c.name.in_(names), watch_days.c.day >= first)
        ).all()
    counts: dict[tuple[str, date], list[int]] = {}
    for r in days:
        counts[(r.name, r.day)] = [int(r.ok), int(r.failed), int(bool(r.down))]
    out = []
    for service, watches in sorted(by_service.items()):
        rows = [states[n] for n in watches if n in states]
        if not rows:
            state, detail = UNKNOWN, "not probed yet"
        elif any(r.alert_starts_at is not None for r in rows):
            state, detail = DOWN, "; ".join(r.last_detail for r in rows if r.alert_starts_at is not None)
        elif any(r.last_outcome in ("fail", "warn") for r in rows):
            state, detail = DEGRADED, "; ".join(r.last_detail for r in rows if r.last_outcome != "ok")
        else:
            state, detail = OPERATIONAL, ""
        cells = []
        for i in range(DAYS):
            d = first + timedelta(days=i)
            ok = failed = down = 0
            for n in watches:
                c = counts.get((n, d))
                if c:
                    ok, failed, down = ok + c[0], failed + c[1], down or c[2]
            cells.append(Day(d, ok, failed, bool(down)))
        out.append(ServiceStatus(service, state, detail[:300], cells))
    return out
