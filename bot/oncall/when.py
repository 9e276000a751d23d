"""WHEN as people type it in `/oncall override --from WHEN --to WHEN`, read in their own time zone.

`now`, `+2h` / `+3d`, `2026-12-04` (midnight), `2026-12-04 17:00` or `2026-12-04T17:00`,
an ISO time with an offset (`2026-12-04T17:00+01:00`, `…Z`), `17:00` (the next 17:00),
`Fri`, `Fri 17:00` (the next Friday, today if 17:00 is still ahead), `today 18:00`, `tomorrow 09:00`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.config import WEEKDAYS

MAX_WORDS = 3
_REL = re.compile(r"^\+(\d{1,4})([mhdw])$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class WhenError(ValueError):
    """Not a time we understand; the message shows what we do understand."""


HELP = "use `now`, `+2h`, `17:00`, `Fri 17:00`, `tomorrow 09:00`, `2026-12-04` or `2026-12-04 17:00`"


def _hhmm(word: str, text: str) -> time:
    m = _HHMM.match(word)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise WhenError(f"`{text}` is not a time: {HELP}")
    return time(int(m.group(1)), int(m.group(2)))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def parse_when(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant `text` means for someone in `zone` at `now`."""
    words = text.strip().split()
    if not words or len(words) > MAX_WORDS:
        raise WhenError(f"`{text}` is not a time: {HELP}")
    first = words[0].lower()
    today = now.astimezone(zone).date()
    if first == "now" and len(words) == 1:
        return now
    if (m := _REL.match(first)) and len(words) == 1:
        return now + int(m.group(1)) * _UNIT[m.group(2)]
    if len(words) == 1 and ("T" in words[0] or words[0].endswith("Z")):
        try:
            parsed = datetime.fromisoformat(words[0].replace("Z", "+00:00"))
        except ValueError:
            raise WhenError(f"`{text}` is not a time: {HELP}") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)
    at = _hhmm(words[1], text) if len(words) == 2 else time(0, 0)
    if len(words) > 2:
        raise WhenError(f"`{text}` is not a time: {HELP}")
    if _DATE.match(first):
        try:
            day = date.fromisoformat(first)
        except ValueError:
            raise WhenError(f"`{words[0]}` is not a date (YYYY-MM-DD)") from None
        return _local(day, at, zone)
    if first in ("today", "tomorrow"):
        return _local(today + timedelta(days=1 if first == "tomorrow" else 0), at, zone)
    if len(first) >= 3 and any(day.startswith(first) for day in _DAYS):
        wd = WEEKDAYS.index(first[:3])
        day = today + timedelta(days=(wd - today.weekday()) % 7)
        found = _local(day, at, zone)
        return found if found > now else _local(day + timedelta(days=7), at, zone)
    if len(words) == 1 and _HHMM.match(first):
        found = _local(today, _hhmm(first, text), zone)
        return found if found > now else _local(today + timedelta(days=1), _hhmm(first, text), zone)
    raise WhenError(f"`{text}` is not a time: {HELP}")
