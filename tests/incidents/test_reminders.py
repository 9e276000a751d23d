"""Status-update reminders on a moved clock: due, moved by updates, snoozed, stopped by resolve."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents import claims, records
from bot.incidents.reminders import Reminders
from bot.slack.ids import ActionId
from bot.store.timeline import events
from tests.incidents.conftest import START, Harness, texts


def test_reminders_follow_updates_snoozes_and_stop_at_resolve(harness: Harness) -> None:
    slack = harness.slack
    inc = harness.declare("P2 Checkout latency --service backend")
    channel = inc.channel_id or ""

    harness.tick(minutes=29)
    assert harness.reminders(inc) == []

    harness.tick(minutes=30)
    [first] = harness.reminders(inc)
    assert "<@U0ALICE>" in first["text"]  # the commander
    actions = [e["action_id"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == [
        ActionId.INCIDENT_UPDATE,
        ActionId.INCIDENT_SNOOZE_15,
        ActionId.INCIDENT_SNOOZE_30,
        ActionId.INCIDENT_SNOOZE_60,
    ]
    harness.tick(minutes=31)
    harness.tick(minutes=45)
    assert len(harness.reminders(inc)) == 1

    harness.tick(minutes=60)
    assert len(harness.reminders(inc)) == 2

    # An update at 70m: posted in the channel and the announcement's thread; next due at 100m.
    harness.clock.at(minutes=70)
    [answer] = harness.command("update Rolled back the 08:55 deploy; error rate falling", channel=channel)
    assert "next one due 10:40 UTC" in texts(answer)
    [update] = harness.posts(channel, "Update on incident #1")
    assert "Rolled back the 08:55 deploy" in texts(update)
    incidents_channel = slack.channel_named("incidents")
    assert incidents_channel is not None
    [threaded] = harness.posts("incidents", "Update on incident #1")
    assert threaded["thread_ts"] == inc.announcement_ts
    harness.tick(minutes=99)
    assert len(harness.reminders(inc)) == 2
    harness.tick(minutes=100)
    assert len(harness.reminders(inc)) == 3

    # Snooze 60 from the reminder's button at 101m: nothing until 161m.
    harness.clock.at(minutes=101)
    r = harness.bot.client.action(
        ActionId.INCIDENT_SNOOZE_60, f"{inc.id}:60", user="U0ALICE", channel=channel
    )
    assert r.status_code == 200
    harness.wait_post(channel, "snoozed the status reminder for 60m")
    harness.tick(minutes=130)
    harness.tick(minutes=160)
    assert len(harness.reminders(inc)) == 3
    harness.tick(minutes=161)
    assert len(harness.reminders(inc)) == 4

    # Resolve stops everything: reminders and the escalation ladder.
    harness.clock.at(minutes=170)
    harness.command("resolve Rollback fixed it", channel=channel)
    [resolved] = harness.posts(channel, "resolved by <@U0ALICE> after 2h 50m")
    assert "postmortem" in resolved["text"]
    reminders_before, escalations_before = len(harness.reminders(inc)), len(harness.escalations(inc))
    for minutes in (200, 300, 24 * 60, 3 * 24 * 60):
        harness.tick(minutes=minutes)
    assert len(harness.reminders(inc)) == reminders_before
    assert len(harness.escalations(inc)) == escalations_before
    inc = harness.incident(inc.id)
    assert (inc.status, inc.next_update_due, inc.next_escalation_due) == ("resolved", None, None)
    kinds = [e.kind for e in events(harness.engine, inc.id)]
    assert kinds.count("update") == 1
    assert "snooze" in kinds
    assert kinds[-1] == "resolved"


def test_a_bot_down_for_two_hours_posts_one_reminder_not_four(harness: Harness) -> None:
    inc = harness.declare("P1 Orders stuck")
    harness.command(f"ack {inc.id}")  # keep escalation out of the picture
    harness.tick(hours=2, minutes=1)
    assert len(harness.reminders(inc)) == 1
    harness.tick(hours=2, minutes=2)
    assert len(harness.reminders(inc)) == 1
    # The next one is due an interval after the overdue one, not on the old grid.
    assert harness.incident(inc.id).next_update_due == START + timedelta(hours=2, minutes=31)
    harness.tick(hours=2, minutes=31)
    assert len(harness.reminders(inc)) == 2


def test_a_reminder_slack_refused_is_posted_on_the_next_tick_once(harness: Harness) -> None:
    inc = harness.declare("P2 Emails delayed")
    harness.command(f"ack {inc.id}")
    harness.slack.fail("chat.postMessage", "fatal_error")
    harness.tick(minutes=30)
    assert harness.reminders(inc) == []
    row = harness.incident(inc.id)
    assert row.next_update_due is not None
    assert row.next_update_due <= START + timedelta(minutes=30, seconds=1)
    harness.tick(minutes=30, seconds=15)
    harness.tick(minutes=30, seconds=30)
    assert len(harness.reminders(inc)) == 1
    assert harness.incident(inc.id).next_update_due == START + timedelta(minutes=60, seconds=15)


def test_a_claim_whose_poster_died_is_taken_again_after_the_lease(harness: Harness) -> None:
    inc = harness.declare("P2 Cache misses")
    harness.command(f"ack {inc.id}")
    poster = harness.bot.runtime.part(Reminders)
    # Claimed (due moved forward, lease stamped) by a replica that then died before posting.
    now = START + timedelta(minutes=30)
    claimed = claims.claim(
        harness.engine,
        poster.slot,
        now=now,
        lease=poster.lease,
        batch=10,
        planner=lambda i: poster.plan(i, now),
    )
    assert [c.incident.id for c in claimed] == [inc.id]
    harness.tick(minutes=31)
    assert harness.reminders(inc) == []  # the lease is fresh: someone is posting it
    harness.tick(minutes=35, seconds=1)
    assert len(harness.reminders(inc)) == 1  # stale lease: retried
    harness.tick(minutes=36)
    assert len(harness.reminders(inc)) == 1
    assert records.require(harness.engine, inc.id).next_update_due == START + timedelta(minutes=65, seconds=1)


def test_public_updates_and_status_changes_are_recorded(harness: Harness) -> None:
    inc = harness.declare("P1 API errors")
    channel = inc.channel_id or ""
    harness.clock.at(minutes=10)
    harness.command(
        "update --public --status identified A bad index migration locks the orders table", channel=channel
    )
    harness.clock.at(minutes=20)
    harness.command("update Internal: DBA is on it", channel=channel)
    updates = [e for e in events(harness.engine, inc.id) if e.kind == "update"]
    assert [(e.text, e.public) for e in updates] == [
        ("A bad index migration locks the orders table", True),
        ("Internal: DBA is on it", False),
    ]
    row = harness.incident(inc.id)
    assert row.status == "identified"
    assert harness.slack.channels[channel].topic.startswith("P1 | Identified | IC:")
    assert "public" in texts(harness.posts(channel, "Update on incident #1")[0])
    # The update button opens the form; its submission is an update like the command.
    r = harness.bot.client.action(ActionId.INCIDENT_UPDATE, str(inc.id), user="U0BOB", channel=channel)
    assert r.status_code == 200
    [opened] = harness.slack.wait_calls("views.open")
    assert "Update incident #1" in str(opened.args["view"])


def test_reminders_for_an_archived_channel_go_to_the_incidents_channel(harness: Harness) -> None:
    inc = harness.declare("P2 Thumbnails missing")
    harness.command(f"ack {inc.id}")
    del harness.slack.channels[inc.channel_id or ""]  # archived and gone: Slack says channel_not_found
    harness.tick(minutes=30)
    [reminder] = harness.posts("incidents", "status update for incident #1")
    assert "<@U0ALICE>" in reminder["text"]
    harness.tick(minutes=31)
    assert len(harness.posts("incidents", "status update for incident #1")) == 1
