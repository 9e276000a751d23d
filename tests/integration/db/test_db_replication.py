"""replication against a real primary with a streaming standby, and ping on the standby."""

from __future__ import annotations

import psycopg

from tests.integration.db.pgkit import PgServer, make_ctx, make_pool, wait_for


def test_primary_shows_its_replica_and_slots(registry, pgss_server: PgServer, standby: PgServer) -> None:
    with psycopg.connect(pgss_server.dsn(), autocommit=True) as c:
        c.execute("SELECT pg_create_physical_replication_slot('forgotten_replica', true)")

        def streaming() -> bool:
            row = c.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").fetchone()
            return bool(row and row[0] == 1)

        wait_for(streaming, "the standby to stream")
    pool = make_pool(pgss_server.dsn(), max_size=1)
    try:
        spec = registry.get("db.replication")
        result = spec.fn(make_ctx(pool), spec.params())
    finally:
        pool.close()
        with psycopg.connect(pgss_server.dsn(), autocommit=True) as c:
            c.execute("SELECT pg_drop_replication_slot('forgotten_replica')")
    v = result.values
    assert v["role"] == "primary"
    assert v["replicas"] == 1
    assert v["max_lag_bytes"] >= 0
    replicas, slots = result.parts
    assert replicas.rows[0][2] == "streaming"
    assert replicas.rows[0][1] == "127.0.0.1"
    assert v["slots"] == 2
    assert v["inactive_slots"] == 1
    assert {r[0]: r[2] for r in slots.rows} == {"chatops_standby": "yes", "forgotten_replica": "NO"}
    assert "inactive slots keep WAL" in slots.summary


def test_standby_reports_replay_and_its_role(registry, standby: PgServer) -> None:
    pool = make_pool(standby.dsn(), max_size=1)
    try:
        ctx = make_ctx(pool)
        replication = registry.get("db.replication")
        result = replication.fn(ctx, replication.params())
        ping = registry.get("db.ping")
        pinged = ping.fn(ctx, ping.params())
    finally:
        pool.close()
    assert result.values["role"] == "standby"
    assert result.values["receiver_status"] == "streaming"
    assert result.values["replay_gap_bytes"] >= 0
    assert pinged.values["in_recovery"] is True
    assert dict(pinged.items)["Role"] == "standby (read-only replica)"
