"""Rotation arithmetic: hand-offs at local time across DST, starts in the past and future, one
member, overrides across a hand-off, and a member removed (later shifts shift, past ones don't)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, parse_config
from bot.oncall import roster
from bot.oncall.config import RotationConfig
from bot.oncall.schedule import Override, Rotation, overlay, stint
from bot.oncall.tables import oncall_rosters
from bot.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
ANA, BEN, CAT = "U0ANA", "U0BEN", "U0CAT"


def weekly(members: list[str], start: str = "2026-11-06") -> RotationConfig:
    return RotationConfig.model_validate(
        {
            "members": members,
            "every": "1w",
            "handoff": "Fri 17:00",
            "timezone": "Europe/Berlin",
            "start": start,
        }
    )


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_first_handoff_is_the_start_day_at_local_time() -> None:
    rot = Rotation("primary", weekly([ANA, BEN, CAT]))
    assert rot.boundary(0) == datetime(2026, 11, 6, 16, 0, tzinfo=UTC)  # 17:00 CET
    assert rot.scheduled_at(berlin(2026, 11, 6, 16, 59)) is None  # before the start: nobody
    assert rot.scheduled_at(berlin(2026, 11, 6, 17, 0)) == ANA
    assert rot.scheduled_at(berlin(2026, 11, 13, 16, 59)) == ANA
    assert rot.scheduled_at(berlin(2026, 11, 13, 17, 0)) == BEN
    assert rot.scheduled_at(berlin(2026, 11, 20, 17, 0)) == CAT
    assert rot.scheduled_at(berlin(2026, 11, 27, 17, 0)) == ANA


def test_handoff_stays_at_17_local_when_summer_time_starts() -> None:
    rot = Rotation("primary", weekly([ANA, BEN, CAT]))
    k = rot.index_at(berlin(2027, 3, 28, 12, 0))  # EU summer time starts Sun 28 Mar 2027
    start, end = rot.boundary(k), rot.boundary(k + 1)
    assert start.astimezone(BERLIN).hour == 17
    assert end.astimezone(BERLIN).hour == 17
    assert start.astimezone(BERLIN).utcoffset() == timedelta(hours=1)
    assert end.astimezone(BERLIN).utcoffset() == timedelta(hours=2)
    assert end - start == timedelta(days=7, hours=-1)  # the spring shift is an hour short
    assert end == datetime(2027, 4, 2, 15, 0, tzinfo=UTC)
    assert rot.index_at(end - timedelta(seconds=1)) == k
    assert rot.index_at(end) == k + 1


def test_handoff_stays_at_17_local_when_summer_time_ends() -> None:
    rot = Rotation("primary", weekly([ANA, BEN, CAT]))
    k = rot.index_at(berlin(2027, 10, 31, 12, 0))  # DST ends Sun 31 Oct 2027
    start, end = rot.boundary(k), rot.boundary(k + 1)
    assert start == datetime(2027, 10, 29, 15, 0, tzinfo=UTC)  # 17:00 CEST
    assert end == datetime(2027, 11, 5, 16, 0, tzinfo=UTC)  # 17:00 CET
    assert end - start == timedelta(days=7, hours=1)  # the autumn shift is an hour long


def test_a_rotation_that_started_long_ago_counts_every_week() -> None:
    rot = Rotation("primary", weekly([ANA, BEN, CAT], start="2020-01-03"))
    at = berlin(2026, 11, 10, 9, 0)
    k = rot.index_at(at)
    assert rot.boundary(k) <= at < rot.boundary(k + 1)
    assert rot.boundary(k).astimezone(BERLIN).strftime("%a %H:%M") == "Fri 17:00"
    assert rot.scheduled_at(at) == [ANA, BEN, CAT][k % 3]


def test_a_rotation_that_starts_in_the_future_is_empty_until_then() -> None:
    rot = Rotation("primary", weekly([ANA, BEN], start="2027-01-01"))
    at = berlin(2026, 11, 10, 9, 0)
    assert rot.index_at(at) < 0
    assert rot.scheduled_at(at) is None
    assert rot.starts == berlin(2027, 1, 1, 17, 0)
    shifts = rot.base_shifts(at, at + timedelta(weeks=10))
    assert shifts[0].start == berlin(2027, 1, 1, 17, 0)
    assert shifts[0].user == ANA


def test_one_member_is_always_on_call_and_nobody_is_next() -> None:
    rot = Rotation("solo", weekly([ANA]))
    at = berlin(2026, 12, 1, 3, 0)
    shifts = overlay(
        "solo",
        rot.base_shifts(at - timedelta(weeks=2), at + timedelta(weeks=3)),
        [],
        at - timedelta(weeks=2),
        at + timedelta(weeks=3),
    )
    assert {s.user for s in shifts} == {ANA}
    cur = stint(shifts, at)
    assert cur is not None
    assert cur.user == ANA
    assert cur.end - cur.start >= timedelta(weeks=4)  # one unbroken stint across the hand-offs


def test_an_override_across_a_handoff_covers_both_sides() -> None:
    rot = Rotation("primary", weekly([ANA, BEN, CAT]))
    start, end = berlin(2026, 11, 6, 17, 0), berlin(2026, 11, 27, 17, 0)
    ov = Override(7, "primary", "U0DAN", berlin(2026, 11, 13, 12, 0), berlin(2026, 11, 14, 12, 0))
    shifts = overlay("primary", rot.base_shifts(start, end), [ov], start, end)
    assert [(s.user, s.start, s.end, s.override_id, s.scheduled) for s in shifts[:4]] == [
        (ANA, berlin(2026, 11, 6, 17, 0), berlin(2026, 11, 13, 12, 0), None, None),
        ("U0DAN", berlin(2026, 11, 13, 12, 0), berlin(2026, 11, 13, 17, 0), 7, ANA),
        ("U0DAN", berlin(2026, 11, 13, 17, 0), berlin(2026, 11, 14, 12, 0), 7, BEN),
        (BEN, berlin(2026, 11, 14, 12, 0), berlin(2026, 11, 20, 17, 0), None, None),
    ]
    cur = stint(shifts, berlin(2026, 11, 13, 18, 0))
    assert cur is not None
    assert (cur.user, cur.start, cur.end) == ("U0DAN", ov.start, ov.end)


# -- the roster history, in the state store --------------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'oncall.db'}")
    s.upgrade()
    yield s
    s.close()


def config(members: list[str]) -> object:
    listed = ", ".join(members)
    return parse_config(
        "oncall:\n  rotations:\n"
        f"    primary: {{members: [{listed}], every: 1w, handoff: 'Fri 17:00',\n"
        "               timezone: Europe/Berlin, start: 2026-11-06}\n"
    )


def who(store: Store, cfg: object, at: datetime, now: datetime) -> str | None:
    shifts = roster.shifts(store.engine, cfg, "primary", at, at + timedelta(seconds=1), now=now)
    return shifts[0].user if shifts else None


def test_removing_a_member_shifts_later_shifts_not_past_ones(store: Store) -> None:
    before = config([ANA, BEN, CAT])
    weeks = [berlin(2026, 11, 6, 18, 0) + timedelta(weeks=i) for i in range(7)]
    seen_at = weeks[1]  # BEN's week: the old list is recorded
    assert [who(store, before, w, seen_at) for w in weeks] == [ANA, BEN, CAT, ANA, BEN, CAT, ANA]
    # On ANA's second week (weeks[3]) BEN leaves the list.
    after = config([ANA, CAT])
    now = weeks[3] + timedelta(days=2)
    got = [who(store, after, w, now) for w in weeks]
    assert got[:4] == [ANA, BEN, CAT, ANA]  # the past and the current shift keep their people
    assert got[4:] == [CAT, ANA, CAT]  # BEN's coming week goes to CAT; the rest follow on
    # A replica that sees the same change later agrees (the change was recorded once).
    assert [who(store, after, w, now + timedelta(days=30)) for w in weeks] == got


def test_removing_the_person_on_call_hands_over_at_once(sqlite_store: Store) -> None:
    before = config([ANA, BEN, CAT])
    t0 = berlin(2026, 11, 13, 18, 0)  # BEN's week
    assert who(sqlite_store, before, t0, t0) == BEN
    after = config([ANA, CAT])
    now = t0 + timedelta(days=1)
    assert who(sqlite_store, after, t0, now) == BEN  # the part already served stays BEN's
    assert who(sqlite_store, after, now + timedelta(hours=1), now) == CAT  # CAT takes over now
    assert who(sqlite_store, after, berlin(2026, 11, 20, 18, 0), now) == ANA


def test_adding_a_member_joins_after_the_current_order(sqlite_store: Store) -> None:
    t0 = berlin(2026, 11, 6, 18, 0)
    assert who(sqlite_store, config([ANA, BEN]), t0, t0) == ANA
    after = config([ANA, BEN, CAT])
    got = [who(sqlite_store, after, t0 + timedelta(weeks=i), t0 + timedelta(days=1)) for i in range(4)]
    assert got == [ANA, BEN, CAT, ANA]


# -- configuration ---------------------------------------------------------------------------------


def test_a_rotation_contact_naming_no_rotation_is_refused_by_key() -> None:
    text = (
        "oncall:\n  rotations:\n    primary: {members: [U0ANA], start: 2026-11-02}\n"
        "severities:\n  P0: {label: Critical, escalate: [{after: 0m, notify: 'rotation:secondary'}]}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"severities\.P0\.escalate\[0\]\.notify: 'rotation:secondary' names no rotation "
        r"\(rotations: primary\)",
    ):
        parse_config(text)
    with pytest.raises(ConfigError, match=r"contacts\.oncall\[0\]: 'rotation:nope' names no rotation"):
        parse_config("contacts:\n  oncall: ['rotation:nope']\n")


@pytest.mark.parametrize(
    ("rotation", "message"),
    [
        ("{members: [U0ANA], handoff: 'Fri 17:00', start: 2026-11-05}", "2026-11-05 is a Thursday"),
        (
            "{members: [U0ANA], every: 3d, handoff: 'Fri 17:00', start: 2026-11-06}",
            "every must be whole weeks",
        ),
        ("{members: [U0ANA], timezone: Mars/Olympus, start: 2026-11-02}", "is not an IANA time zone"),
        ("{members: [S0GROUP], start: 2026-11-02}", "is not a Slack user id"),
        ("{members: [U0ANA], every: 1y, start: 2026-11-02}", "is not a shift length"),
        ("{members: [U0ANA], handoff: 'Fry 25:00', start: 2026-11-02}", "handoff"),
    ],
)
def test_bad_rotations_are_refused_by_key(rotation: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"oncall\.rotations\.primary") as err:
        parse_config(f"oncall:\n  rotations:\n    primary: {rotation}\n")
    assert message in str(err.value)


def test_paging_severities_need_pagerduty() -> None:
    with pytest.raises(
        ConfigError, match=r"severities\.P0\.page: pages, but paging\.pagerduty is not configured"
    ):
        parse_config("severities:\n  P0: {label: Critical, page: true}\n")
    with pytest.raises(
        ConfigError, match=r"paging\.pagerduty\.ca_file: '/nonexistent.pem' is not a readable file"
    ):
        parse_config("paging:\n  pagerduty: {routing_key: k, ca_file: /nonexistent.pem}\n")
    with pytest.raises(ConfigError, match="https://"):
        parse_config("paging:\n  pagerduty: {routing_key: k, events_url: 'http://x/v2/enqueue'}\n")


def test_an_old_replica_does_not_record_its_list_back_during_a_rolling_deploy(sqlite_store: Store) -> None:
    t0 = berlin(2026, 11, 6, 18, 0)
    old, new = config([ANA, BEN, CAT]), config([ANA, CAT])
    assert who(sqlite_store, old, t0, t0) == ANA  # the old replica runs: its list is current
    week2 = t0 + timedelta(weeks=1)
    assert who(sqlite_store, new, week2, t0 + timedelta(days=1)) == CAT  # the new one records its list
    # The old replica, still running for a while, follows the recorded history instead.
    assert who(sqlite_store, old, week2, t0 + timedelta(days=1, minutes=5)) == CAT
    with sqlite_store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(oncall_rosters)).scalar_one()
    assert count == 2


def test_one_member_on_call_has_no_end_and_nobody_next(sqlite_store: Store) -> None:
    from bot.oncall.commands import now_lines

    cfg = parse_config(
        "oncall:\n  rotations:\n    solo: {members: [U0ANA], every: 1w, handoff: 'Fri 17:00', "
        "timezone: Europe/Berlin, start: 2026-11-06}\n"
    )
    [line] = now_lines(cfg, sqlite_store.engine, berlin(2027, 2, 3, 12, 0), ZoneInfo("Europe/Berlin"))
    assert line == (
        "• *solo*: <@U0ANA> — since Fri 06 Nov 17:00 Europe/Berlin; nobody else is next in the rotation"
    )
