"""vacuum-analyze and reindex: catalogue checks, quoting, autocommit, timeouts and clean-up."""

from __future__ import annotations

import psycopg
import pytest

from handlers.errors import HandlerError, InvalidRequest, NotFound
from tests.integration.db.pgkit import backend_state, make_ctx, make_pool, wait_for


@pytest.fixture(scope="module")
def tables(dbname: str) -> None:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(
            "CREATE TABLE IF NOT EXISTS events (id serial PRIMARY KEY, kind text);"
            "CREATE INDEX IF NOT EXISTS events_kind_idx ON events (kind);"
            "INSERT INTO events (kind) SELECT 'k' || (g % 7) FROM generate_series(1, 2000) g;"
            "DELETE FROM events WHERE id % 3 = 0;"
            'CREATE TABLE IF NOT EXISTS "AuditLog" (id int);'
            "CREATE SCHEMA IF NOT EXISTS archive;"
            "CREATE TABLE IF NOT EXISTS archive.events (id int);"
        )


def test_vacuum_preview_describes_the_table(preview, tables) -> None:
    shown = preview("db.vacuum_analyze", table="events")
    assert shown.summary.startswith("VACUUM (ANALYZE) public.events on database main")
    assert "dead rows" in shown.summary
    assert any("last vacuum" in d for d in shown.details)


def test_vacuum_analyze_a_table(run, tables) -> None:
    result = run("db.vacuum_analyze", table="events")
    assert result.values["table"] == "public.events"
    assert result.values["skipped"] == 0


def test_vacuum_a_schema_qualified_and_a_mixed_case_table(run, tables) -> None:
    assert run("db.vacuum_analyze", table="archive.events").values["table"] == "archive.events"
    assert run("db.vacuum_analyze", table="AuditLog").values["table"] == "public.AuditLog"


def test_vacuum_the_whole_database(run, preview, tables) -> None:
    assert "every table of database main" in preview("db.vacuum_analyze").summary
    result = run("db.vacuum_analyze")
    assert result.values["table"] == ""


def test_vacuum_names_a_missing_table_and_suggests_similar(run, tables) -> None:
    with pytest.raises(NotFound, match=r"no table named event\b.*public\.events"):
        run("db.vacuum_analyze", table="event")


def test_table_names_that_are_not_identifiers_are_refused(registry) -> None:
    spec = registry.get("db.vacuum_analyze")
    for bad in ("events; DROP TABLE events", 'events"', "a.b.c", "x" * 64):
        with pytest.raises(ValueError, match="not a table or index name"):
            spec.params.model_validate({"table": bad})


def test_vacuum_leaves_the_pooled_connection_as_it_found_it(registry, dbname, tables) -> None:
    pool = make_pool(f"host=127.0.0.1 user=postgres dbname={dbname}", max_size=1)
    try:
        spec = registry.get("db.vacuum_analyze")
        spec.fn(make_ctx(pool), spec.params.model_validate({"table": "events"}))
        with pool.connection() as conn:
            assert conn.autocommit is False
            assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
    finally:
        pool.close()


def test_vacuum_stops_at_the_maintenance_timeout(registry, pool, session, dbname, tables) -> None:
    holder = session(app="migration")
    holder.conn.execute("BEGIN")
    holder.conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    spec = registry.get("db.vacuum_analyze")
    ctx = make_ctx(pool, maintenance_timeout_ms=500)
    # Resolving the name reads only the catalogue, so the table lock does not block it.
    with pytest.raises(HandlerError, match=r"VACUUM of public\.events stopped after 500 ms"):
        spec.fn(ctx, spec.params.model_validate({"table": "events"}))
    holder.conn.execute("ROLLBACK")


def test_reindex_preview_and_run(run, preview, tables) -> None:
    shown = preview("db.reindex", index="events_kind_idx")
    assert "REINDEX INDEX CONCURRENTLY public.events_kind_idx" in shown.summary
    assert "table events" in shown.summary
    assert any("CREATE INDEX events_kind_idx" in d for d in shown.details)
    result = run("db.reindex", index="events_kind_idx")
    assert result.values["index"] == "public.events_kind_idx"
    assert result.values["bytes_after"] > 0


def test_reindex_refuses_tables_system_indexes_and_unknown_names(run, tables) -> None:
    with pytest.raises(NotFound, match="no index named events"):
        run("db.reindex", index="events")  # a table, not an index
    with pytest.raises(InvalidRequest, match="system index"):
        run("db.reindex", index="pg_catalog.pg_class_oid_index")


def test_interrupted_reindex_reports_its_leftover_copy(registry, pool, session, dbname, tables) -> None:
    writer = session(app="ingest")
    writer.conn.execute("BEGIN")
    writer.conn.execute("INSERT INTO events (kind) VALUES ('late')")
    wait_for(lambda: backend_state(dbname, writer.pid) is not None, "the writer")
    spec = registry.get("db.reindex")
    ctx = make_ctx(pool, maintenance_timeout_ms=800)
    with pytest.raises(HandlerError) as caught:
        spec.fn(ctx, spec.params.model_validate({"index": "events_kind_idx"}))
    message = str(caught.value)
    assert "statement timeout" in message
    # The clean-up waits on the same writer, so the leftover stays and the user is told how to drop it.
    assert "events_kind_idx_ccnew" in message
    assert "DROP INDEX CONCURRENTLY" in message
    writer.conn.execute("ROLLBACK")
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        leftovers = c.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE NOT i.indisvalid AND c.relname LIKE 'events_kind_idx_ccnew%'"
        ).fetchall()
        assert leftovers
        for (name,) in leftovers:
            c.execute(f'DROP INDEX CONCURRENTLY "{name}"')
