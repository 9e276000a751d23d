"""Declaring an incident: the row first, then channel, invites, topic, bookmarks, pin, checklist,
announcement; what Slack refuses is named and retried."""

from __future__ import annotations

import json
from pathlib import Path

from bot.incidents import records
from bot.slack.ids import ActionId, CallbackId
from bot.store.timeline import events
from tests.conftest import stop_bot
from tests.fakes.slack import BOT_USER, FakeSlack
from tests.incidents.conftest import (
    CONFIG,
    Clock,
    Harness,
    input_select,
    input_text,
    start_incident_bot,
    texts,
    view_submission,
)


def test_declare_sets_up_the_war_room(harness: Harness) -> None:
    slack = harness.slack
    inc = harness.declare("P1 Checkout errors for EU users --service backend")

    assert inc.id == 1
    assert (inc.severity, inc.status, inc.service) == ("P1", "investigating", "backend")
    assert inc.setup_pending == ()
    channel = slack.channels[inc.channel_id or ""]
    assert channel.name == "incident-20260302-p1-checkout-errors-for-eu-users"
    # Declarer, contacts.oncall, and the service's contacts (a group expanded, a user as is).
    assert {"U0ALICE", "U0ONCALL", "U0DEV1", "U0DEV2", "U0BACKLEAD"} <= channel.members
    assert channel.topic == "P1 | Investigating | IC: @u0alice"
    assert [(b["title"], b["link"]) for b in slack.bookmarks] == [
        ("Runbook: high-db-cpu", "https://git.example.com/ops/runbooks/high-db-cpu.yaml"),
        ("backend-down", "https://wiki.example.com/runbooks/backend-down"),
    ]
    assert slack.pins == [(inc.channel_id, inc.summary_ts)]
    [summary] = [m for m in harness.posts(inc.channel_id or "", "Incident #1") if m["ts"] == inc.summary_ts]
    buttons = [e["action_id"] for b in summary["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [
        ActionId.INCIDENT_ACK,
        ActionId.INCIDENT_UPDATE,
        ActionId.INCIDENT_RUNBOOK,
        ActionId.INCIDENT_RESOLVE,
    ]
    [checklist] = harness.posts(inc.channel_id or "", "response checklist")
    assert "P1 (High) response checklist" in texts(checklist)
    assert "respond within 15 minutes" in texts(checklist)
    incidents_channel = slack.channel_named("incidents")
    assert incidents_channel is not None
    [announcement] = harness.posts("incidents", "Incident #1 declared")
    assert f"<#{inc.channel_id}>" in texts(announcement)
    assert (inc.announcement_channel, inc.announcement_ts) == (incidents_channel.id, announcement["ts"])
    [declared] = events(harness.engine, inc.id)
    assert (declared.kind, declared.author) == ("declared", "U0ALICE")


def test_the_incident_has_its_number_before_slack_is_called(fake_slack: FakeSlack, tmp_path: Path) -> None:
    clock = Clock()
    config = CONFIG.replace("incidents:\n", 'incidents:\n  channel_name: "inc-{id}-{severity}-{slug}"\n')
    bot = start_incident_bot(fake_slack, tmp_path, clock, config=config)
    try:
        h = Harness(bot, fake_slack, clock)
        first = h.declare("P2 Slow search")
        second = h.declare("P3 Typo on the pricing page")
        # The channel name carries the number, so the row existed when the channel was created.
        assert (first.channel_name, second.channel_name) == (
            "inc-1-p2-slow-search",
            "inc-2-p3-typo-on-the-pricing-page",
        )
        [create] = [
            c for c in fake_slack.calls_to("conversations.create") if c.args["name"] == "inc-1-p2-slow-search"
        ]
        assert create.at < fake_slack.calls_to("chat.postMessage")[0].at
    finally:
        stop_bot(bot)


def test_name_collisions_get_numbered_suffixes(harness: Harness) -> None:
    harness.slack.add_channel("incident-20260302-p2-db-down")
    harness.slack.add_channel("incident-20260302-p2-db-down-2")
    inc = harness.declare("P2 DB down")
    assert inc.channel_name == "incident-20260302-p2-db-down-3"
    tried = [c.args["name"] for c in harness.slack.calls_to("conversations.create")]
    assert tried == [
        "incident-20260302-p2-db-down",
        "incident-20260302-p2-db-down-2",
        "incident-20260302-p2-db-down-3",
    ]


def test_names_keep_to_slacks_rules(harness: Harness) -> None:
    inc = harness.declare(
        "P0 Café: 50% of *ALL* payments FAIL — since the 10:42 deploy of v2.3.1 (see #ops) " + "x" * 90
    )
    name = inc.channel_name or ""
    assert name.startswith("incident-20260302-p0-caf-50-of-all-payments-fail")
    assert len(name) <= 80
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "--" not in name
    assert not name.endswith("-")


def test_refused_channel_creation_is_reported_and_retry_setup_finishes(harness: Harness) -> None:
    slack = harness.slack
    slack.fail("conversations.create", "missing_scope")
    answers = harness.command("declare P1 Payments down --service backend", answers=2)

    inc = harness.latest()  # recorded although Slack refused
    assert inc.channel_id is None
    assert inc.pending_steps == ["channel", "invite", "topic", "bookmarks", "summary", "pin", "checklist"]
    error = next(texts(a) for a in answers if "refused" in texts(a))
    assert "create the incident channel: Slack conversations.create: missing_scope" in error
    assert "invite the responders: waits for the incident channel" in error
    assert "/incident retry-setup 1" in error
    # The incident is still announced, without a channel yet.
    incidents_channel = slack.channel_named("incidents")
    assert incidents_channel is not None
    assert harness.posts("incidents", "Incident #1 declared")

    [done] = harness.command("retry-setup 1")
    assert "Incident #1 is set up" in texts(done)
    inc = harness.incident(inc.id)
    assert inc.setup_pending == ()
    channel = slack.channels[inc.channel_id or ""]
    assert channel.name == "incident-20260302-p1-payments-down"
    assert {"U0ALICE", "U0ONCALL", "U0DEV1"} <= channel.members
    assert channel.topic.startswith("P1 | Investigating")
    assert slack.pins == [(inc.channel_id, inc.summary_ts)]
    assert harness.posts(inc.channel_id or "", "response checklist")
    # The announcement now links the channel, and its thread says where the war room is.
    [fixed] = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == inc.announcement_ts]
    assert f"<#{inc.channel_id}>" in texts(fixed.args)
    assert harness.posts("incidents", f"War room for incident #1: <#{inc.channel_id}>")
    # Nothing is announced twice.
    assert len(harness.posts("incidents", "Incident #1 declared")) == 1

    [again] = harness.command("retry-setup 1")
    assert "nothing to retry" in texts(again)


def test_a_refused_pin_is_named_and_only_the_pin_is_retried(harness: Harness) -> None:
    harness.slack.fail("pins.add", "not_pinnable")
    answers = harness.command("declare P2 Search is slow", answers=2)
    assert any("pin the summary: Slack pins.add: not_pinnable" in texts(a) for a in answers)
    inc = harness.latest()
    assert inc.pending_steps == ["pin"]
    posted = len(harness.slack.calls_to("chat.postMessage"))
    harness.command(f"retry-setup #{inc.id}")
    assert harness.slack.pins == [(inc.channel_id, inc.summary_ts)]
    assert len(harness.slack.calls_to("chat.postMessage")) == posted  # no second summary
    assert records.require(harness.engine, inc.id).setup_pending == ()


def test_declare_usage_errors_name_the_problem(harness: Harness) -> None:
    [answer] = harness.command("declare P1 Checkout down --service billing")
    assert "Unknown service `billing`" in texts(answer)
    [answer] = harness.command("declare P7 Checkout down")
    assert "Unknown severity `P7`" in texts(answer)
    assert records.list_open(harness.engine) == []


def test_declare_without_a_title_opens_the_form_and_validates_it(harness: Harness) -> None:
    slack = harness.slack
    r = harness.bot.client.command("/incident", "declare P1", user="U0BOB", channel="C00000001")
    assert r.status_code == 200
    [opened] = slack.wait_calls("views.open")
    view = opened.args["view"] if isinstance(opened.args["view"], dict) else json.loads(opened.args["view"])
    assert view["callback_id"] == CallbackId.INCIDENT_DECLARE
    severity_block = next(b for b in view["blocks"] if b["block_id"] == "severity")
    assert severity_block["element"]["initial_option"]["value"] == "P1"

    bad = view_submission(
        CallbackId.INCIDENT_DECLARE,
        {
            "severity": input_select("P1"),
            "title": input_text("  x "),
            "service": input_select(None),
            "description": input_text(""),
        },
        {"channel": "C00000001"},
    )
    r = harness.bot.client.post(bad)
    assert r.status_code == 200
    assert r.json()["response_action"] == "errors"
    assert "at least 3 characters" in r.json()["errors"]["title"]
    assert records.list_open(harness.engine) == []

    good = view_submission(
        CallbackId.INCIDENT_DECLARE,
        {
            "severity": input_select("P1"),
            "title": input_text("Login fails for SSO users"),
            "service": input_select("backend"),
            "description": input_text("Okta callbacks return 500 since 09:00."),
        },
        {"channel": "C00000001"},
    )
    r = harness.bot.client.post(good)
    assert r.status_code == 200
    assert r.text == ""
    slack.wait_for(
        lambda: records.list_open(harness.engine) and records.list_open(harness.engine)[0].announcement_ts
    )
    inc = harness.latest()
    assert (inc.title, inc.service, inc.declared_by) == ("Login fails for SSO users", "backend", "U0BOB")
    assert inc.description == "Okta callbacks return 500 since 09:00."
    # The declarer hears about it where they opened the form.
    assert harness.wait_post("C00000001", "Incident #1 declared")
    assert BOT_USER in slack.channels[inc.channel_id or ""].members
