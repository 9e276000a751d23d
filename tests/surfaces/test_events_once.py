"""Events Slack delivers again (X-Slack-Retry-Num; Socket Mode's retry_attempt) are handled once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlalchemy import func, select

from bot.slack.once import events_seen
from bot.store.timeline import events
from tests.fakes.socket_mode import FakeSocketMode
from tests.incidents.conftest import Harness
from tests.surfaces.conftest import deliver

APP_TOKEN = "xapp-1-A0TEST001-0000-secret"


def pins(h: Harness, incident_id: int) -> list[str]:
    return [e.data.get("ts", "") for e in events(h.engine, incident_id, kinds=("pin",))]


def test_a_retried_reaction_racing_the_first_delivery_adds_one_timeline_entry(surfaces: Harness) -> None:
    h = surfaces
    inc = h.declare("P1 Checkout errors")
    channel = inc.channel_id or ""
    ts = h.slack.post_as_user(channel, "U0DEV1", "Rolled back to 2.3.0 at 10:51")
    event = {
        "type": "reaction_added",
        "user": "U0DEV1",
        "reaction": "pushpin",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }
    # The first delivery is still reading the message when Slack, tired of waiting, sends it again.
    gate = h.slack.hold("conversations.history")
    try:
        deliver(h, event, "Ev0RACE01")
        h.slack.wait_calls("conversations.history")
        deliver(h, event, "Ev0RACE01", retry=1)
        deliver(h, event, "Ev0RACE01", retry=2)
    finally:
        gate.set()
    h.slack.wait_for(lambda: pins(h, inc.id))
    time.sleep(0.3)  # room for a second entry to appear if a copy were handled
    assert pins(h, inc.id) == [ts]
    assert len(h.slack.calls_to("conversations.history")) == 1
    with h.engine.connect() as conn:
        seen = conn.execute(select(func.count()).select_from(events_seen)).scalar_one()
    assert seen == 1


def test_a_retried_pin_added_adds_one_entry(surfaces: Harness) -> None:
    h = surfaces
    inc = h.declare("P2 Search is slow")
    channel = inc.channel_id or ""
    ts = h.slack.post_as_user(channel, "U0DEV2", "The index rebuild started at 11:02")
    event: dict[str, Any] = {
        "type": "pin_added",
        "user": "U0DEV2",
        "channel_id": channel,
        "item": {
            "type": "message",
            "channel": channel,
            "message": {"type": "message", "ts": ts, "text": "The index rebuild started at 11:02"},
        },
        "event_ts": f"{time.time():.6f}",
    }
    deliver(h, event, "Ev0PIN001")
    h.slack.wait_for(lambda: pins(h, inc.id))
    deliver(h, event, "Ev0PIN001", retry=1)
    # A later, different event is still handled (the claim is per event, not per channel).
    ts2 = h.slack.post_as_user(channel, "U0DEV2", "Done at 11:20")
    deliver(
        h, {**event, "item": {**event["item"], "message": {"ts": ts2, "text": "Done at 11:20"}}}, "Ev0PIN002"
    )
    h.slack.wait_for(lambda: len(pins(h, inc.id)) == 2)
    time.sleep(0.3)
    assert pins(h, inc.id) == [ts, ts2]


def test_socket_mode_retry_attempt_is_handled_once(surfaces: Harness, tmp_path: Path) -> None:
    h = surfaces
    inc = h.declare("P1 Login fails")
    channel = inc.channel_id or ""
    ts = h.slack.post_as_user(channel, "U0DEV1", "SSO certificate expired at 09:00")
    sock = FakeSocketMode()
    h.slack.socket_mode_url = sock.url
    handler = SocketModeHandler(h.bot.app, APP_TOKEN, web_client=h.bot.app.client)
    handler.connect()
    try:
        assert sock.connected.wait(10), "the bot did not connect over Socket Mode"
        payload = {
            "type": "event_callback",
            "team_id": "T0TEST001",
            "api_app_id": "A0TEST001",
            "event_id": "Ev0SOCK01",
            "event_time": int(time.time()),
            "event": {
                "type": "reaction_added",
                "user": "U0DEV1",
                "reaction": "round_pushpin",
                "item": {"type": "message", "channel": channel, "ts": ts},
            },
        }
        gate = h.slack.hold("conversations.history")
        try:
            sock.push("events_api", payload)
            h.slack.wait_calls("conversations.history")
            sock.push("events_api", payload, retry_attempt=1)
            acks = [sock.acks.get(timeout=10), sock.acks.get(timeout=10)]
        finally:
            gate.set()
        assert len(acks) == 2  # both acknowledged, so Slack stops retrying
        h.slack.wait_for(lambda: pins(h, inc.id))
        time.sleep(0.3)
        assert pins(h, inc.id) == [ts]
    finally:
        threading.Thread(target=handler.close, daemon=True).start()
        sock.close()
