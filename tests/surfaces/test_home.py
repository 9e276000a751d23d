"""App Home through the real endpoint: what it shows, its buttons, and when it is published."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis as redis_lib

from bot.guard import pending
from bot.slack.ids import ActionId, CallbackId
from tests.conftest import REDIS_URL
from tests.incidents.conftest import Harness
from tests.surfaces.conftest import (
    blocks_text,
    conversation,
    deliver,
    home_action,
    opened_view,
    select,
    submission,
    text_in,
)


def open_home(h: Harness, user: str, *, shown: str = "") -> None:
    """The user opens the Home tab; `shown` is the hash of the view Slack shows them."""
    event: dict[str, Any] = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    if shown:
        event["view"] = {"id": "V0HOME", "type": "home", "hash": shown}
    deliver(h, event, uuid.uuid4().hex)


def settled(h: Harness) -> None:
    h.slack.wait_for(lambda: h.bot.runtime.extras["home.refresher"]._scheduled == set())


def publishes(h: Harness, user: str) -> list[dict[str, Any]]:
    # Reads without the fake's lock: also called inside `wait_for`, which holds it.
    return [
        c.args for c in list(h.slack.calls) if c.method == "views.publish" and c.args.get("user_id") == user
    ]


def home_of(h: Harness, user: str, contains: str = "", *, lacks: str = "") -> dict[str, Any]:
    """The user's published home, once it contains `contains` (and not `lacks`)."""

    def ready() -> dict[str, Any] | None:
        view = h.slack.homes.get(user)
        if view is None:
            return None
        text = blocks_text(view)
        return view if contains in text and not (lacks and lacks in text) else None

    return h.slack.wait_for(ready)  # type: ignore[no-any-return]


def buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e.get("value", ""))
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def test_home_shows_incidents_roles_oncall_and_buttons(surfaces: Harness) -> None:
    h = surfaces
    inc = h.declare("P1 Checkout errors for EU users --service backend")
    other = h.declare("P3 Typo on the pricing page", user="U0BOB")
    h.clock.at(minutes=42)

    open_home(h, "U0ALICE")
    view = home_of(h, "U0ALICE", "Open incidents (2)")
    text = blocks_text(view)
    assert view["type"] == "home"
    # Severity, age, commander, my role, the channel.
    assert "*#1 P1* (High) Checkout errors for EU users" in text
    assert f"<#{inc.channel_id}>" in text
    assert f"<#{other.channel_id}>" in text
    assert "age 42m" in text
    assert "IC <@U0ALICE> · you: *incident commander, declarer*" in text
    assert "IC <@U0BOB> · :rotating_light" in text  # not mine: no role shown
    # On call (contacts.oncall), and nothing waiting, no runbook runs yet.
    assert "<@U0ONCALL> (contacts.oncall)" in text
    assert "Nothing waits for your confirmation or approval." in text
    assert "None yet: *Run runbook* above" in text
    assert (ActionId.HOME_DECLARE, "declare") in buttons(view)
    assert (ActionId.HOME_RUNBOOK, "runbook") in buttons(view)

    # Opened again with nothing changed: not published again.
    before = len(publishes(h, "U0ALICE"))
    open_home(h, "U0ALICE", shown=h.slack.homes["U0ALICE"]["hash"])
    settled(h)
    assert len(publishes(h, "U0ALICE")) == before
    # Slack shows a view another replica published: this one publishes its own again.
    open_home(h, "U0ALICE", shown="h-from-another-replica")
    h.slack.wait_for(lambda: len(publishes(h, "U0ALICE")) == before + 1)


def test_home_follows_declare_ack_and_resolve_without_a_timer(surfaces: Harness) -> None:
    h = surfaces
    open_home(h, "U0ALICE")
    home_of(h, "U0ALICE", "Open incidents (0)")
    inc = h.declare("P2 Search is slow", user="U0BOB")
    assert "not acknowledged" in blocks_text(home_of(h, "U0ALICE", "Open incidents (1)"))
    h.command(f"ack {inc.id}", channel=inc.channel_id or "")
    home_of(h, "U0ALICE", "Open incidents (1)", lacks="not acknowledged")
    h.command(f"resolve #{inc.id} fixed the index", channel=inc.channel_id or "")
    home_of(h, "U0ALICE", "Open incidents (0)")
    # A declaration alone writes the incident row about ten times; the home followed the
    # declaration, the ack and the resolution in a handful of publishes.
    assert len(publishes(h, "U0ALICE")) <= 6
    # And nothing runs on a timer: with nothing changing, nothing is published.
    settled(h)
    quiet = len(publishes(h, "U0ALICE"))
    time.sleep(3 * h.bot.runtime.extras["home.refresher"].min_interval)
    assert len(publishes(h, "U0ALICE")) == quiet


def test_actions_waiting_on_me_with_their_buttons(surfaces: Harness) -> None:
    h = surfaces
    prefix = f"surfaces-{uuid.uuid4().hex[:8]}"
    r = redis_lib.Redis.from_url(REDIS_URL)
    r.set(f"{prefix}:a", "1")
    r.set(f"{prefix}:b", "2")
    try:
        open_home(h, "U0ALICE")
        open_home(h, "U0BOB")
        home_of(h, "U0BOB", "Waiting on you (0)")
        # Alice asks to delete keys: a pending action with a preview, in the channel and on her home.
        h.bot.client.command("/redis", f"delete {prefix}:* cache", user="U0ALICE")
        view = home_of(h, "U0ALICE", "Waiting on you (1)")
        [action] = pending.list_actions(h.engine)
        assert (ActionId.HOME_CONFIRM, action.id) in buttons(view)
        assert (ActionId.HOME_CANCEL, action.id) in buttons(view)
        assert "then an approver must approve it" in blocks_text(view)
        assert "Waiting on you (0)" in blocks_text(h.slack.homes["U0BOB"])  # not confirmed yet

        # She confirms from her home; the rule needs a second person: Bob's home asks him.
        assert (
            h.bot.client.post(home_action(ActionId.HOME_CONFIRM, action.id, user="U0ALICE")).status_code
            == 200
        )
        bob = home_of(h, "U0BOB", "Waiting on you (1)")
        assert (ActionId.HOME_APPROVE, action.id) in buttons(bob)
        assert (ActionId.HOME_REJECT, action.id) in buttons(bob)
        assert "<@U0ALICE> asks to run `redis.delete`" in blocks_text(bob)
        alice = home_of(h, "U0ALICE", "Waiting on you (0)")
        assert "approv" in blocks_text(alice)  # the notice says it waits for an approver
        # The approval request went to the channel the command came from, as for the message's button.
        h.slack.wait_for(lambda: h.posts("C00000001", "Approval needed: redis.delete"))

        # Bob approves from his home: it runs, and both homes show nothing waiting.
        assert (
            h.bot.client.post(home_action(ActionId.HOME_APPROVE, action.id, user="U0BOB")).status_code == 200
        )
        h.slack.wait_for(lambda: r.exists(f"{prefix}:a", f"{prefix}:b") == 0)
        home_of(h, "U0BOB", "Waiting on you (0)")
        assert pending.get(h.engine, action.id).status is pending.Status.EXECUTED  # type: ignore[union-attr]
        # The preview message in the channel shows the outcome (its buttons are gone).
        updated = [c for c in h.slack.calls_to("chat.update") if c.args.get("ts") == action.message_ts]
        assert updated, "the preview message was not replaced by the outcome"
    finally:
        r.delete(f"{prefix}:a", f"{prefix}:b")
        r.close()


def test_home_buttons_open_the_forms_and_a_runbook_run_lands_on_the_home(surfaces: Harness) -> None:
    h = surfaces
    open_home(h, "U0ALICE")
    home_of(h, "U0ALICE", "None yet")

    h.bot.client.post(home_action(ActionId.HOME_DECLARE, "declare", user="U0ALICE"))
    [declare] = h.slack.wait_calls("views.open")
    view = opened_view(declare.args)
    assert view["callback_id"] == CallbackId.INCIDENT_DECLARE
    commander = next(b for b in view["blocks"] if b["block_id"] == "commander")
    assert commander["element"]["initial_user"] == "U0ALICE"

    h.bot.client.post(home_action(ActionId.HOME_RUNBOOK, "runbook", user="U0ALICE"))
    form = opened_view(h.slack.wait_calls("views.open", 2)[1].args)
    assert form["callback_id"] == CallbackId.RUNBOOK_RUN
    options = [
        o["value"] for b in form["blocks"] if b["block_id"] == "runbook" for o in b["element"]["options"]
    ]
    assert "cache-ping" in options  # the team's, next to the built-in runbooks shipped with the bot
    assert "high-db-cpu" in options

    # Without a channel the form says so and nothing runs.
    r = h.bot.client.post(
        submission(
            CallbackId.RUNBOOK_RUN,
            {"runbook": select("cache-ping"), "params": text_in(None), "channel": conversation(None)},
        )
    )
    assert r.json() == {
        "response_action": "errors",
        "errors": {"channel": "Pick the channel for the progress message."},
    }
    r = h.bot.client.post(
        submission(
            CallbackId.RUNBOOK_RUN,
            {"runbook": select("cache-ping"), "params": text_in(""), "channel": conversation("C00000001")},
        )
    )
    assert r.status_code == 200
    assert r.text == ""
    # The progress message goes to the channel picked; the run shows on the home afterwards.
    h.slack.wait_for(lambda: h.posts("C00000001", "Cache answers"))
    text = blocks_text(home_of(h, "U0ALICE", "/runbook run cache-ping"))
    assert "in <#C00000001>" in text
    assert json.dumps("None yet")[1:-1] not in text
