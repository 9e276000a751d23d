"""The escalation ladder: each step's contacts are notified while nobody acknowledges."""

from __future__ import annotations

from datetime import timedelta

from bot.slack.ids import ActionId
from bot.store.timeline import events
from tests.incidents.conftest import START, Harness, texts


def test_p0_ladder_fires_step_by_step_until_acknowledged(harness: Harness) -> None:
    slack = harness.slack
    inc = harness.declare("P0 Everything is down")
    channel = inc.channel_id or ""

    harness.tick(seconds=15)  # P0: on-call at once
    [first] = harness.escalations(inc)
    assert "Step 1/4 (oncall): <@U0ONCALL>" in texts(first)
    assert [e["action_id"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        ActionId.INCIDENT_ACK
    ]
    harness.tick(minutes=4)
    assert len(harness.escalations(inc)) == 1

    harness.tick(minutes=5)
    assert "Step 2/4 (senior): <@U0SENIOR>" in texts(harness.escalations(inc)[1])
    assert "U0SENIOR" in slack.channels[channel].members  # invited, so the mention notifies them

    harness.tick(minutes=15)
    third = harness.escalations(inc)[2]
    assert "Step 3/4 (manager): <!subteam^S0MANAGERS>" in texts(third)
    assert "U0MGR1" in slack.channels[channel].members  # the group's members were invited

    # The manager acknowledges from the button: the CTO is never paged.
    harness.clock.at(minutes=20)
    r = harness.bot.client.action(ActionId.INCIDENT_ACK, str(inc.id), user="U0MGR1", channel=channel)
    assert r.status_code == 200
    harness.wait_post(channel, "<@U0MGR1> acknowledged incident #1")
    for minutes in (30, 60, 600):
        harness.tick(minutes=minutes)
    assert len(harness.escalations(inc)) == 3
    row = harness.incident(inc.id)
    assert (row.acknowledged_by, row.acknowledged_at, row.next_escalation_due) == (
        "U0MGR1",
        START + timedelta(minutes=20),
        None,
    )
    timeline = [(e.kind, e.author) for e in events(harness.engine, inc.id)]
    assert timeline[-4:] == [
        ("escalation", "chatops"),
        ("escalation", "chatops"),
        ("escalation", "chatops"),
        ("ack", "U0MGR1"),
    ]
    # A second acknowledgement says who was first.
    [again] = harness.command(f"ack {inc.id}", user="U0BOB")
    assert "already acknowledged by <@U0MGR1>" in texts(again)


def test_steps_that_came_due_together_go_out_as_one_message(harness: Harness) -> None:
    inc = harness.declare("P1 Payments failing")
    harness.tick(hours=1, minutes=5)  # the bot was down: on-call, senior and manager all due
    [message] = harness.escalations(inc)
    for step in ("Step 1/3 (oncall)", "Step 2/3 (senior)", "Step 3/3 (manager)"):
        assert step in texts(message)
    assert harness.incident(inc.id).escalation_step == 3
    assert harness.incident(inc.id).next_escalation_due is None
    harness.tick(hours=5)
    assert len(harness.escalations(inc)) == 1


def test_a_severity_change_moves_the_ladder(harness: Harness) -> None:
    inc = harness.declare("P3 Report export slow")
    assert harness.incident(inc.id).next_escalation_due == START + timedelta(hours=24)
    harness.clock.at(minutes=10)
    harness.command("severity P0", channel=inc.channel_id or "")
    row = harness.incident(inc.id)
    assert row.severity == "P0"
    assert row.next_escalation_due == START  # P0's first step is at once: due now
    assert harness.slack.channels[row.channel_id or ""].topic.startswith("P0 | Investigating")
    harness.tick(minutes=10, seconds=15)
    [message] = harness.escalations(inc)
    assert "Step 1/4 (oncall)" in texts(message)


def test_a_failed_escalation_post_is_retried_not_skipped(harness: Harness) -> None:
    inc = harness.declare("P0 Data loss suspected")
    harness.slack.fail("chat.postMessage", "fatal_error")
    harness.tick(seconds=15)
    assert harness.escalations(inc) == []
    assert harness.incident(inc.id).escalation_step == 0
    harness.tick(seconds=30)
    [message] = harness.escalations(inc)
    assert "Step 1/4 (oncall)" in texts(message)
    assert harness.incident(inc.id).escalation_step == 1
