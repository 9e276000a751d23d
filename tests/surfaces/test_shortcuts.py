"""Shortcuts and their modals through the real endpoint: declare, declare from a message, add
to the timeline; and `/incident declare` alone opening the same form."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.incidents import records
from bot.slack.ids import CallbackId
from bot.store.timeline import events
from tests.incidents.conftest import Harness, texts
from tests.support import sign
from tests.surfaces.conftest import (
    blocks_text,
    message_action,
    opened_view,
    select,
    shortcut,
    submission,
    text_in,
    user_select,
    users_select,
)


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def test_global_shortcut_opens_the_form_first_and_declares_with_commander_and_responders(
    surfaces: Harness,
) -> None:
    h = surfaces
    # Slack is slow for everything but the form: views.open is still the first call made.
    gate = h.slack.hold("users.info")
    try:
        r = h.bot.client.post(shortcut(CallbackId.SHORTCUT_DECLARE, user="U0ALICE"))
        assert r.status_code == 200
        assert r.text == ""
        [opened] = h.slack.wait_calls("views.open")
    finally:
        gate.set()
    assert next(c.method for c in h.slack.calls if c.method != "auth.test") == "views.open"
    view = opened_view(opened.args)
    assert view["callback_id"] == CallbackId.INCIDENT_DECLARE
    assert block(view, "commander")["element"]["initial_user"] == "U0ALICE"
    assert block(view, "responders")["element"]["type"] == "multi_users_select"

    state = {
        "severity": select("P1"),
        "title": text_in("Payments time out"),
        "service": select("backend"),
        "description": text_in("Stripe calls time out since 10:02."),
        "commander": user_select("U0CAROL"),
        "responders": users_select(["U0DAVE", "U0ERIN"]),
    }
    r = h.bot.client.post(submission(CallbackId.INCIDENT_DECLARE, state, metadata=view["private_metadata"]))
    assert r.status_code == 200
    assert r.text == ""
    inc = h.slack.wait_for(lambda: next((i for i in records.list_open(h.engine) if i.announcement_ts), None))
    assert (inc.title, inc.severity, inc.declared_by, inc.commander) == (
        "Payments time out",
        "P1",
        "U0ALICE",
        "U0CAROL",
    )
    h.slack.wait_for(lambda: records.require(h.engine, inc.id).setup_pending == ())
    members = h.slack.channels[inc.channel_id or ""].members
    assert {"U0ALICE", "U0CAROL", "U0DAVE", "U0ERIN", "U0ONCALL", "U0DEV1"} <= members
    # No channel to answer in (a global shortcut): the declarer hears it in a direct message.
    h.slack.wait_for(
        lambda: [
            c
            for c in list(h.slack.calls)  # wait_for holds the fake's lock: no calls_to here
            if c.method == "chat.postMessage"
            and c.args.get("channel") == "U0ALICE"
            and "Incident #1 declared" in str(c.args.get("text"))
        ]
    )


def test_the_form_names_what_is_wrong(surfaces: Harness) -> None:
    h = surfaces
    state = {
        "severity": select(None),
        "title": text_in("x"),
        "commander": user_select(None),
        "responders": users_select([f"U0P{i:04d}" for i in range(31)]),
    }
    r = h.bot.client.post(submission(CallbackId.INCIDENT_DECLARE, state, metadata='{"channel": ""}'))
    assert r.json()["response_action"] == "errors"
    assert set(r.json()["errors"]) == {"severity", "title", "responders"}
    assert records.list_open(h.engine) == []


def test_declare_from_a_message_prefills_the_form_and_puts_the_message_on_the_timeline(
    surfaces: Harness,
) -> None:
    h = surfaces
    text = "Checkout returns 502 for EU customers\nSeen by support since 10:40, 30 tickets."
    ts = h.slack.post_as_user("C00000001", "U0SUPPORT", text)
    message = {"ts": ts, "user": "U0SUPPORT", "text": text}
    r = h.bot.client.post(
        message_action(CallbackId.SHORTCUT_DECLARE_FROM_MESSAGE, message, channel="C00000001", user="U0BOB")
    )
    assert r.status_code == 200
    [opened] = h.slack.wait_calls("views.open")
    view = opened_view(opened.args)
    assert block(view, "title")["element"]["initial_value"] == "Checkout returns 502 for EU customers"
    assert block(view, "description")["element"]["initial_value"] == text
    assert block(view, "commander")["element"]["initial_user"] == "U0BOB"
    # Then the link, once Slack gave it: the form is updated in place.
    [updated] = h.slack.wait_calls("views.update")
    assert h.slack.calls.index(h.slack.calls_to("chat.getPermalink")[0]) > h.slack.calls.index(opened)
    link = f"https://test.slack.com/archives/C00000001/p{ts.replace('.', '')}"
    form = opened_view(updated.args)
    assert f"<{link}|this message> by <@U0SUPPORT> in <#C00000001>" in blocks_text(form)

    state = {
        "severity": select("P2"),
        "title": text_in("Checkout returns 502 for EU customers"),
        "service": select(None),
        "description": text_in(text),
        "commander": user_select("U0BOB"),
        "responders": users_select([]),
    }
    r = h.bot.client.post(
        submission(CallbackId.INCIDENT_DECLARE, state, metadata=form["private_metadata"], user="U0BOB")
    )
    assert r.status_code == 200
    assert r.text == ""
    inc = h.slack.wait_for(lambda: next((i for i in records.list_open(h.engine) if i.announcement_ts), None))
    [msg] = events(h.engine, inc.id, kinds=("message",))
    assert (msg.author, msg.text) == ("U0SUPPORT", " ".join(text.split()))
    assert msg.data["permalink"] == link
    assert msg.data["added_by"] == "U0BOB"
    # /incident timeline shows it with its link; the declarer hears back in the channel.
    h.wait_post("C00000001", "Incident #1 declared")
    [answer] = h.command(f"timeline {inc.id}")
    assert "Message from @u0support: Checkout returns 502" in texts(answer)
    assert link in texts(answer)


def test_add_to_timeline_picks_an_open_incident_once(surfaces: Harness) -> None:
    h = surfaces
    first = h.declare("P1 Checkout errors")
    second = h.declare("P3 Slow search")
    ts = h.slack.post_as_user("C00000001", "U0DEV1", "Deploy 2.3.1 went out at 10:38 <https://ci/123>")
    message = {"ts": ts, "user": "U0DEV1", "text": "Deploy 2.3.1 went out at 10:38 <https://ci/123>"}
    h.bot.client.post(message_action(CallbackId.SHORTCUT_ADD_TO_TIMELINE, message, channel="C00000001"))
    [opened] = h.slack.wait_calls("views.open")
    view = opened_view(opened.args)
    assert view["callback_id"] == CallbackId.TIMELINE_ADD
    options = [o["value"] for o in block(view, "incident")["element"]["options"]]
    assert options == [str(second.id), str(first.id)]  # newest first
    assert "<@U0DEV1>: Deploy 2.3.1 went out" in blocks_text(view)

    body = submission(
        CallbackId.TIMELINE_ADD, {"incident": select(str(first.id))}, metadata=view["private_metadata"]
    )
    r = h.bot.client.post(body)
    assert r.status_code == 200
    assert r.text == ""
    h.slack.wait_for(lambda: events(h.engine, first.id, kinds=("message",)))
    [entry] = events(h.engine, first.id, kinds=("message",))
    link = f"https://test.slack.com/archives/C00000001/p{ts.replace('.', '')}"
    assert (entry.author, entry.data["permalink"], entry.data["added_by"]) == ("U0DEV1", link, "U0ALICE")
    assert "Deploy 2.3.1 went out at 10:38" in entry.text
    # The war room hears about it.
    h.wait_post(first.channel_id or "", "to the timeline of incident #1")

    # The same message again: the form says so, nothing is added twice. (A new submission, signed
    # anew by Slack; the very same signed request again would be a replay, dropped before this.)
    # A second later than now: never the first signing's second, which was at most now.
    r = h.bot.client.post(body, headers=sign(body, timestamp=int(time.time()) + 1))
    assert r.json() == {
        "response_action": "errors",
        "errors": {"incident": f"This message is already on incident #{first.id}'s timeline."},
    }
    assert len(events(h.engine, first.id, kinds=("message",))) == 1


def test_add_to_timeline_without_an_open_incident_says_so(surfaces: Harness) -> None:
    h = surfaces
    ts = h.slack.post_as_user("C00000001", "U0DEV1", "hello")
    h.bot.client.post(
        message_action(
            CallbackId.SHORTCUT_ADD_TO_TIMELINE,
            {"ts": ts, "user": "U0DEV1", "text": "hello"},
            channel="C00000001",
        )
    )
    [opened] = h.slack.wait_calls("views.open")
    assert "There is no open incident" in json.dumps(opened_view(opened.args))


def test_incident_declare_alone_opens_the_same_form(surfaces: Harness) -> None:
    h = surfaces
    r = h.bot.client.command("/incident", "declare", user="U0BOB")
    assert r.status_code == 200
    [opened] = h.slack.wait_calls("views.open")
    view = opened_view(opened.args)
    assert view["callback_id"] == CallbackId.INCIDENT_DECLARE
    assert block(view, "commander")["element"]["initial_user"] == "U0BOB"
    assert json.loads(view["private_metadata"]) == {"channel": "C00000001"}
