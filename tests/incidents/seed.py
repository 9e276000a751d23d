"""Many open incidents at once, straight into the store (for the exactly-once test and the bench)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from bot.store.tables import incidents
from tests.fakes.slack import FakeSlack


def seed_due_incidents(engine: Engine, slack: FakeSlack, count: int, *, due: datetime) -> dict[int, str]:
    """`count` acknowledged incidents whose status update is due at `due`; {id: channel id}."""
    rows = []
    for i in range(count):
        channel = slack.add_channel(f"incident-bench-{i:05d}")
        rows.append(
            {
                "title": f"Synthetic incident {i}",
                "severity": "P2",
                "status": "investigating",
                "declared_by": "U0ALICE",
                "declared_at": due - timedelta(minutes=45),
                "acknowledged_by": "U0ALICE",
                "acknowledged_at": due - timedelta(minutes=44),
                "channel_id": channel.id,
                "channel_name": channel.name,
                "roles": json.dumps({"commander": "U0ALICE"}),
                "setup_pending": "[]",
                "next_update_due": due - timedelta(seconds=i % 60),
                "escalation_step": 0,
            }
        )
    with engine.begin() as conn:
        ids = conn.execute(insert(incidents).returning(incidents.c.id, incidents.c.channel_id), rows).all()
    return {int(r[0]): str(r[1]) for r in ids}
