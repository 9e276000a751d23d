"""The state store on SQLite and PostgreSQL: migrations, readiness, the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bot.store import Store
from bot.store.audit import Event, Outcome, latest, record


def test_migrations_reach_head_and_readiness_says_ok(store: Store) -> None:
    assert store.current() == store.head()
    assert store.readiness() == (True, "ok")


def test_readiness_names_stale_migrations(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    ok, why = store.readiness()
    assert not ok
    assert "migrations not current (at 0001" in why
    assert "chatops db upgrade" in why


def test_upgrade_twice_is_harmless(store: Store) -> None:
    store.upgrade()
    assert store.current() == store.head()


def test_audit_records_and_filters(store: Store) -> None:
    for user, handler in (("U1", "k8s.pods"), ("U2", "db.locks"), ("U1", "k8s.scale")):
        record(
            store.engine,
            request_id="r",
            user_id=user,
            channel_id="C1",
            command=f"/x {handler}",
            handler=handler,
            args={"namespace": "prod", "password": "hunter2", "dsn": "postgresql://a:hunter2@h/db"},
            target="namespace prod",
            event=Event.REQUEST,
            outcome=Outcome.OK,
            duration_ms=12,
        )
    rows = latest(store.engine)
    assert [r.handler for r in rows] == ["k8s.scale", "db.locks", "k8s.pods"]
    assert [r.handler for r in latest(store.engine, user="U1")] == ["k8s.scale", "k8s.pods"]
    assert [r.handler for r in latest(store.engine, handler_glob="k8s.*")] == ["k8s.scale", "k8s.pods"]
    assert rows[0].at.tzinfo is not None
    assert latest(store.engine, since=rows[0].at + timedelta(seconds=5)) == []
    assert all("hunter2" not in r.args for r in rows)
    assert rows[0].duration_ms == 12


def test_unreachable_store_is_not_ready() -> None:
    s = Store("postgresql+psycopg://postgres:secret@127.0.0.1:1/nowhere")
    ok, why = s.readiness()
    assert not ok
    assert why.startswith("state store unreachable")
    assert "secret" not in why


def test_two_replicas_migrating_at_once_both_succeed(pg_store_url: str) -> None:
    import threading

    stores = [Store(pg_store_url), Store(pg_store_url)]
    errors: list[BaseException] = []

    def upgrade(s: Store) -> None:
        try:
            s.upgrade()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert all(s.current() == s.head() for s in stores)
    for s in stores:
        s.close()
