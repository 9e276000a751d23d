"""WHEN as typed in /oncall override, read in the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.oncall.when import WhenError, parse_when

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)  # Tue 10:30 in New York


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("+2h", NOW + timedelta(hours=2)),
        ("+3d", NOW + timedelta(days=3)),
        ("2026-12-04", ny(2026, 12, 4, 0, 0)),
        ("2026-12-04 17:00", ny(2026, 12, 4, 17, 0)),
        ("2026-12-04T17:00", ny(2026, 12, 4, 17, 0)),
        ("2026-12-04T17:00+01:00", datetime(2026, 12, 4, 16, 0, tzinfo=UTC)),
        ("2026-12-04T17:00Z", datetime(2026, 12, 4, 17, 0, tzinfo=UTC)),
        ("17:00", ny(2026, 11, 10, 17, 0)),  # later today
        ("09:00", ny(2026, 11, 11, 9, 0)),  # already past today: tomorrow
        ("tomorrow 09:00", ny(2026, 11, 11, 9, 0)),
        ("today 18:00", ny(2026, 11, 10, 18, 0)),
        ("Fri 17:00", ny(2026, 11, 13, 17, 0)),
        ("friday", ny(2026, 11, 13, 0, 0)),
        ("tue 09:00", ny(2026, 11, 17, 9, 0)),  # today's 09:00 is past: next Tuesday
    ],
)
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW, zone=NY) == expected


@pytest.mark.parametrize(
    "text", ["", "someday", "25:00", "Fri 17:99", "2026-13-01", "+2y", "a b c d", "fr 17:00"]
)
def test_not_a_time(text: str) -> None:
    with pytest.raises(WhenError, match="is not a"):
        parse_when(text, now=NOW, zone=NY)
