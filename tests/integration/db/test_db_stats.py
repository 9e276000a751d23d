"""ping, slow-queries (with and without pg_stat_statements), sizes, index usage, stats, replication."""

from __future__ import annotations

import psycopg
import pytest

from handlers.results import Group, KeyValues, Table, Text
from tests.integration.db.pgkit import PgServer, make_ctx, make_pool
from tests.values import num


@pytest.fixture(scope="module")
def shop(dbname: str) -> str:
    """A small schema: a table with a used and an unused index, and a mixed-case table."""
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(
            "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer int, note text);"
            "CREATE INDEX IF NOT EXISTS orders_customer_idx ON orders (customer);"
            "CREATE INDEX IF NOT EXISTS orders_note_idx ON orders (note);"
            "INSERT INTO orders (customer, note) "
            "SELECT g % 100, repeat('x', 200) FROM generate_series(1, 5000) g;"
            "DELETE FROM orders WHERE id % 10 = 0;"
            "ANALYZE orders;"
        )
        c.execute("SET enable_seqscan = off")
        for i in range(3):
            c.execute("SELECT * FROM orders WHERE customer = %s", (i,)).fetchall()
    return "orders"


def test_ping_reports_version_and_round_trip(run) -> None:
    result = run("db.ping")
    assert isinstance(result, KeyValues)
    assert result.values["up"] is True
    assert num(result.values, "rtt_ms") > 0
    assert num(result.values, "server_version_num") >= 100000
    assert result.values["in_recovery"] is False
    assert dict(result.items)["Role"] == "primary"


def test_table_sizes_lists_the_largest_tables(run, shop) -> None:
    result = run("db.table_sizes", limit=5)
    assert isinstance(result, Table)
    names = [r[0] for r in result.rows]
    assert "public.orders" in names
    assert num(result.values, "largest_bytes") > 0
    assert num(result.values, "database_bytes") >= num(result.values, "largest_bytes")


def test_index_usage_flags_the_unused_index(run, shop) -> None:
    result = run("db.index_usage")
    assert isinstance(result, Group)
    table = result.parts[0]
    assert isinstance(table, Table)
    indexes = {r[0]: r for r in table.rows}
    assert indexes["orders_note_idx"][4] == "UNUSED"
    assert indexes["orders_pkey"][4] in ("enforces a constraint", "")
    assert num(result.values, "unused") >= 1
    assert num(result.values, "unused_bytes") > 0


def test_db_stats_has_commits_rollbacks_deadlocks_and_cache_hits(run, shop) -> None:
    result = run("db.db_stats")
    assert isinstance(result, KeyValues)
    v = result.values
    assert num(v, "commits") > 0
    assert num(v, "deadlocks") >= 0
    assert 0 <= num(v, "cache_hit_pct") <= 100
    assert {"rollbacks", "rollback_pct", "temp_bytes", "size_bytes"} <= set(v)


def test_replication_on_a_primary_without_replicas(run) -> None:
    result = run("db.replication")
    assert result.values["role"] == "primary"
    assert result.values["replicas"] == 0
    assert "no replicas" in result.parts[0].summary


def test_slow_queries_says_how_to_enable_pg_stat_statements(run) -> None:
    result = run("db.slow_queries")
    assert isinstance(result, Text)
    assert result.values["enabled"] is False
    assert "shared_preload_libraries" in result.text
    assert "CREATE EXTENSION pg_stat_statements" in result.text


def test_slow_queries_only_needs_create_extension_when_preloaded(registry, pgss_server: PgServer) -> None:
    with psycopg.connect(pgss_server.dsn(), autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS chatops_pg_noext")
        c.execute("CREATE DATABASE chatops_pg_noext")
    pool = make_pool(pgss_server.dsn("chatops_pg_noext"), max_size=1)
    try:
        spec = registry.get("db.slow_queries")
        result = spec.fn(make_ctx(pool), spec.params())
    finally:
        pool.close()
    assert "CREATE EXTENSION pg_stat_statements" in result.text
    assert "shared_preload_libraries" not in result.text


def test_slow_queries_ranks_statements_by_mean_time(registry, pgss_server: PgServer) -> None:
    with psycopg.connect(pgss_server.dsn(), autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        c.execute("SELECT pg_stat_statements_reset()")
        for _ in range(3):
            c.execute("SELECT pg_sleep(0.05)")
        for _ in range(5):
            c.execute("SELECT count(*) FROM pg_class")
    pool = make_pool(pgss_server.dsn(), max_size=1)
    try:
        spec = registry.get("db.slow_queries")
        result = spec.fn(make_ctx(pool), spec.params.model_validate({"limit": "5"}))
        by_calls = spec.fn(make_ctx(pool), spec.params.model_validate({"by": "calls"}))
    finally:
        pool.close()
    assert isinstance(result, Table)
    top = result.rows[0]
    assert "pg_sleep" in top[6]
    assert top[0] == "3"
    assert result.values["enabled"] is True
    assert num(result.values, "top_mean_ms") >= 50
    assert any("pg_class" in r[6] for r in by_calls.rows)
