"""What the status page reads, on SQLite and PostgreSQL: open, recently resolved, public updates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from bot import status_page
from bot.config import ChatopsConfig
from bot.store import Store, utcnow
from bot.store.tables import incidents
from bot.store.timeline import add_event


def test_open_and_recent_incidents_with_their_latest_public_update(store: Store) -> None:
    now = utcnow()
    rows = [
        ("db down", "P0", "investigating", now - timedelta(minutes=30), None),
        ("slow search", "P2", "monitoring", now - timedelta(hours=3), None),
        ("cache misses", "P3", "resolved", now - timedelta(days=1, hours=2), now - timedelta(days=1)),
        ("old one", "P1", "resolved", now - timedelta(days=8, hours=2), now - timedelta(days=8)),
    ]
    ids = []
    with store.engine.begin() as conn:
        for title, sev, status, declared, resolved in rows:
            ids.append(
                conn.execute(
                    insert(incidents)
                    .values(
                        title=title,
                        severity=sev,
                        status=status,
                        declared_by="U0IC",
                        declared_at=declared,
                        resolved_at=resolved,
                    )
                    .returning(incidents.c.id)
                ).scalar_one()
            )
    db_down = ids[0]
    add_event(
        store.engine,
        db_down,
        kind="update",
        author="U0IC",
        text="public 1",
        at=now - timedelta(minutes=20),
        public=True,
    )
    add_event(
        store.engine, db_down, kind="update", author="U0IC", text="private", at=now - timedelta(minutes=5)
    )
    add_event(store.engine, db_down, kind="note", author="U0IC", text="a public note", at=now, public=True)

    data = status_page.load(store.engine, now, ChatopsConfig())
    assert [i.title for i in data.open] == ["db down", "slow search"]  # P0 first
    assert [i.title for i in data.resolved] == ["cache misses"]
    first = data.open[0]
    assert first.update is not None
    assert first.update.text == "public 1"  # only kind=update, public=True
    assert first.severity_label == "Critical"
    assert first.started.tzinfo is not None
    assert data.open[1].update is None
    assert data.worst_severity == "P0"
    assert data.resolved[0].duration == timedelta(hours=2)
    html = status_page.status_html(data)
    assert "public 1" in html
    assert "private" not in html


def test_durations_read_like_a_person_would_write_them() -> None:
    assert status_page.fmt_duration(timedelta(minutes=7)) == "7m"
    assert status_page.fmt_duration(timedelta(hours=1, minutes=5)) == "1h 05m"
    assert status_page.fmt_duration(timedelta(days=2, hours=3, minutes=59)) == "2d 3h"
    assert status_page.fmt_duration(timedelta(seconds=-30)) == "0m"
