"""Roles, status, list, the timeline (pins included), and the post-mortem in Slack and from the terminal."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app as cli
from bot.slack.ids import ActionId, CallbackId
from bot.store.timeline import events, record_for_channel
from tests.incidents.conftest import START, Harness, input_select, input_text, texts, view_submission
from tests.support import sign


def test_roles_show_in_the_topic_and_the_summary(harness: Harness) -> None:
    inc = harness.declare("P1 Checkout errors --service backend")
    channel = inc.channel_id or ""
    harness.command("assign tech-lead <@U0BOB|bob>", channel=channel)
    harness.command(f"assign {inc.id} commander <@U0CAROL>")
    # Alice handed command over: roles are now Carol's (or a role holder's) to give.
    harness.command("assign db <@U0DAVE>", channel=channel, user="U0CAROL")
    topic = harness.slack.channels[channel].topic
    assert topic == "P1 | Investigating | IC: @u0carol | Tech: @u0bob | DB: @u0dave"
    assert {"U0BOB", "U0CAROL", "U0DAVE"} <= harness.slack.channels[channel].members
    summary = [c for c in harness.slack.calls_to("chat.update") if c.args["ts"] == inc.summary_ts][-1]
    for role in (
        "Incident commander*\\n<@U0CAROL>",
        "Technical lead*\\n<@U0BOB>",
        "Database lead*\\n<@U0DAVE>",
    ):
        assert role in texts(summary.args)
    assert harness.incident(inc.id).commander == "U0CAROL"
    [answer] = harness.command("assign chef <@U0EVE>", channel=channel)
    assert "Unknown role `chef`" in texts(answer)
    [answer] = harness.command("assign tech @eve", channel=channel)
    assert "is not a Slack user" in texts(answer)
    # Reminders now mention the new commander.
    harness.tick(minutes=30)
    assert "<@U0CAROL>" in harness.reminders(inc)[0]["text"]


def test_status_list_and_errors_outside_an_incident_channel(harness: Harness) -> None:
    first = harness.declare("P2 Search slow --service frontend")
    harness.clock.at(minutes=5)
    second = harness.declare("P0 Site down")
    harness.clock.at(minutes=12)
    harness.command("status monitoring", channel=first.channel_id or "")
    [status] = harness.command("status", channel=first.channel_id or "")
    assert "Status: *monitoring*" in texts(status)
    assert "Next status update due 09:30 UTC (in 18m)" in texts(status)
    [listing] = harness.command("list")
    body = texts(listing)
    for expected in ("#1", "#2", "P0", "P2", "Site down", "monitoring", "@u0alice", "12m", "7m", "2 open"):
        assert expected in body, expected
    harness.command(f"resolve #{second.id} Restarted the load balancer")
    [listing] = harness.command("list")
    assert "Site down" not in texts(listing)
    assert "1 open" in texts(listing)
    [answer] = harness.command("ack")  # typed in #general, not an incident channel
    assert "This channel is not an incident's" in texts(answer)
    [answer] = harness.command("ack 99")
    assert "There is no incident #99" in texts(answer)
    [answer] = harness.command(f"update #{second.id} too late")
    assert "already resolved" in texts(answer)


def _pin_event(channel: str, user: str, ts: str, text: str) -> dict[str, object]:
    return {
        "type": "pin_added",
        "user": user,
        "channel_id": channel,
        "item": {
            "type": "message",
            "channel": channel,
            "created_by": user,
            "message": {"type": "message", "user": "U0DEV1", "text": text, "ts": ts},
        },
        "event_ts": "1772442000.000100",
    }


def test_pins_and_pushpins_go_on_the_timeline_once(harness: Harness) -> None:
    inc = harness.declare("P1 Queue backlog --service backend")
    channel = inc.channel_id or ""
    slack = harness.slack
    ts1 = slack.post_as_user(channel, "U0DEV1", "Consumer lag started right after the 08:55 deploy")
    ts2 = slack.post_as_user(channel, "U0DEV2", "Partition 7 has a poison message")

    harness.clock.at(minutes=3)
    harness.event(_pin_event(channel, "U0BOB", ts1, "Consumer lag started right after the 08:55 deploy"))
    slack.wait_for(lambda: len(_pins(harness, inc.id)) == 1)  # listeners run after the ack
    harness.clock.at(minutes=4)
    harness.event(
        {
            "type": "reaction_added",
            "user": "U0CAROL",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": channel, "ts": ts2},
            "item_user": "U0DEV2",
            "event_ts": "1772442060.000200",
        }
    )
    slack.wait_for(lambda: len(_pins(harness, inc.id)) == 2)
    # The same message pinned again (or Slack redelivering the event) adds nothing, and
    # other emoji are not pins; a last pin shows the events before it were handled.
    harness.event(_pin_event(channel, "U0BOB", ts1, "Consumer lag started right after the 08:55 deploy"))
    harness.event(
        {
            "type": "reaction_added",
            "user": "U0CAROL",
            "reaction": "eyes",
            "item": {"type": "message", "channel": channel, "ts": ts1},
            "event_ts": "1772442070.000300",
        }
    )
    ts3 = slack.post_as_user(channel, "U0DEV1", "Skipping the poison message fixed it")
    harness.clock.at(minutes=6)
    harness.event(_pin_event(channel, "U0DEV1", ts3, "Skipping the poison message fixed it"))
    slack.wait_for(lambda: len(_pins(harness, inc.id)) >= 3)
    pins = _pins(harness, inc.id)
    assert [(p.author, p.text, p.at) for p in pins] == [
        ("U0BOB", "Consumer lag started right after the 08:55 deploy", START.replace(minute=3)),
        ("U0CAROL", "Partition 7 has a poison message", START.replace(minute=4)),
        ("U0DEV1", "Skipping the poison message fixed it", START.replace(minute=6)),
    ]
    [shown] = harness.command("timeline", channel=channel)
    assert "Pinned by @u0carol: Partition 7 has a poison message" in texts(shown)


def _pins(harness: Harness, incident_id: int) -> list:  # type: ignore[type-arg]
    return [e for e in events(harness.engine, incident_id) if e.kind == "pin"]


def test_runbook_button_runs_the_services_runbook_in_the_channel(harness: Harness) -> None:
    inc = harness.declare("P2 DB CPU high --service backend")
    before = len(harness.slack.responses)
    harness.bot.client.action(
        ActionId.INCIDENT_RUNBOOK, str(inc.id), user="U0BOB", channel=inc.channel_id or ""
    )
    [picker] = harness.slack.wait_for(lambda: harness.slack.responses[before:])
    assert "Which runbook for incident #1?" in texts(picker)
    assert '"value": "1:high-db-cpu"' in texts(picker)


def test_postmortem_from_slack_and_from_the_terminal(harness: Harness, tmp_path: Path) -> None:
    inc = harness.declare("P1 Checkout errors --service backend")
    channel = inc.channel_id or ""
    harness.clock.at(minutes=4)
    harness.command("ack", user="U0ONCALL", channel=channel)
    harness.clock.at(minutes=9)
    harness.command("assign tech <@U0BOB>", channel=channel)
    harness.clock.at(minutes=20)
    harness.command("update --status identified A migration locked the orders table", channel=channel)
    # Other parts of the bot put runbook runs and confirmed actions on the timeline.
    assert record_for_channel(
        harness.engine,
        channel,
        kind="action",
        author="U0BOB",
        text="k8s.rollout_undo backend",
        at=START.replace(minute=31),
    )
    harness.clock.at(minutes=35)
    harness.command("status monitoring", channel=channel)
    harness.clock.at(minutes=83)
    harness.command("resolve Rolled back the migration", channel=channel)

    harness.command("postmortem", channel=channel)
    # The Markdown, then its timeline chart beside it.
    uploads = harness.slack.calls_to("files.completeUploadExternal")
    assert [u.args["channel_id"] for u in uploads] == [channel, channel]
    [content] = [c for c in harness.slack.uploads.values() if not c.startswith(b"\x89PNG")]
    md = content.decode()
    for section in (
        "## Summary",
        "## Timeline",
        "## Impact",
        "## Root Cause",
        "## Resolution",
        "## Action Items",
        "## Lessons Learned",
    ):
        assert section in md, section
    assert md.startswith("# Incident Report: #1 — Checkout errors")
    assert "- **Severity**: P1 (High)" in md
    assert "- **Technical lead**: @u0bob" in md
    assert "- **09:04** — Acknowledged by @u0oncall" in md
    assert "- **09:20** — Status update by @u0alice: A migration locked the orders table" in md
    assert "- **Duration**: 1h 23m" in md
    assert "- **Time to acknowledge**: 4m" in md
    assert "- A migration locked the orders table" in md.split("## Root Cause")[1].split("##")[0]
    assert "Rolled back the migration" in md.split("## Resolution")[1]
    assert "09:31 — k8s.rollout_undo backend (@u0bob)" in md

    out = tmp_path / "pm.md"
    env = {
        "DATABASE_URL": str(harness.bot.runtime.store.url),
        "CHATOPS_CONFIG": str(tmp_path / "none.yaml"),
    }
    result = CliRunner().invoke(cli, ["incident", "postmortem", str(inc.id), "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    terminal = out.read_text()
    # The same document; the terminal has no Slack, so people are named by their ids.
    assert re.sub(r"@(U0[A-Z0-9]+)", lambda m: "@" + m.group(1).lower(), terminal) == md
    result = CliRunner().invoke(cli, ["incident", "postmortem", "42"], env=env)
    assert result.exit_code == 1
    assert "There is no incident #42" in result.output


def test_update_and_resolve_forms_from_the_summary_buttons(harness: Harness) -> None:
    slack = harness.slack
    inc = harness.declare("P1 Card payments failing")
    channel = inc.channel_id or ""
    # Public updates and resolving are for the commander, role holders and operators.
    harness.command(f"assign {inc.id} tech-lead <@U0BOB>")

    harness.bot.client.action(ActionId.INCIDENT_UPDATE, str(inc.id), user="U0BOB", channel=channel)
    slack.wait_calls("views.open", 1)
    metadata = {"incident": inc.id, "channel": channel}
    empty = view_submission(
        CallbackId.INCIDENT_UPDATE,
        {
            "text": input_text("   "),
            "status": input_select("investigating"),
            "public": {"type": "checkboxes"},
        },
        metadata,
    )
    r = harness.bot.client.post(empty)
    assert r.json() == {"response_action": "errors", "errors": {"text": "Say what changed and what is next."}}

    harness.clock.at(minutes=12)
    update = view_submission(
        CallbackId.INCIDENT_UPDATE,
        {
            "text": input_text("The acquirer's TLS certificate expired; renewing"),
            "status": input_select("identified"),
            "public": {"type": "checkboxes", "selected_options": [{"value": "public"}]},
        },
        metadata,
    )
    assert harness.bot.client.post(update).status_code == 200
    harness.wait_post(channel, "Update on incident #1")
    row = harness.incident(inc.id)
    assert row.status == "identified"
    assert row.next_update_due == START + timedelta(minutes=42)
    [ev] = [e for e in events(harness.engine, inc.id) if e.kind == "update"]
    assert (ev.author, ev.public) == ("U0BOB", True)

    harness.bot.client.action(ActionId.INCIDENT_RESOLVE, str(inc.id), user="U0BOB", channel=channel)
    [_, opened] = slack.wait_calls("views.open", 2)
    assert "Resolve incident #1" in str(opened.args["view"])
    harness.clock.at(minutes=50)
    resolve = view_submission(
        CallbackId.INCIDENT_RESOLVE, {"summary": input_text("Certificate renewed")}, metadata
    )
    assert harness.bot.client.post(resolve).status_code == 200
    harness.wait_post(channel, "Incident #1 resolved by <@U0BOB> after 50m: Certificate renewed")
    assert harness.incident(inc.id).status == "resolved"
    # A form submitted after the incident was resolved says so in the form. (Slack signs the
    # new submission anew; the very same signed request again would be a replay, dropped.)
    # A second later than now: never the first signing's second, which was at most now.
    r = harness.bot.client.post(update, headers=sign(update, timestamp=int(time.time()) + 1))
    assert r.json()["errors"]["text"].startswith("This incident is resolved")


def test_snooze_from_the_command(harness: Harness) -> None:
    inc = harness.declare("P3 Avatar uploads slow")
    harness.clock.at(minutes=29)
    [answer] = harness.command("snooze 45m", channel=inc.channel_id or "")
    assert "Reminder snoozed until 10:14 UTC" in texts(answer)
    harness.tick(minutes=30)
    assert harness.reminders(inc) == []
    harness.tick(minutes=74)
    assert len(harness.reminders(inc)) == 1
