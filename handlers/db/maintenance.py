"""VACUUM (ANALYZE) and REINDEX INDEX CONCURRENTLY (destructive, previewed first).

Names typed by users are resolved in the catalogue first; only the catalogue's (schema, name)
goes into the statement, quoted with psycopg.sql.Identifier. Both commands refuse to run in a
transaction block, so they use an autocommit connection with a maintenance timeout.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from handlers import Client, handler
from handlers.db.common import (
    Cursor,
    PgContext,
    Relation,
    RelationName,
    autocommit,
    database_arg,
    label,
    maintenance_timeout_ms,
    read_only,
    resolve_relation,
    server_version,
    translate,
)
from handlers.errors import Forbidden, HandlerError, InvalidRequest
from handlers.humanize import count, duration, size
from handlers.params import Params, arg
from handlers.results import KeyValues, Preview

_TABLE_KINDS = ("r", "m", "p")  # table, materialized view, partitioned table
_INDEX_KINDS = ("i", "I")  # index, partitioned index
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
# How long the clean-up of a failed REINDEX CONCURRENTLY may take.
_CLEANUP_TIMEOUT_MS = 5000

_TABLE_STATS_SQL = """
SELECT pg_total_relation_size(c.oid)::int8 AS bytes, s.n_live_tup::int8 AS live_rows,
       s.n_dead_tup::int8 AS dead_rows,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float8 AS vacuum_age_s,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8 AS analyze_age_s
FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.oid = %(oid)s
"""
_DEAD_ROWS_SQL = "SELECT n_dead_tup::int8 AS dead_rows FROM pg_stat_all_tables WHERE relid = %(oid)s"
_DATABASE_STATS_SQL = """
SELECT current_database() AS name, pg_database_size(current_database())::int8 AS bytes,
       (SELECT count(*) FROM pg_stat_user_tables)::int AS tables,
       (SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables)::int8 AS dead_rows
"""
_MOST_DEAD_SQL = """
SELECT schemaname || '.' || relname AS name, n_dead_tup::int8 AS dead_rows
FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC LIMIT 5
"""
_INDEX_INFO_SQL = """
SELECT i.indrelid::int8 AS table_oid, t.relname AS table_name, pg_relation_size(i.indexrelid)::int8 AS bytes,
       pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS is_valid,
       coalesce(s.idx_scan, 0)::int8 AS scans
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
WHERE i.indexrelid = %(oid)s
"""
_SIZE_BY_NAME_SQL = """
SELECT pg_relation_size(c.oid)::int8 AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
"""
# Copies REINDEX CONCURRENTLY leaves behind, invalid, when it is interrupted.
_LEFTOVERS_SQL = """
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = %(table_oid)s AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'
"""


class VacuumAnalyze(Params):
    table: RelationName | None = arg(
        None, positional=True, help="a table (schema.table); every table of the database when omitted"
    )
    database: str | None = database_arg()


def _table_facts(cur: Cursor, rel: Relation) -> dict[str, Any]:
    cur.execute(_TABLE_STATS_SQL, {"oid": rel.oid})
    return cur.fetchone() or {}


def preview_vacuum(ctx: PgContext, params: VacuumAnalyze) -> Preview:
    with read_only(ctx) as cur:
        if params.table is None:
            cur.execute(_DATABASE_STATS_SQL)
            db = cur.fetchone() or {}
            cur.execute(_MOST_DEAD_SQL)
            most = cur.fetchall()
            details = [f"most dead rows: {r['name']} ({count(r['dead_rows'])})" for r in most]
            return Preview(
                summary=f"VACUUM (ANALYZE) every table of {label(ctx)} ({db.get('name')}: "
                f"{count(db.get('tables'))} tables, {size(db.get('bytes'))}, "
                f"{count(db.get('dead_rows'))} dead rows)",
                details=(*details, *_vacuum_notes(ctx)),
            )
        rel = resolve_relation(ctx, cur, params.table, _TABLE_KINDS, "table")
        facts = _table_facts(cur, rel)
    return Preview(
        summary=f"VACUUM (ANALYZE) {rel.qualified} on {label(ctx)}: {size(facts.get('bytes'))}, "
        f"{count(facts.get('live_rows'))} live and {count(facts.get('dead_rows'))} dead rows",
        details=(
            f"last vacuum: {_ago(facts.get('vacuum_age_s'))}; "
            f"last analyze: {_ago(facts.get('analyze_age_s'))}",
            *_vacuum_notes(ctx),
        ),
    )


def _vacuum_notes(ctx: PgContext) -> list[str]:
    return [
        "VACUUM does not block reads or writes (it conflicts only with DDL and other vacuums).",
        f"It stops after {duration(maintenance_timeout_ms(ctx) / 1000)}; the work done until then is kept.",
    ]


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{duration(seconds)} ago"


@handler(
    "db.vacuum_analyze",
    VacuumAnalyze,
    client=Client.POSTGRES,
    destructive=True,
    preview=preview_vacuum,
    sub="vacuum-analyze",
)
def vacuum_analyze(ctx: PgContext, params: VacuumAnalyze) -> KeyValues:
    """VACUUM (ANALYZE) a table, or every table of the database when none is given.

    `/db vacuum-analyze [TABLE] [database]` (a database without a table: `--database NAME`).
    """
    timeout_ms = maintenance_timeout_ms(ctx)
    with autocommit(ctx, timeout_ms) as (cur, notices):
        rel = None
        before: dict[str, Any] = {}
        if params.table is not None:
            rel = resolve_relation(ctx, cur, params.table, _TABLE_KINDS, "table")
            # Statistics only: sizes would wait on a lock held on the table, VACUUM reports that.
            cur.execute(_DEAD_ROWS_SQL, {"oid": rel.oid})
            before = cur.fetchone() or {}
        statement: sql.SQL | sql.Composed = sql.SQL("VACUUM (ANALYZE)")
        if rel is not None:
            statement = sql.SQL("VACUUM (ANALYZE) {}").format(rel.ident)
        started = time.monotonic()
        try:
            cur.execute(statement)
        except psycopg.errors.QueryCanceled:
            raise HandlerError(
                f"{label(ctx)}: VACUUM of {rel.qualified if rel else 'the database'} stopped after "
                f"{duration(timeout_ms / 1000)} (the bot's maintenance timeout); "
                "the work done so far is kept. Run it again, or per table, "
                "or from psql for a very large table."
            ) from None
        elapsed = time.monotonic() - started
    skipped = [m for m in notices.messages if "skipping" in m]
    what = rel.qualified if rel else "every table"
    if rel is not None and skipped:
        raise Forbidden(f"{label(ctx)}: VACUUM skipped {rel.qualified}: {skipped[0]}")
    items = [("Vacuumed and analyzed", what), ("Took", duration(elapsed))]
    if rel is not None:
        items.append(("Dead rows before", count(before.get("dead_rows"))))
    if skipped:
        items.append(("Skipped (no permission)", f"{len(skipped)} tables, e.g. {skipped[0]}"))
    return KeyValues(
        title=f"VACUUM (ANALYZE) {what} on {label(ctx)} done",
        items=items,
        values={
            "table": rel.qualified if rel else "",
            "seconds": round(elapsed, 3),
            "dead_rows_before": int(before.get("dead_rows") or 0) if rel else None,
            "skipped": len(skipped),
        },
    )


class Reindex(Params):
    index: RelationName = arg(..., positional=True, help="the index to rebuild (schema.index)")
    database: str | None = database_arg()


def _checked_index(ctx: PgContext, cur: Cursor, typed: str) -> tuple[Relation, dict[str, Any]]:
    version = server_version(cur)
    if version < 120000:
        raise InvalidRequest(
            f"{label(ctx)}: REINDEX CONCURRENTLY needs PostgreSQL 12 or later "
            f"(this server is {version // 10000})"
        )
    rel = resolve_relation(ctx, cur, typed, _INDEX_KINDS, "index")
    if rel.schema in _SYSTEM_SCHEMAS or rel.schema.startswith("pg_toast"):
        raise InvalidRequest(
            f"{label(ctx)}: {rel.qualified} is a system index; it cannot be reindexed concurrently"
        )
    cur.execute(_INDEX_INFO_SQL, {"oid": rel.oid})
    return rel, cur.fetchone() or {}


def preview_reindex(ctx: PgContext, params: Reindex) -> Preview:
    with read_only(ctx) as cur:
        rel, info = _checked_index(ctx, cur, params.index)
    return Preview(
        summary=f"REINDEX INDEX CONCURRENTLY {rel.qualified} on {label(ctx)} "
        f"(table {info.get('table_name')}, {size(info.get('bytes'))})",
        details=(
            f"definition: {info.get('definition')}",
            f"currently {'valid' if info.get('is_valid') else 'INVALID'}, {count(info.get('scans'))} scans",
            f"builds a new copy beside the old one (needs about {size(info.get('bytes'))} free disk), "
            "then swaps them; reads and writes continue meanwhile",
            f"it stops after {duration(maintenance_timeout_ms(ctx) / 1000)}; an interrupted build's "
            "leftover copy is dropped",
        ),
    )


@handler("db.reindex", Reindex, client=Client.POSTGRES, destructive=True, preview=preview_reindex)
def reindex(ctx: PgContext, params: Reindex) -> KeyValues:
    """Rebuild an index without blocking writes (REINDEX INDEX CONCURRENTLY).

    `/db reindex INDEX [database]`. Needs PostgreSQL 12 or later.
    """
    timeout_ms = maintenance_timeout_ms(ctx)
    with autocommit(ctx, timeout_ms) as (cur, _notices):
        rel, info = _checked_index(ctx, cur, params.index)
        table_oid = int(info["table_oid"])
        cur.execute(_LEFTOVERS_SQL, {"table_oid": table_oid})
        existing = {int(r["oid"]) for r in cur.fetchall()}
        started = time.monotonic()
        try:
            cur.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(rel.ident))
        except psycopg.Error as exc:
            if cur.connection.closed or cur.connection.broken:
                raise
            error = translate(ctx, exc, timeout_ms)
            raise type(error)(f"{error} {_clean_up(cur, table_oid, existing)}") from None
        elapsed = time.monotonic() - started
        # The rebuilt index has a new oid under the old name.
        cur.execute(_SIZE_BY_NAME_SQL, {"schema": rel.schema, "name": rel.name})
        after = int((cur.fetchone() or {"bytes": 0})["bytes"] or 0)
    before = int(info.get("bytes") or 0)
    return KeyValues(
        title=f"Reindexed {rel.qualified} on {label(ctx)}",
        items=(
            ("Index", rel.qualified),
            ("Table", str(info.get("table_name"))),
            ("Size before / after", f"{size(before)} / {size(after)}"),
            ("Took", duration(elapsed)),
        ),
        values={
            "index": rel.qualified,
            "seconds": round(elapsed, 3),
            "bytes_before": before,
            "bytes_after": after,
        },
    )


def _clean_up(cur: Cursor, table_oid: int, existing: set[int]) -> str:
    """Drop the invalid copy an interrupted REINDEX CONCURRENTLY left; say what happened."""
    cur.execute(_LEFTOVERS_SQL, {"table_oid": table_oid})
    leftovers = [r for r in cur.fetchall() if int(r["oid"]) not in existing]
    if not leftovers:
        return "The index is unchanged."
    cur.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(_CLEANUP_TIMEOUT_MS)))
    remaining = []
    for r in leftovers:
        try:
            cur.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(r["schema"], r["name"]))
            )
        except psycopg.Error:
            remaining.append(f"{r['schema']}.{r['name']}")
    if remaining:
        names = ", ".join(remaining)
        return (
            f"The index is unchanged, but the interrupted build left the invalid copy {names}, which could "
            f"not be dropped yet (a long transaction holds the table). Drop it later with: "
            f"DROP INDEX CONCURRENTLY {names};"
        )
    return "The index is unchanged; the interrupted build's leftover copy was dropped."
