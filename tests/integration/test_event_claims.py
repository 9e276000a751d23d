"""Event ids claimed once in the state store, on SQLite and PostgreSQL, also under a race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.slack import once
from bot.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_first_claim_wins_and_racing_copies_lose(store: Store) -> None:
    claims = once.EventClaims(store.engine, lambda: NOW)
    assert claims.claim("Ev0001") is True
    assert claims.claim("Ev0001") is False
    results: list[bool] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        results.append(claims.claim("Ev0002"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_claims_older_than_a_day_are_pruned(store: Store) -> None:
    now = [NOW]
    claims = once.EventClaims(store.engine, lambda: now[0])
    claims.claim("Ev0OLD")
    now[0] = NOW + timedelta(days=2)
    for i in range(once.PRUNE_EVERY - 1):
        claims.claim(f"Ev{i:06d}")
    with store.engine.connect() as conn:
        ids = set(conn.execute(select(once.events_seen.c.event_id)).scalars())
        count = conn.execute(select(func.count()).select_from(once.events_seen)).scalar_one()
    assert "Ev0OLD" not in ids
    assert count == once.PRUNE_EVERY - 1
