"""activity, long-running, locks and connections against real sessions on PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from handlers.results import Check, Group, Status, Table
from tests.integration.db.pgkit import PgServer, backend_state, make_ctx, make_pool, wait_for
from tests.values import num


def rows_for(table: Table, pid: int, column: int = 0) -> list[Any]:
    return [r for r in table.rows if r[column] == str(pid)]


def test_activity_lists_a_running_query_but_never_the_bot(run, session, dbname) -> None:
    sleeper = session(app="checkout-worker")
    sleeper.run_in_background("SELECT pg_sleep(30) /* nightly report */")
    wait_for(
        lambda: (backend_state(dbname, sleeper.pid) or {}).get("state") == "active", "the sleep to start"
    )
    pool = make_pool(f"host=127.0.0.1 user=postgres dbname={dbname}", max_size=1)
    try:
        with pool.connection() as conn:
            bot_pid = conn.info.backend_pid
        result = run("db.activity", context=make_ctx(pool))
    finally:
        pool.close()
    assert isinstance(result, Table)
    [row] = rows_for(result, sleeper.pid)
    assert row[2] == "checkout-worker"
    assert row[5] == "active"
    assert "pg_sleep(30)" in row[8]
    assert not rows_for(result, bot_pid), "the bot's own session must not be listed"
    assert num(result.values, "active") >= 1
    assert set(result.values) >= {"sessions", "active", "idle_in_transaction", "waiting", "longest_s"}


def test_activity_never_lists_the_bots_other_pooled_connections(run, session) -> None:
    # A runbook runs several diagnostics at once: another of the bot's connections is then
    # mid-transaction. It is the bot's, not the application's, so it is not listed.
    bot_other = session(app="chatops")
    client = session(app="checkout-api")
    for s in (bot_other, client):
        s.conn.execute("BEGIN")
        s.conn.execute("SELECT 1")
    result = run("db.activity", all=True)
    assert not rows_for(result, bot_other.pid)
    [row] = rows_for(result, client.pid)
    assert row[5] == "idle in transaction"


def test_activity_hides_idle_sessions_unless_all(run, session) -> None:
    idle = session(app="idle-app")
    assert not rows_for(run("db.activity"), idle.pid)
    [row] = rows_for(run("db.activity", all=True), idle.pid)
    assert row[5] == "idle"


def test_activity_redacts_passwords_in_query_text(run, session, dbname) -> None:
    s = session(app="dblink-user")
    s.run_in_background(
        "SELECT pg_sleep(30) FROM (SELECT 'host=db user=app password=Hunter2Secret' AS conninfo) c"
    )
    wait_for(lambda: (backend_state(dbname, s.pid) or {}).get("state") == "active", "the query to start")
    result = run("db.activity")
    assert rows_for(result, s.pid)
    assert "Hunter2Secret" not in repr(result)


def test_long_running_shows_a_sleep_past_the_minimum(run, session, dbname) -> None:
    sleeper = session(app="slow-batch")
    sleeper.run_in_background("SELECT pg_sleep(30)")
    wait_for(
        lambda: ((backend_state(dbname, sleeper.pid) or {}).get("query_s") or 0) > 1.2,
        "the sleep to run over a second",
    )
    result = run("db.long_running", min="1s")
    assert isinstance(result, Table)
    [row] = rows_for(result, sleeper.pid)
    assert row[2] == "slow-batch"
    assert "pg_sleep" in row[8]
    assert num(result.values, "count") >= 1
    assert num(result.values, "longest_s") > 1
    # Nothing of ours is that old with the default of 5 minutes.
    assert not rows_for(run("db.long_running"), sleeper.pid)


def test_long_running_includes_a_transaction_left_open(run, session, dbname) -> None:
    s = session(app="forgot-to-commit")
    s.conn.execute("BEGIN")
    s.conn.execute("SELECT 1")
    wait_for(
        lambda: (backend_state(dbname, s.pid) or {}).get("state") == "idle in transaction",
        "the session to sit idle in a transaction",
    )
    time.sleep(1.1)
    [row] = rows_for(run("db.long_running", min="1s"), s.pid)
    assert row[5] == "idle in transaction"


def test_locks_shows_who_blocks_whom_with_both_queries(run, session, dbname) -> None:
    setup = session()
    setup.conn.execute("CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance int)")
    setup.conn.execute("INSERT INTO accounts VALUES (1, 100) ON CONFLICT DO NOTHING")
    holder = session(app="migration")
    holder.conn.execute("BEGIN")
    holder.conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
    waiter = session(app="checkout")
    waiter.run_in_background("UPDATE accounts SET balance = balance - 5 WHERE id = 1")
    wait_for(
        lambda: (backend_state(dbname, waiter.pid) or {}).get("wait_event_type") == "Lock",
        "the second update to wait on the first",
    )
    result = run("db.locks")
    assert isinstance(result, Table)
    [pair] = rows_for(result, waiter.pid)
    assert pair[5] == str(holder.pid)
    assert "balance - 5" in pair[4], "the waiting query"
    assert "balance + 1" in pair[9], "the blocking query (its last statement)"
    assert pair[7].startswith("idle in transaction")
    assert pair[2], "how long the waiter has waited"
    assert pair[8], "how long the blocker has held its transaction"
    assert "ShareLock" in pair[3] or "transactionid" in pair[3]
    assert num(result.values, "blocked") >= 1
    assert num(result.values, "pairs") >= 1
    assert str(holder.pid) in result.summary, "the root blocker is named"
    holder.conn.execute("ROLLBACK")
    waiter.join()
    assert waiter.error is None
    assert not rows_for(run("db.locks"), waiter.pid)


def test_connections_counts_by_state_and_application(run, session) -> None:
    session(app="billing-api")
    session(app="billing-api")
    result = run("db.connections")
    assert isinstance(result, Group)
    check, table = result.parts
    assert isinstance(check, Check)
    assert isinstance(table, Table)
    assert check.status is Status.OK  # the shared server is far from 80% of max_connections
    v = result.values
    assert num(v, "max") >= 1
    assert 0 < num(v, "used") <= num(v, "max")
    assert v["used_pct"] == round(100 * num(v, "used") / num(v, "max"), 1)
    billing = [r for r in table.rows if r[0] == "billing-api"]
    assert billing
    assert int(billing[0][1]) >= 2
    assert int(billing[0][3]) >= 2


def _fill(pgss_server: PgServer, target: int) -> list[psycopg.Connection[Any]]:
    """Open connections until `target` client connections exist on the private server."""
    with psycopg.connect(pgss_server.dsn()) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    now = int(row[0]) if row else 0
    return [psycopg.connect(pgss_server.dsn(), application_name="filler") for _ in range(target - now)]


def test_connections_warn_at_80_and_critical_at_95_percent(registry, pgss_server: PgServer) -> None:
    pool = make_pool(pgss_server.dsn(), max_size=1)
    spec = registry.get("db.connections")
    fillers: list[psycopg.Connection[Any]] = []
    try:
        with pool.connection():
            pass
        ctx = make_ctx(pool)
        result = spec.fn(ctx, spec.params())
        assert result.values["max"] == 20
        assert result.parts[0].status is Status.OK
        fillers += _fill(pgss_server, 16)  # 16 of 20 = 80%
        result = spec.fn(ctx, spec.params())
        assert result.values["used_pct"] >= 80
        assert result.values["used_pct"] < 95
        assert result.parts[0].status is Status.WARN
        fillers += _fill(pgss_server, 19)  # 19 of 20 = 95%
        result = spec.fn(ctx, spec.params())
        assert result.values["used_pct"] >= 95
        assert result.parts[0].status is Status.CRIT
        assert "filler" in [r[0] for r in result.parts[1].rows]
    finally:
        for f in fillers:
            f.close()
        pool.close()
