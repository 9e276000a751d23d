"""Server and statistics views: ping, slow-queries, table-sizes, index-usage, db-stats, replication."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from psycopg import sql
from pydantic import Field

from handlers import Client, handler
from handlers.db.common import PgContext, Row, database_arg, label, read_only, server_version, sql_text
from handlers.humanize import count, duration, millis, pct, size
from handlers.params import Params, arg
from handlers.results import Group, KeyValues, Table, Text

Limit = Annotated[int, Field(ge=1, le=200)]

# A statement slower than this on average is "slow" (seeds: query response time > 5 seconds).
SLOW_QUERY_MS = 5000.0


class Target(Params):
    database: str | None = database_arg()


_PING_SQL = """
SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS in_recovery,
       extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime_s,
       current_database() AS database, current_user AS user,
       coalesce(host(inet_server_addr()) || ':' || inet_server_port(), 'local socket') AS address
"""


@handler("db.ping", Target, client=Client.POSTGRES)
def ping(ctx: PgContext, params: Target) -> KeyValues:
    """Connect, run SELECT 1, and report the server version, role and round-trip time.

    `/db ping [database]`
    """
    started = time.perf_counter()
    with read_only(ctx) as cur:
        acquired = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchone()
        rtt_ms = (time.perf_counter() - acquired) * 1000
        cur.execute(_PING_SQL)
        info = cur.fetchone() or {}
        version_num = server_version(cur)
    acquire_ms = (acquired - started) * 1000
    role = "standby (read-only replica)" if info.get("in_recovery") else "primary"
    return KeyValues(
        title=f"{label(ctx)} is up",
        items=(
            ("Round trip (SELECT 1)", millis(rtt_ms)),
            ("Connection from pool", millis(acquire_ms)),
            ("Server version", str(info.get("version", ""))),
            ("Role", role),
            ("Uptime", duration(info.get("uptime_s"))),
            ("Database / user", f"{info.get('database', '')} / {info.get('user', '')}"),
            ("Address", str(info.get("address", ""))),
        ),
        values={
            "up": True,
            "rtt_ms": round(rtt_ms, 3),
            "acquire_ms": round(acquire_ms, 3),
            "server_version": str(info.get("version", "")).split(" ")[0],
            "server_version_num": version_num,
            "in_recovery": bool(info.get("in_recovery")),
            "uptime_s": round(float(info.get("uptime_s") or 0), 1),
        },
    )


_EXTENSION_SQL = """
SELECT e.extversion AS version, n.nspname AS schema,
       'pg_stat_statements' = ANY(string_to_array(
           replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS preloaded,
       current_setting('shared_preload_libraries') AS libraries
FROM (SELECT 1) AS one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
"""
# Columns were renamed in PostgreSQL 13 (mean_time -> mean_exec_time ...).
_STATEMENT_COLUMNS = {
    True: {"mean": "mean_exec_time", "total": "total_exec_time", "max": "max_exec_time"},
    False: {"mean": "mean_time", "total": "total_time", "max": "max_time"},
}
_SLOW_SQL = """
SELECT s.calls, s.{mean} AS mean_ms, s.{total} AS total_ms, s.{max} AS max_ms, s.rows,
       100.0 * s.{total} / nullif(sum(s.{total}) OVER (), 0) AS share_pct,
       s.query
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY {order} DESC NULLS LAST
LIMIT %(limit)s
"""


class SlowQueries(Params):
    limit: Limit = arg(10, flags=("-n", "--limit"), help="how many statements (10)")
    by: Literal["mean", "total", "calls"] = arg("mean", flags=("--by",), help="order: mean, total or calls")
    database: str | None = database_arg()


def _enable_steps(ctx: PgContext, ext: Row, database: str) -> Text:
    steps = []
    if not ext["preloaded"]:
        current = ext["libraries"] or ""
        wanted = ", ".join([*(x.strip() for x in current.split(",") if x.strip()), "pg_stat_statements"])
        steps.append(
            f"add it to shared_preload_libraries: ALTER SYSTEM SET shared_preload_libraries = '{wanted}'; "
            "(on a managed service, in its parameter group), then restart PostgreSQL"
        )
    if ext["version"] is None:
        steps.append(f"in database {database} run: CREATE EXTENSION pg_stat_statements;")
    text = f"pg_stat_statements is not enabled on {label(ctx)}. To enable it: " + "; ".join(
        f"{i}) {s}" for i, s in enumerate(steps, 1)
    )
    return Text(title="Slow queries unavailable", text=text, values={"enabled": False, "statements": 0})


@handler("db.slow_queries", SlowQueries, client=Client.POSTGRES, sub="slow-queries")
def slow_queries(ctx: PgContext, params: SlowQueries) -> Text | Table:
    """Top statements from pg_stat_statements by mean time (or `--by total|calls`).

    Needs the pg_stat_statements extension; without it, says how to enable it.
    `/db slow-queries [database] [-n 10] [--by mean]`
    """
    with read_only(ctx) as cur:
        cur.execute(_EXTENSION_SQL)
        ext = cur.fetchone() or {"version": None, "preloaded": False, "libraries": ""}
        cur.execute("SELECT current_database() AS db")
        database = str((cur.fetchone() or {"db": ""})["db"])
        if ext["version"] is None or not ext["preloaded"]:
            return _enable_steps(ctx, ext, database)
        cols = _STATEMENT_COLUMNS[server_version(cur) >= 130000]
        order = "calls" if params.by == "calls" else cols[params.by]
        query = sql.SQL(_SLOW_SQL).format(
            view=sql.Identifier(str(ext["schema"]), "pg_stat_statements"),
            order=sql.SQL("s.") + sql.Identifier(order),
            **{k: sql.Identifier(v) for k, v in cols.items()},
        )
        cur.execute(query, {"limit": params.limit})
        rows = cur.fetchall()
    slow = [r for r in rows if float(r["mean_ms"] or 0) > SLOW_QUERY_MS]
    top_mean = max((float(r["mean_ms"] or 0) for r in rows), default=0.0)
    return Table(
        title=f"Top statements by {params.by} time on {label(ctx)}"
        if params.by != "calls"
        else f"Most frequent statements on {label(ctx)}",
        columns=("calls", "mean", "max", "total", "% of total", "rows", "query"),
        rows=[
            (
                count(r["calls"]),
                millis(r["mean_ms"]),
                millis(r["max_ms"]),
                millis(r["total_ms"]),
                pct(r["share_pct"]),
                count(r["rows"]),
                sql_text(r["query"]),
            )
            for r in rows
        ],
        summary=f"{len(slow)} of these average over {SLOW_QUERY_MS / 1000:.0f} s."
        if rows
        else "pg_stat_statements has no statements for this database yet.",
        values={
            "enabled": True,
            "statements": len(rows),
            "top_mean_ms": round(top_mean, 3),
            "slow": len(slow),
        },
    )


_TABLE_SIZES_SQL = """
SELECT n.nspname || '.' || c.relname AS name,
       pg_total_relation_size(c.oid)::int8 AS total_bytes,
       pg_relation_size(c.oid)::int8 AS heap_bytes,
       pg_indexes_size(c.oid)::int8 AS index_bytes,
       greatest(c.reltuples, 0)::int8 AS rows_estimate,
       s.n_dead_tup::int8 AS dead_rows,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float8 AS vacuum_age_s,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8 AS analyze_age_s,
       count(*) OVER ()::int AS tables,
       sum(pg_total_relation_size(c.oid)) OVER ()::int8 AS all_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
ORDER BY total_bytes DESC, name
LIMIT %(limit)s
"""


class TableSizes(Params):
    limit: Limit = arg(20, flags=("-n", "--limit"), help="how many tables (20)")
    database: str | None = database_arg()


@handler("db.table_sizes", TableSizes, client=Client.POSTGRES, sub="table-sizes")
def table_sizes(ctx: PgContext, params: TableSizes) -> Table:
    """The largest tables: total, table and index size, rows, dead rows, last vacuum and analyze.

    `/db table-sizes [database] [-n 20]`
    """
    with read_only(ctx) as cur:
        cur.execute("SELECT pg_database_size(current_database())::int8 AS bytes")
        db_bytes = int((cur.fetchone() or {"bytes": 0})["bytes"])
        cur.execute(_TABLE_SIZES_SQL, {"limit": params.limit})
        rows = cur.fetchall()
    tables = int(rows[0]["tables"]) if rows else 0
    return Table(
        title=f"Largest tables on {label(ctx)}",
        columns=("table", "total", "table data", "indexes", "rows ≈", "dead rows", "vacuumed", "analyzed"),
        rows=[
            (
                r["name"],
                size(r["total_bytes"]),
                size(r["heap_bytes"]),
                size(r["index_bytes"]),
                count(r["rows_estimate"]),
                count(r["dead_rows"]),
                _ago(r["vacuum_age_s"]),
                _ago(r["analyze_age_s"]),
            )
            for r in rows
        ],
        summary=f"Database size {size(db_bytes)}; {tables} tables"
        + (f", showing the {len(rows)} largest." if tables > len(rows) else "."),
        values={
            "database_bytes": db_bytes,
            "tables": tables,
            "tables_bytes": int(rows[0]["all_bytes"]) if rows else 0,
            "largest_bytes": int(rows[0]["total_bytes"]) if rows else 0,
        },
    )


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{duration(seconds)} ago"


_INDEX_SQL = """
SELECT s.schemaname || '.' || s.relname AS table_name, s.indexrelname AS index_name,
       s.idx_scan::int8 AS scans, pg_relation_size(s.indexrelid)::int8 AS bytes,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid) AS backs_constraint
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
"""
_SEQ_SCAN_SQL = """
SELECT schemaname || '.' || relname AS table_name, seq_scan::int8, seq_tup_read::int8,
       coalesce(idx_scan, 0)::int8 AS idx_scan, n_live_tup::int8 AS live_rows
FROM pg_stat_user_tables
WHERE seq_scan > 0 AND seq_tup_read > 0
ORDER BY seq_tup_read DESC
LIMIT 10
"""


class IndexUsage(Params):
    limit: Limit = arg(30, flags=("-n", "--limit"), help="how many indexes (30)")
    database: str | None = database_arg()


@handler("db.index_usage", IndexUsage, client=Client.POSTGRES, sub="index-usage")
def index_usage(ctx: PgContext, params: IndexUsage) -> Group:
    """Index scans since the statistics were reset; unused and invalid indexes flagged first.

    "Unused" means no scans and not backing a primary key, unique or exclusion constraint.
    Scans on replicas are not counted here. Also lists the tables read most by sequential scans.
    `/db index-usage [database] [-n 30]`
    """
    with read_only(ctx) as cur:
        cur.execute(_INDEX_SQL)
        indexes = cur.fetchall()
        cur.execute(_SEQ_SCAN_SQL)
        seq = cur.fetchall()
        cur.execute("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
        reset = (cur.fetchone() or {}).get("stats_reset")

    unused = [r for r in indexes if r["is_valid"] and r["scans"] == 0 and not _enforces(r)]
    invalid = [r for r in indexes if not r["is_valid"]]
    ordered = sorted(
        indexes,
        key=lambda r: (0 if r in unused or r in invalid else 1, r["scans"], -r["bytes"], r["index_name"]),
    )
    values = {
        "indexes": len(indexes),
        "unused": len(unused),
        "unused_bytes": sum(int(r["bytes"]) for r in unused),
        "invalid": len(invalid),
    }
    since = f" since {reset:%Y-%m-%d %H:%M} UTC" if reset else ""
    idx_table = Table(
        title=f"Index usage on {label(ctx)}",
        columns=("index", "table", "scans", "size", "note"),
        rows=[
            (r["index_name"], r["table_name"], count(r["scans"]), size(r["bytes"]), _index_note(r))
            for r in ordered[: params.limit]
        ],
        summary=f"{len(indexes)} indexes; {len(unused)} unused ({size(values['unused_bytes'])}) and "
        f"{len(invalid)} invalid, counting scans{since}.",
        values=values,
    )
    return Group(title=f"Index usage on {label(ctx)}", parts=(idx_table, _seq_scan_table(seq)), values=values)


def _index_note(r: Row) -> str:
    if not r["is_valid"]:
        return "INVALID (a failed concurrent build?)"
    if r["scans"] == 0:
        return "enforces a constraint" if _enforces(r) else "UNUSED"
    return ""


def _seq_scan_table(seq: list[Row]) -> Table:
    return Table(
        title="Tables read most by sequential scans",
        columns=("table", "seq scans", "rows read by seq scans", "index scans", "live rows"),
        rows=[
            (
                r["table_name"],
                count(r["seq_scan"]),
                count(r["seq_tup_read"]),
                count(r["idx_scan"]),
                count(r["live_rows"]),
            )
            for r in seq
        ],
    )


def _enforces(r: Row) -> bool:
    return bool(r["is_unique"] or r["is_primary"] or r["backs_constraint"])


_DB_STATS_SQL = """
SELECT d.datname, d.numbackends::int AS backends, d.xact_commit::int8 AS commits,
       d.xact_rollback::int8 AS rollbacks, d.deadlocks::int8 AS deadlocks,
       d.blks_read::int8, d.blks_hit::int8, d.temp_files::int8, d.temp_bytes::int8,
       d.conflicts::int8, d.tup_returned::int8, d.tup_fetched::int8, d.tup_inserted::int8,
       d.tup_updated::int8, d.tup_deleted::int8, d.stats_reset,
       pg_database_size(d.datname)::int8 AS size_bytes
FROM pg_stat_database d
WHERE d.datname = current_database()
"""


@handler("db.db_stats", Target, client=Client.POSTGRES, sub="db-stats")
def db_stats(ctx: PgContext, params: Target) -> KeyValues:
    """Commits, rollbacks, deadlocks, cache hit ratio and temp files from pg_stat_database.

    `/db db-stats [database]`
    """
    with read_only(ctx) as cur:
        cur.execute(_DB_STATS_SQL)
        r = cur.fetchone()
    if r is None:
        return KeyValues(title=f"No statistics for {label(ctx)}", items=(), values={})
    commits, rollbacks = int(r["commits"]), int(r["rollbacks"])
    hit, read = int(r["blks_hit"]), int(r["blks_read"])
    cache_hit_pct = round(100.0 * hit / (hit + read), 2) if hit + read else None
    rollback_pct = round(100.0 * rollbacks / (commits + rollbacks), 2) if commits + rollbacks else 0.0
    since = f"{r['stats_reset']:%Y-%m-%d %H:%M} UTC" if r["stats_reset"] else "the server's start"
    return KeyValues(
        title=f"Statistics of {label(ctx)} ({r['datname']})",
        items=(
            (
                "Commits / rollbacks",
                f"{count(commits)} / {count(rollbacks)} ({pct(rollback_pct)} rolled back)",
            ),
            ("Deadlocks", count(r["deadlocks"])),
            ("Cache hit ratio", pct(cache_hit_pct) or "no reads yet"),
            ("Blocks hit / read", f"{count(hit)} / {count(read)}"),
            ("Temp files", f"{count(r['temp_files'])} ({size(r['temp_bytes'])})"),
            ("Rows returned / fetched", f"{count(r['tup_returned'])} / {count(r['tup_fetched'])}"),
            (
                "Rows inserted / updated / deleted",
                f"{count(r['tup_inserted'])} / {count(r['tup_updated'])} / {count(r['tup_deleted'])}",
            ),
            ("Recovery conflicts", count(r["conflicts"])),
            ("Backends", count(r["backends"])),
            ("Size", size(r["size_bytes"])),
            ("Counting since", since),
        ),
        values={
            "commits": commits,
            "rollbacks": rollbacks,
            "rollback_pct": rollback_pct,
            "deadlocks": int(r["deadlocks"]),
            "cache_hit_pct": cache_hit_pct,
            "blks_hit": hit,
            "blks_read": read,
            "temp_files": int(r["temp_files"]),
            "temp_bytes": int(r["temp_bytes"]),
            "conflicts": int(r["conflicts"]),
            "backends": int(r["backends"]),
            "size_bytes": int(r["size_bytes"]),
        },
    )
