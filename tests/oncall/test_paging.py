"""Paging through the fake PagerDuty Events API v2, and PagerDuty's v3 webhooks into the bot."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.oncall.paging import SUMMARY_MAX, Pager
from bot.slack.ids import ActionId
from bot.store.audit import latest
from bot.store.timeline import events
from tests.conftest import stop_bot
from tests.fakes.pagerduty import FakePagerDuty, webhook_body, webhook_headers
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import texts
from tests.oncall.conftest import WEBHOOK_SECRET, OncallHarness, make_harness


def test_a_p0_pages_once_and_acknowledge_and_resolve_follow(oncall: OncallHarness) -> None:
    pd = oncall.pd
    inc = oncall.declare("P0 checkout is down", user="U0ALICE")
    oncall.pager.wait()
    [trigger] = pd.wait_events(1)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == f"chatops-incident-{inc.id}"
    payload = trigger["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "chatops"
    assert payload["summary"] == f"P0 incident #{inc.id}: checkout is down"
    details = payload["custom_details"]
    assert details["channel"] == f"https://slack.com/app_redirect?channel={inc.channel_id}"
    assert "U0ALICE" in details["commander"]
    oncall.wait_post(inc.channel_id or "", "Paged PagerDuty for incident")

    # Step 1 names whoever is primary now (U0ANA); step 2 (secondary, page: true) pages again:
    # the same incident must not open a second alert, nor send a second trigger.
    oncall.tick(seconds=15)
    assert "<@U0ANA>" in texts(oncall.escalations(inc)[0])
    oncall.tick(minutes=6)
    assert "<@U0DAN>" in texts(oncall.escalations(inc)[1])
    oncall.pager.wait()
    assert pd.actions() == ["trigger"]
    assert pd.opened == 1

    # Acknowledged with the escalation message's button, in Slack.
    r = oncall.bot.client.action(
        ActionId.INCIDENT_ACK, str(inc.id), user="U0ANA", channel=inc.channel_id or ""
    )
    assert r.status_code == 200
    oncall.wait_post(inc.channel_id or "", "<@U0ANA> acknowledged incident")
    oncall.pager.wait()
    assert pd.actions() == ["trigger", "acknowledge"]
    oncall.command(f"resolve #{inc.id} fixed the pool", user="U0ALICE")
    oncall.pager.wait()
    assert pd.actions() == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pd.events} == {f"chatops-incident-{inc.id}"}
    assert pd.alerts[f"chatops-incident-{inc.id}"].status == "resolved"
    assert pd.opened == 1

    paging = [e.text for e in events(oncall.engine, inc.id) if e.kind == "paging"]
    assert [t.split(" (")[0] for t in paging] == [
        "PagerDuty: Paged",
        "PagerDuty: Acknowledged",
        "PagerDuty: Resolved",
    ]
    audited = [(a.handler, a.outcome) for a in latest(oncall.engine, handler_glob="paging.*", limit=10)]
    assert sorted(audited) == [
        ("paging.acknowledge", "ok"),
        ("paging.resolve", "ok"),
        ("paging.trigger", "ok"),
    ]


def test_a_severity_without_page_pages_only_at_its_paging_step(oncall: OncallHarness) -> None:
    inc = oncall.declare("P1 slow search", user="U0ALICE")
    oncall.pager.wait()
    oncall.tick(minutes=16)  # step 1: oncall (rotation:primary through contacts)
    assert "<@U0ANA>" in texts(oncall.escalations(inc)[0])
    oncall.pager.wait()
    assert oncall.pd.events == []
    oncall.tick(minutes=31)  # step 2 pages
    oncall.pager.wait()
    assert oncall.pd.actions() == ["trigger"]
    assert oncall.pd.events[0]["payload"]["severity"] == "error"


def test_429_and_5xx_are_retried_with_backoff(oncall: OncallHarness) -> None:
    oncall.pd.throttle(2)
    oncall.pd.break_(503, 1)
    inc = oncall.declare("P0 payments failing", user="U0ALICE")
    oncall.pager.wait()
    assert [r["status"] for r in oncall.pd.rejected] == [429, 429, 503]
    assert oncall.pd.actions() == ["trigger"]
    assert oncall.pager.state(inc.id) == "triggered"


def test_retries_run_out_and_the_commander_is_told(oncall: OncallHarness) -> None:
    oncall.pd.break_(503, 10)
    inc = oncall.declare("P0 payments failing", user="U0ALICE")
    oncall.pager.wait()
    assert oncall.pd.events == []
    assert len(oncall.pd.rejected) == 4
    [note] = oncall.wait_post(inc.channel_id or "", "Could not page PagerDuty")
    assert "<@U0ALICE>" in note["text"]
    assert "HTTP 503" in note["text"]
    assert "Nobody was paged" in note["text"]
    assert oncall.pager.state(inc.id) == "failed"


@pytest.fixture
def refused(fake_slack: FakeSlack, fake_pd: FakePagerDuty, tmp_path: Path) -> Iterator[OncallHarness]:
    h = make_harness(fake_slack, fake_pd, tmp_path, routing_key="WRONGKEY")
    yield h
    h.pager.close()
    stop_bot(h.bot)


def test_a_400_is_named_to_the_commander_in_the_channel(refused: OncallHarness) -> None:
    inc = refused.declare("P0 checkout is down", user="U0ALICE")
    refused.pager.wait()
    [rejected] = refused.pd.wait_rejected(1)
    assert rejected["status"] == 400
    [note] = refused.wait_post(inc.channel_id or "", "Could not page PagerDuty")
    assert "<@U0ALICE>" in note["text"]
    assert "HTTP 400" in note["text"]
    assert "'routing_key' is invalid" in note["text"]
    assert refused.pd.opened == 0
    [entry] = latest(refused.engine, handler_glob="paging.trigger")
    assert entry.outcome == "error"
    assert "HTTP 400" in entry.detail
    assert refused.incident(inc.id).is_open  # the Slack flow went on regardless


def test_the_summary_stays_within_1024_characters(oncall: OncallHarness) -> None:
    from dataclasses import replace

    inc = oncall.declare("P3 a small thing", user="U0ALICE")
    long = replace(inc, title="x" * 3000, service="backend")
    assert len(Pager.summary(oncall.pager, long)) == SUMMARY_MAX


# -- webhooks ---------------------------------------------------------------------------------------


def test_a_signed_acknowledgement_stops_escalation_and_is_not_sent_back(oncall: OncallHarness) -> None:
    inc = oncall.declare("P0 checkout is down", user="U0ALICE")
    oncall.pager.wait()
    key = f"chatops-incident-{inc.id}"
    body = webhook_body("incident.acknowledged", incident_key=key, agent="Ana Example")
    r = oncall.webhook(body, webhook_headers(body, "old-secret", WEBHOOK_SECRET))  # any of several
    assert r.status_code == 202, r.text
    oncall.pager.wait()
    row = oncall.incident(inc.id)
    assert row.acknowledged_by == "PagerDuty"
    assert row.next_escalation_due is None
    oncall.wait_post(inc.channel_id or "", "Ana Example acknowledged the page in PagerDuty")
    oncall.tick(minutes=30)
    assert oncall.escalations(inc) == []  # acknowledged before step 1 went out
    assert oncall.pd.actions() == ["trigger"]  # PagerDuty knows already: no acknowledge back
    assert any(e.text == "PagerDuty: acknowledged by Ana Example" for e in events(oncall.engine, inc.id))
    assert (
        latest(oncall.engine, handler_glob="paging.webhook.*")[0].detail
        == "acknowledged in PagerDuty by Ana Example"
    )


def test_forged_and_replayed_webhooks_change_nothing(oncall: OncallHarness) -> None:
    inc = oncall.declare("P0 checkout is down", user="U0ALICE")
    oncall.pager.wait()
    key = f"chatops-incident-{inc.id}"
    body = webhook_body("incident.resolved", incident_key=key, event_id=uuid.uuid4().hex)
    forged = oncall.webhook(body, webhook_headers(body, "not-the-secret"))
    assert forged.status_code == 401
    unsigned = oncall.webhook(body, {"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    tampered = oncall.webhook(body.replace("Jane Doe", "Mallory"), webhook_headers(body, WEBHOOK_SECRET))
    assert tampered.status_code == 401
    assert not [e for e in events(oncall.engine, inc.id) if e.author == "PagerDuty"]

    first = oncall.webhook(body, webhook_headers(body, WEBHOOK_SECRET))
    again = oncall.webhook(body, webhook_headers(body, WEBHOOK_SECRET))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"duplicate": True}
    oncall.pager.wait()
    resolved = [e for e in events(oncall.engine, inc.id) if e.author == "PagerDuty"]
    assert [e.text.split(" (")[0] for e in resolved] == ["PagerDuty: resolved by Jane Doe"]
    assert len(oncall.posts(inc.channel_id or "", "resolved the page in PagerDuty")) == 1
    assert oncall.incident(inc.id).is_open  # ours stays open until a person resolves it
    # Our own resolve later sends nothing: PagerDuty resolved it already.
    oncall.command(f"resolve #{inc.id} done", user="U0ALICE")
    oncall.pager.wait()
    assert not oncall.incident(inc.id).is_open
    assert oncall.pd.actions() == ["trigger"]


def test_webhook_endpoint_answers_methods_and_bad_bodies(oncall: OncallHarness) -> None:
    import httpx

    assert httpx.get(oncall.bot.url + "/paging/pagerduty", timeout=5).status_code == 405
    junk = "not json"
    assert oncall.webhook(junk, webhook_headers(junk, WEBHOOK_SECRET)).status_code == 400
    other = json.dumps({"event": {"id": "e1", "event_type": "service.updated", "data": {}}})
    assert oncall.webhook(other, webhook_headers(other, WEBHOOK_SECRET)).status_code == 202


def test_raising_an_incident_to_a_paging_severity_pages_once(oncall: OncallHarness) -> None:
    inc = oncall.declare("P2 queue backing up", user="U0ALICE")
    oncall.command(f"severity {inc.id} P0", user="U0ALICE")
    oncall.pager.wait()
    [trigger] = oncall.pd.wait_events(1)
    assert trigger["payload"]["severity"] == "critical"
    oncall.command(f"severity {inc.id} P1", user="U0ALICE")
    oncall.command(f"severity {inc.id} P0", user="U0ALICE")
    oncall.pager.wait()
    assert oncall.pd.actions() == ["trigger"]


@pytest.fixture
def unreachable(fake_slack: FakeSlack, fake_pd: FakePagerDuty, tmp_path: Path) -> Iterator[OncallHarness]:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h = make_harness(fake_slack, fake_pd, tmp_path, events_url=f"https://127.0.0.1:{port}/v2/enqueue")
    yield h
    h.pager.close()
    stop_bot(h.bot)


def test_pagerduty_unreachable_is_named_to_the_commander(unreachable: OncallHarness) -> None:
    inc = unreachable.declare("P0 checkout is down", user="U0ALICE")
    unreachable.pager.wait()
    [note] = unreachable.wait_post(inc.channel_id or "", "Could not page PagerDuty")
    assert "network error" in note["text"]
    assert "Nobody was paged" in note["text"]
    assert unreachable.pager.state(inc.id) == "failed"
