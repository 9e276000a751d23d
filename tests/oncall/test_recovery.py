"""Work a replica left half-done when it died is finished by the next tick (this replica or another):
a page cut off mid-call, a webhook stored but not acted on, a hand-off claimed but not posted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bot.oncall.tables import paging_alerts, paging_webhooks
from bot.store.tables import scheduled_runs
from tests.oncall.conftest import START, OncallHarness


def test_a_page_cut_off_mid_call_is_sent_again(oncall: OncallHarness) -> None:
    inc = oncall.declare("P2 queue backing up", user="U0ALICE")  # P2 does not page by itself
    with oncall.engine.begin() as conn:  # as a replica leaves it when it dies during the call
        conn.execute(
            insert(paging_alerts).values(
                incident_id=inc.id,
                dedup_key=f"chatops-incident-{inc.id}",
                state="triggering",
                updated_at=START,
            )
        )
    oncall.tick(minutes=2)
    oncall.pager.wait()
    assert oncall.pd.events == []  # not stale yet: the first replica may still be calling
    oncall.tick(minutes=6)
    oncall.pager.wait()
    assert oncall.pd.actions() == ["trigger"]
    assert oncall.pager.state(inc.id) == "triggered"
    oncall.tick(minutes=20)
    oncall.pager.wait()
    assert oncall.pd.opened == 1


def test_a_stored_webhook_never_acted_on_is_acted_on(oncall: OncallHarness) -> None:
    inc = oncall.declare("P0 checkout is down", user="U0ALICE")
    oncall.pager.wait()
    with oncall.engine.begin() as conn:
        conn.execute(
            insert(paging_webhooks).values(
                event_id="evt-1",
                event_type="incident.acknowledged",
                received_at=START,
                incident_id=inc.id,
                outcome="queued",
                detail=json.dumps({"who": "Ana Example", "link": None}),
            )
        )
    oncall.tick(minutes=6)
    oncall.pager.wait()
    assert oncall.incident(inc.id).acknowledged_by == "PagerDuty"
    oncall.wait_post(inc.channel_id or "", "Ana Example acknowledged the page in PagerDuty")


def test_a_handoff_claimed_by_a_dead_replica_is_posted(oncall: OncallHarness) -> None:
    handoff = datetime(2026, 11, 13, 16, 0, tzinfo=UTC)
    with oncall.engine.begin() as conn:
        conn.execute(
            insert(scheduled_runs).values(
                name="oncall-handoff",
                slot=handoff,
                claimed_by="dead:1",
                claimed_at=handoff,
                outcome="claimed",
            )
        )
    runtime = oncall.bot.runtime
    assert runtime.scheduler is not None
    runtime.scheduler.tick(handoff + timedelta(minutes=2))
    assert oncall.posts("ops", "On-call hand-off") == []
    runtime.scheduler.tick(handoff + timedelta(minutes=6))
    runtime.scheduler.tick(handoff + timedelta(minutes=7))
    assert len(oncall.posts("ops", "On-call hand-off")) == 1
