"""A database that is down, a query stuck behind a lock, and secrets in DSNs."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from handlers import Context
from handlers.errors import HandlerError, TargetUnavailable
from tests.integration.db.pgkit import free_port, make_ctx


def down_ctx(conninfo: str) -> tuple[ConnectionPool[Any], Context[Any]]:
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo, min_size=1, max_size=2, kwargs={"application_name": "chatops"}, open=True
    )
    return pool, Context(client=pool, timeout=2, options={"statement_timeout_ms": 1000}, target="orders-db")


def test_a_database_that_is_down_is_named_with_the_cause(registry) -> None:
    pool, ctx = down_ctx(f"host=127.0.0.1 port={free_port()} user=postgres dbname=test connect_timeout=2")
    try:
        spec = registry.get("db.activity")
        with pytest.raises(TargetUnavailable) as caught:
            spec.fn(ctx, spec.params())
    finally:
        pool.close()
    message = str(caught.value)
    assert message.startswith("database orders-db: cannot connect: connection refused")


def test_other_databases_keep_working_while_one_is_down(registry, pool) -> None:
    down, ctx = down_ctx(f"host=127.0.0.1 port={free_port()} user=postgres dbname=test")
    spec = registry.get("db.ping")
    try:
        with pytest.raises(TargetUnavailable):
            spec.fn(ctx, spec.params())
        assert spec.fn(make_ctx(pool), spec.params()).values["up"] is True
    finally:
        down.close()


def test_a_password_in_the_dsn_never_reaches_the_message(registry) -> None:
    secret = "Sup3rS3cretPw"
    conninfo = f"postgresql://postgres:{secret}@127.0.0.1:{free_port()}/test?connect_timeout=2"
    pool, ctx = down_ctx(conninfo)
    try:
        for name in ("db.ping", "db.connections"):
            spec = registry.get(name)
            with pytest.raises(HandlerError) as caught:
                spec.fn(ctx, spec.params())
            assert secret not in str(caught.value)
            assert "database orders-db" in str(caught.value)
    finally:
        pool.close()


def test_a_password_that_is_wrong_is_named_but_not_shown(registry, dbname) -> None:
    # Trust auth accepts any password, so use a role that does not exist to get an auth-time error.
    secret = "An0therS3cret"
    conninfo = f"postgresql://nobody_chatops:{secret}@127.0.0.1:5432/{dbname}?connect_timeout=2"
    pool, ctx = down_ctx(conninfo)
    try:
        spec = registry.get("db.ping")
        with pytest.raises(TargetUnavailable) as caught:
            spec.fn(ctx, spec.params())
    finally:
        pool.close()
    assert 'role "nobody_chatops" does not exist' in str(caught.value)
    assert secret not in str(caught.value)


def test_a_diagnostic_stuck_behind_a_lock_stops_at_the_statement_timeout(registry, pool, session) -> None:
    holder = session(app="migration")
    holder.conn.execute("CREATE TABLE IF NOT EXISTS ledger (id int)")
    holder.conn.execute("BEGIN")
    holder.conn.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
    spec = registry.get("db.table_sizes")
    ctx = Context(client=pool, timeout=5, options={"statement_timeout_ms": 300}, target="main")
    with pytest.raises(HandlerError, match=r"database main: .*statement timeout \(300 ms\)"):
        spec.fn(ctx, spec.params())
    holder.conn.execute("ROLLBACK")
    assert spec.fn(ctx, spec.params()).values["tables"] >= 1, "the pool's connection is fine afterwards"
