"""Two scheduler instances against one PostgreSQL: every due reminder is posted exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import make_web_client
from bot.config import parse_config
from bot.incidents.deps import IncidentDeps
from bot.incidents.escalation import Escalations
from bot.incidents.poster import ExactlyOncePoster
from bot.incidents.reminders import Reminders
from bot.store import Store
from tests.conftest import drop_pg_database, make_pg_database, make_settings
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import CONFIG, START, Clock
from tests.incidents.seed import seed_due_incidents


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = make_pg_database("chatops_incidents")
    yield url
    drop_pg_database(url)


def _instances(
    url: str, slack: FakeSlack, tmp_path: Path, n: int = 2
) -> list[tuple[Store, Reminders, Escalations]]:
    """n replicas: each its own engine and WebClient, as separate processes would have."""
    config = parse_config(CONFIG)
    out = []
    for _ in range(n):
        store = Store(url)
        desk = IncidentDeps(store.engine, config, make_web_client(make_settings(slack, tmp_path)), Clock())
        out.append((store, Reminders(desk, workers=8, batch=25), Escalations(desk, workers=4, batch=25)))
    return out


def _together(fns: list[ExactlyOncePoster], now: datetime) -> list[int]:
    """Run the participants at the same moment, one thread each (two replicas ticking)."""
    start = threading.Barrier(len(fns))

    def go(fn: ExactlyOncePoster) -> int:
        start.wait()
        return fn.run(now)

    with ThreadPoolExecutor(len(fns)) as pool:
        return list(pool.map(go, fns))


def test_two_replicas_post_each_of_200_due_reminders_exactly_once(
    pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    Store(pg_url).upgrade()
    replicas = _instances(pg_url, fake_slack, tmp_path)
    channels = seed_due_incidents(replicas[0][0].engine, fake_slack, 200, due=START)
    try:
        counts = _together([r for _, r, _ in replicas], START)
        assert sum(counts) == 200
        per_channel = Counter(
            cid
            for cid in channels.values()
            for m in fake_slack.messages.get(cid, [])
            if "status update" in m["text"]
        )
        assert len(per_channel) == 200
        assert set(per_channel.values()) == {1}
        # Ticking again at once (both replicas) finds nothing due: the claims moved the due times.
        assert _together([r for _, r, _ in replicas], START + timedelta(seconds=15)) == [0, 0]
        # 30 minutes later each is due once more, again exactly once.
        assert sum(_together([r for _, r, _ in replicas], START + timedelta(minutes=31))) == 200
    finally:
        for store, reminders, escalations in replicas:
            reminders.close()
            escalations.close()
            store.close()


def test_two_replicas_escalate_each_unacknowledged_incident_once(
    pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from bot.store.tables import incidents

    Store(pg_url).upgrade()
    replicas = _instances(pg_url, fake_slack, tmp_path)
    channels = seed_due_incidents(replicas[0][0].engine, fake_slack, 100, due=START)
    with replicas[0][0].engine.begin() as conn:  # unacknowledged P0s, first step due now
        conn.execute(
            update(incidents).values(
                severity="P0",
                acknowledged_by=None,
                acknowledged_at=None,
                declared_at=START,
                next_escalation_due=START,
            )
        )
    try:
        assert sum(_together([e for _, _, e in replicas], START)) == 100
        per_channel = Counter(
            cid
            for cid in channels.values()
            for m in fake_slack.messages.get(cid, [])
            if "Escalation:" in m["text"]
        )
        assert len(per_channel) == 100
        assert set(per_channel.values()) == {1}
        assert sum(_together([e for _, _, e in replicas], START + timedelta(minutes=5))) == 100
    finally:
        for store, reminders, escalations in replicas:
            reminders.close()
            escalations.close()
            store.close()
