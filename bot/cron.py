"""Cron expressions as crontab writes them, computed with APScheduler's CronTrigger.

APScheduler 3 counts weekdays from Monday = 0, crontab from Sunday = 0 (its docs call this a
historical mistake). We take crontab's meaning and hand APScheduler weekday *names*, so
`0 2 * * 0` fires on Sundays as any operator expects.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # APScheduler loads when a cron expression is first read (cold start)
    from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NUMBER = re.compile(r"\b([0-7])\b")


def _weekday_names(field: str) -> str:
    """`1-5` → `mon-fri`, `0,6` → `sun,sat`; a step (`*/2`) keeps its number."""
    out = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        out.append(_WEEKDAY_NUMBER.sub(lambda m: _DAYS[int(m.group(1))], base) + slash + step)
    return ",".join(out)


def trigger(expr: str, timezone: str) -> CronTrigger:
    """A CronTrigger for a five-field crontab expression in a time zone; ValueError if invalid."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} needs five fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    # `0-6` in crontab is every day; as names it would wrap sun→sat, which APScheduler rejects.
    if weekday in ("0-6", "0-7", "1-7"):
        weekday = "*"
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r} (use an IANA name like UTC or Europe/Berlin)"
        ) from None
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_names(weekday), timezone=tz
        )
    except ValueError as exc:
        raise ValueError(f"cron {expr!r}: {exc}") from None


def check_cron(expr: str) -> str:
    trigger(expr, "UTC")
    return expr


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like UTC or Europe/Berlin)") from None
    return name


def latest_due(expr: str, timezone: str, now: datetime, grace: timedelta) -> datetime | None:
    """The newest fire time in (now - grace, now]: what a tick at `now` should run.

    Older missed slots in the window are coalesced into it (a bot that was down for three
    5-minute slots posts once, not three times).
    """
    trig = trigger(expr, timezone)
    latest: datetime | None = None
    probe = now - grace + timedelta(microseconds=1)
    while True:
        fire = trig.get_next_fire_time(latest, probe)
        if not isinstance(fire, datetime) or fire > now:
            return latest
        latest = fire
        probe = fire + timedelta(seconds=1)


def next_fire(expr: str, timezone: str, after: datetime) -> datetime | None:
    fire = trigger(expr, timezone).get_next_fire_time(None, after)
    return fire if isinstance(fire, datetime) else None
