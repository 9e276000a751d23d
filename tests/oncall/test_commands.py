"""`/oncall` through the signed Slack endpoint: now, schedule, overrides, bad input; the hand-off post."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.guard.pending import add as add_pending
from bot.oncall.roster import on_call_now
from bot.store.audit import latest
from tests.conftest import drop_pg_database, make_pg_database, stop_bot
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import texts
from tests.oncall.conftest import START, OncallHarness, make_harness


def test_oncall_says_who_is_on_now_in_both_time_zones_and_who_is_next(oncall: OncallHarness) -> None:
    oncall.slack.users["U0ALICE"] = {"id": "U0ALICE", "name": "alice", "tz": "America/New_York"}
    [answer] = oncall.oncall("", user="U0ALICE")
    text = texts(answer)
    assert "*primary*: <@U0ANA>" in text
    assert "Fri 06 Nov 17:00 → Fri 13 Nov 17:00 Europe/Berlin" in text
    assert "(yours: Fri 06 Nov 11:00 → Fri 13 Nov 11:00 America/New_York)" in text
    assert "next: <@U0BEN> from Fri 13 Nov 17:00 Europe/Berlin (yours: Fri 13 Nov 11:00)" in text
    assert "*secondary*: <@U0DAN>" in text
    assert "next: <@U0EVE>" in text


def test_an_override_across_a_handoff_is_shown_everywhere_the_rotation_is_resolved(
    oncall: OncallHarness,
) -> None:
    # U0BEN (a member, whose Slack time zone is UTC) covers 12:00 Fri to 12:00 Sat for U0CAT.
    [answer] = oncall.oncall(
        "override <@U0CAT|cat> --from 2026-11-13 12:00 --to 2026-11-14 12:00 --rotation primary", user="U0BEN"
    )
    assert "Override #1: <@U0CAT> is on call for *primary*" in texts(answer)
    [schedule] = oncall.oncall("schedule --weeks 2 --rotation primary", user="U0BEN")
    table = texts(schedule)
    assert table.count("override #1") == 2  # the end of U0ANA's shift and the start of U0BEN's
    assert "(for @u0ana)" in table
    assert "(for @u0ben)" in table

    oncall.clock.now = datetime(2026, 11, 13, 18, 0, tzinfo=UTC)  # after the hand-off, in the override
    [now] = oncall.oncall("", user="U0BEN")
    assert "*primary*: <@U0CAT> _(override #1, covering <@U0BEN>)_" in texts(now)
    assert "Fri 13 Nov 13:00 → Sat 14 Nov 13:00 Europe/Berlin" in texts(now)
    assert "next: <@U0BEN> from Sat 14 Nov 13:00" in texts(now)

    # What App Home and other surfaces call.
    rt = oncall.bot.runtime
    shifts = on_call_now(rt.config, rt.store, rt.clock())
    assert [(s.rotation, s.user, s.override_id, s.scheduled) for s in shifts] == [
        ("primary", "U0CAT", 1, "U0BEN"),
        ("secondary", "U0EVE", None, None),
    ]
    # Contacts resolve the same way: rotation:primary as a role.
    inc = oncall.declare("P2 queue backing up", user="U0ALICE")
    oncall.command(f"assign {inc.id} commander rotation:primary", user="U0ALICE")
    assert oncall.incident(inc.id).roles["commander"] == "U0CAT"
    # ...and the escalation ladder's rotation:primary step, when it comes due.
    p0 = oncall.declare("P0 checkout is down", user="U0ALICE")
    oncall.tick(days=3, hours=9, minutes=1)  # Fri 13 Nov 18:01 UTC, still in the override
    [step] = oncall.escalations(p0)
    assert "(rotation:primary): <@U0CAT>" in texts(step)
    assert "U0CAT" in oncall.slack.channels[p0.channel_id or ""].members

    [entry] = oncall.slack.wait_for(lambda: latest(oncall.engine, handler_glob="oncall.override"))
    assert entry.user_id == "U0BEN"
    assert entry.outcome == "ok"


@pytest.mark.parametrize(
    ("text", "user", "message"),
    [
        ("override <@U0GHOST> --from now --to +2h", "U0ANA", "Slack knows no user `U0GHOST`"),
        ("override <@U0CAT> --from +4h --to +2h", "U0ANA", "must be after `--from`"),
        (
            "override <@U0CAT> --from now --to +2h --rotation tertiary",
            "U0ANA",
            "Unknown rotation `tertiary`. Rotations: primary, secondary.",
        ),
        (
            "override <@U0CAT> --from now --to +2h",
            "U0ALICE",
            "Only members of primary and operators may add its overrides.",
        ),
        ("override <@U0CAT> --from someday --to +2h", "U0ANA", "`someday` is not a time"),
        ("override <@U0CAT> --from 2026-11-01 --to +2h", "U0ANA", "`--from` is in the past"),
        ("override <@U0CAT> --from now --to +40d", "U0ANA", "at most 31 days"),
        ("override cat --from now --to +2h", "U0ANA", "`cat` is not a Slack user"),
        ("override <@U0CAT> --to +2h", "U0ANA", "Usage: `override @user --from WHEN --to WHEN"),
        ("schedule --weeks 99", "U0ANA", "`--weeks` takes a number from 1 to 26."),
    ],
)
def test_bad_input_gets_a_clear_message(oncall: OncallHarness, text: str, user: str, message: str) -> None:
    oncall.slack.unknown_users.add("U0GHOST")
    [answer] = oncall.oncall(text, user=user)
    assert message in texts(answer)
    # The answer goes out first, the audit row right after it.
    [entry] = oncall.slack.wait_for(lambda: latest(oncall.engine, handler_glob="oncall.*"))
    assert entry.outcome == "error"


def test_overrides_are_listed_and_removed_by_those_allowed(oncall: OncallHarness) -> None:
    oncall.oncall("override <@U0EVE> --from now --to +1d --rotation secondary --reason swap", user="U0OPS")
    [clash] = oncall.oncall("override <@U0DAN> --from +2h --to +3h --rotation secondary", user="U0EVE")
    assert "overlaps override #1" in texts(clash)
    [listed] = oncall.oncall("overrides", user="U0ALICE")
    assert "#1" in texts(listed)
    assert "swap" in texts(listed)
    [refused] = oncall.oncall("overrides remove 1", user="U0ALICE")
    assert "Only members of secondary, operators or whoever added it" in texts(refused)
    [removed] = oncall.oncall("overrides remove 1", user="U0DAN")
    assert "Override #1 removed" in texts(removed)
    [empty] = oncall.oncall("overrides", user="U0ALICE")
    assert "No current or future overrides." in texts(empty)
    oncall.slack.wait_for(lambda: len(latest(oncall.engine, handler_glob="oncall.override*")) == 6)
    audited = sorted(
        (e.handler or "", e.user_id, e.outcome)
        for e in latest(oncall.engine, handler_glob="oncall.override*")
    )
    assert audited == [
        ("oncall.override", "U0EVE", "error"),
        ("oncall.override", "U0OPS", "ok"),
        ("oncall.overrides", "U0ALICE", "ok"),
        ("oncall.overrides", "U0ALICE", "ok"),
        ("oncall.overrides.remove", "U0ALICE", "error"),
        ("oncall.overrides.remove", "U0DAN", "ok"),
    ]


def test_oncall_is_in_the_help(oncall: OncallHarness) -> None:
    [answer] = oncall.oncall("help")
    for sub in ("now", "schedule", "override", "overrides", "overrides remove"):
        assert f"/oncall {sub}" in texts(answer)


# -- the hand-off post, once across replicas -----------------------------------------------------------


@pytest.fixture
def replicas(fake_slack: FakeSlack, fake_pd: FakePagerDuty, tmp_path: Path) -> Iterator[list[OncallHarness]]:
    url = make_pg_database("chatops_oncall")
    bots = [make_harness(fake_slack, fake_pd, tmp_path / f"r{i}", database_url=url) for i in range(2)]
    yield bots
    for h in bots:
        h.pager.close()
        stop_bot(h.bot)
    drop_pg_database(url)


def test_the_handoff_is_posted_once_across_replicas_with_the_meeting_agenda(
    replicas: list[OncallHarness],
) -> None:
    first, second = replicas
    old = first.declare("P1 checkout errors", user="U0ALICE")  # Tue 10 Nov: in this week
    first.clock.at(hours=2)
    first.command(f"resolve #{old.id} rolled back", user="U0ALICE")
    first.clock.at(days=2)
    still = first.declare("P2 slow search", user="U0ALICE")
    with first.engine.begin() as conn:
        add_pending(
            conn,
            id="a" * 32,
            requester="U0BOB",
            handler="k8s.rollout_restart",
            params="{}",
            target="prod/accu-platform/backend",
            preview="{}",
            created_at=START + timedelta(days=2),
            expires_at=START + timedelta(days=5),
            status="awaiting_approval",
        )
    handoff = datetime(2026, 11, 13, 16, 0, tzinfo=UTC)  # Fri 13 Nov 17:00 Berlin
    for h in replicas:
        h.clock.now = handoff + timedelta(minutes=1)
    gate = threading.Barrier(2)

    def tick(h: OncallHarness) -> None:
        gate.wait()
        assert h.bot.runtime.scheduler is not None
        h.bot.runtime.scheduler.tick(handoff + timedelta(minutes=1))

    threads = [threading.Thread(target=tick, args=(h,)) for h in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    second.bot.runtime.scheduler.tick(handoff + timedelta(minutes=20))  # type: ignore[union-attr]
    posts = first.posts("ops", "On-call hand-off")
    assert len(posts) == 1
    text = posts[0]["text"]
    assert "Fri 13 Nov 17:00 Europe/Berlin" in text
    assert "*primary*: <@U0ANA> → <@U0BEN>" in text
    assert "*secondary*: <@U0DAN> → <@U0EVE>" in text
    assert f"#{still.id} P2 slow search — investigating, open 1d 7h" in text
    assert "*not acknowledged*" in text
    assert "`k8s.rollout_restart` on prod/accu-platform/backend by <@U0BOB> — awaiting approval" in text
    assert f"#{old.id} P1 checkout errors — 2h, resolved" in text
    assert "*Incidents since the last hand-off* (2, since Fri 06 Nov 17:00)" in text
    # The next week's hand-off is a new post.
    nxt = handoff + timedelta(weeks=1, minutes=1)
    first.bot.runtime.scheduler.tick(nxt)  # type: ignore[union-attr]
    second.bot.runtime.scheduler.tick(nxt)  # type: ignore[union-attr]
    assert len(first.posts("ops", "On-call hand-off")) == 2
    assert "<@U0BEN> → <@U0CAT>" in first.posts("ops", "On-call hand-off")[1]["text"]
