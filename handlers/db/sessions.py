"""Who is connected and what they are doing: activity, connections, long-running, locks."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field

from handlers import Client, handler
from handlers.db.common import PgContext, Row, database_arg, label, read_only, server_version, sql_text
from handlers.humanize import duration, pct
from handlers.params import Duration, Params, arg
from handlers.results import Check, Group, Status, Table

# The seeds' thresholds for database connections against max_connections.
CONNECTIONS_WARN_PCT = 80.0
CONNECTIONS_CRIT_PCT = 95.0

# The bot's sessions: its application_name (set on every pool) and its database user.
_BOT = "(a.application_name = current_setting('application_name') AND a.usename = current_user)"
_CLIENT = "coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local socket' END, '')"

# Only client sessions, never the bot's own: not this connection, nor the bot's other pooled
# connections (a runbook runs several diagnostics at once, each mid-transaction), known by the
# bot's application_name and user. `seconds` is how long the current query has run (active)
# or how long the session has been in its state.
ACTIVITY_SQL = f"""
SELECT a.pid, a.usename AS user, a.application_name AS application, {_CLIENT} AS client,
       a.datname AS database, a.state, a.wait_event_type, a.wait_event,
       extract(epoch FROM clock_timestamp() - CASE WHEN a.state = 'active' THEN a.query_start
            ELSE coalesce(a.state_change, a.backend_start) END)::float8 AS seconds,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_seconds,
       a.query
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND NOT {_BOT}
  AND a.backend_type = 'client backend'
  AND (%(all)s OR a.state IS DISTINCT FROM 'idle')
ORDER BY a.state = 'active' DESC, seconds DESC NULLS LAST
"""

_LONG_RUNNING_SQL = f"""
SELECT a.pid, a.usename AS user, a.application_name AS application, {_CLIENT} AS client,
       a.datname AS database, a.state, a.wait_event_type, a.wait_event, a.backend_type,
       extract(epoch FROM clock_timestamp() - CASE WHEN a.state = 'active' THEN a.query_start
            ELSE a.xact_start END)::float8 AS seconds,
       a.query
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND NOT {_BOT}
  AND a.backend_type IN ('client backend', 'autovacuum worker')
  AND ((a.state = 'active' AND a.query_start < clock_timestamp() - make_interval(secs => %(min_s)s))
    OR (a.state LIKE 'idle in transaction%%'
        AND a.xact_start < clock_timestamp() - make_interval(secs => %(min_s)s)))
ORDER BY seconds DESC
"""

_CONNECTIONS_SQL = """
SELECT coalesce(a.state, 'unknown') AS state,
       coalesce(nullif(a.application_name, ''), '(none)') AS application,
       a.wait_event_type = 'Lock' AS waiting,
       count(*)::int AS n
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
GROUP BY 1, 2, 3
"""

_SETTINGS_SQL = """
SELECT current_setting('max_connections')::int AS max,
       current_setting('superuser_reserved_connections')::int AS reserved
"""

# Every (waiting, blocking) pair from pg_blocking_pids, with the lock waited for and both
# queries; the blocker's side shows how long its transaction has held its locks.
_LOCKS_SQL = """
WITH waiting AS (
    SELECT a.*, pg_blocking_pids(a.pid) AS blockers
    FROM pg_stat_activity a
    WHERE a.pid <> pg_backend_pid() AND a.wait_event_type = 'Lock'
)
SELECT w.pid AS waiting_pid, w.usename AS waiting_user, w.application_name AS waiting_app,
       w.datname AS database,
       extract(epoch FROM clock_timestamp() - coalesce(lw.waitstart, w.query_start))::float8 AS waited_s,
       coalesce(lw.lock, w.wait_event) AS lock, w.query AS waiting_query,
       bp.pid AS blocking_pid, b.usename AS blocking_user, b.application_name AS blocking_app,
       b.state AS blocking_state, b.wait_event_type = 'Lock' AS blocking_waits,
       extract(epoch FROM clock_timestamp() - b.xact_start)::float8 AS blocking_xact_s,
       extract(epoch FROM clock_timestamp() - coalesce(bl.waitstart, b.query_start))::float8
           AS blocking_waited_s,
       b.query AS blocking_query
FROM waiting w
CROSS JOIN LATERAL unnest(w.blockers) AS bp(pid)
LEFT JOIN pg_stat_activity b ON b.pid = bp.pid
LEFT JOIN LATERAL (
    SELECT min({waitstart}) AS waitstart,
           string_agg(DISTINCT l.mode || ' on ' || CASE WHEN l.relation IS NOT NULL
                THEN l.relation::regclass::text ELSE l.locktype END, ', ') AS lock
    FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted
) lw ON true
LEFT JOIN LATERAL (
    SELECT min({waitstart_b}) AS waitstart FROM pg_locks l WHERE l.pid = b.pid AND NOT l.granted
) bl ON b.wait_event_type = 'Lock'
WHERE bp.pid <> pg_backend_pid()
ORDER BY waited_s DESC NULLS LAST, w.pid, bp.pid
"""
# pg_locks.waitstart exists from PostgreSQL 14; before, the wait is counted from query start.
LOCKS_SQL_14 = _LOCKS_SQL.format(waitstart="l.waitstart", waitstart_b="l.waitstart")
LOCKS_SQL_OLD = _LOCKS_SQL.format(waitstart="NULL::timestamptz", waitstart_b="NULL::timestamptz")


def _wait(row: Row) -> str:
    kind, event = row.get("wait_event_type"), row.get("wait_event")
    return f"{kind}:{event}" if kind else ""


def _session_row(r: Row) -> tuple[str, ...]:
    """One session as activity and long-running show it (an autovacuum worker has no application)."""
    application = r["application"] or ("autovacuum" if r.get("backend_type") == "autovacuum worker" else "")
    return (
        str(r["pid"]),
        r["user"] or "",
        application,
        r["client"],
        r["database"] or "",
        r["state"] or "",
        _wait(r),
        duration(r["seconds"]),
        sql_text(r["query"]),
    )


class Activity(Params):
    all: bool = arg(False, flags=("--all", "-a"), help="include idle sessions too")
    limit: Annotated[int, Field(ge=1, le=500)] = arg(50, flags=("-n", "--limit"), help="rows shown (50)")
    database: str | None = database_arg()


@handler("db.activity", Activity, client=Client.POSTGRES)
def activity(ctx: PgContext, params: Activity) -> Table:
    """Sessions that are doing something: pid, user, application, client, state, wait, duration, query.

    Idle sessions are left out unless `--all`. The bot's own session is never listed.
    `/db activity [database] [--all]`
    """
    with read_only(ctx) as cur:
        cur.execute(ACTIVITY_SQL, {"all": params.all})
        rows = cur.fetchall()
    states = Counter(str(r["state"]) for r in rows)
    waiting = sum(1 for r in rows if r["wait_event_type"] == "Lock")
    active = [r for r in rows if r["state"] == "active"]
    longest = max((float(r["seconds"] or 0) for r in active), default=0.0)
    idle_tx = states["idle in transaction"] + states["idle in transaction (aborted)"]
    summary = (
        f"{len(rows)} sessions: {len(active)} active, {idle_tx} idle in transaction, "
        f"{waiting} waiting on a lock" + (f"; longest query {duration(longest)}" if active else "")
    )
    if len(rows) > params.limit:
        summary += f" (showing {params.limit})"
    return Table(
        title=f"Activity on {label(ctx)}",
        columns=("pid", "user", "application", "client", "db", "state", "wait", "duration", "query"),
        rows=[_session_row(r) for r in rows[: params.limit]],
        summary=summary,
        values={
            "sessions": len(rows),
            "active": len(active),
            "idle_in_transaction": idle_tx,
            "waiting": waiting,
            "longest_s": round(longest, 3),
        },
    )


class Connections(Params):
    database: str | None = database_arg()


@handler("db.connections", Connections, client=Client.POSTGRES)
def connections(ctx: PgContext, params: Connections) -> Group:
    """Connections by state and by application against max_connections (warn 80%, critical 95%).

    `/db connections [database]`
    """
    with read_only(ctx) as cur:
        cur.execute(_SETTINGS_SQL)
        settings = cur.fetchone() or {"max": 0, "reserved": 0}
        cur.execute(_CONNECTIONS_SQL)
        groups = cur.fetchall()
    maximum, reserved = int(settings["max"]), int(settings["reserved"])
    # +1: the bot's own connection is not listed but does hold a slot.
    used = sum(int(g["n"]) for g in groups) + 1
    used_pct = round(100.0 * used / maximum, 1) if maximum else 0.0
    by_state: Counter[str] = Counter()
    by_app: dict[str, Counter[str]] = {}
    waiting = 0
    for g in groups:
        n = int(g["n"])
        by_state[g["state"]] += n
        by_app.setdefault(g["application"], Counter())[g["state"]] += n
        waiting += n if g["waiting"] else 0
    idle_tx = by_state["idle in transaction"] + by_state["idle in transaction (aborted)"]
    status = (
        Status.CRIT
        if used_pct >= CONNECTIONS_CRIT_PCT
        else Status.WARN
        if used_pct >= CONNECTIONS_WARN_PCT
        else Status.OK
    )
    values: dict[str, Any] = {
        "used": used,
        "max": maximum,
        "used_pct": used_pct,
        "available": max(maximum - reserved - used, 0),
        "reserved": reserved,
        "active": by_state["active"],
        "idle": by_state["idle"],
        "idle_in_transaction": idle_tx,
        "waiting": waiting,
    }
    detail = (
        f"{used} of {maximum} connections in use ({pct(used_pct)}; {reserved} reserved for superusers): "
        f"{by_state['active']} active, {by_state['idle']} idle, {idle_tx} idle in transaction, "
        f"{waiting} waiting on a lock. Thresholds: warn {CONNECTIONS_WARN_PCT:.0f}%, "
        f"critical {CONNECTIONS_CRIT_PCT:.0f}%."
    )
    table = _by_application(by_app, values)
    # The group carries the title; the check under it is the verdict line.
    check = Check(status=status, detail=detail, values=values)
    return Group(title=f"Connections on {label(ctx)}", parts=(check, table), values=values)


def _by_application(by_app: dict[str, Counter[str]], values: dict[str, Any]) -> Table:
    """The 20 applications holding the most connections, by state."""
    idle_tx = ("idle in transaction", "idle in transaction (aborted)")
    apps = sorted(by_app.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    rows = []
    for app, c in apps[:20]:
        total, in_tx = sum(c.values()), sum(c[s] for s in idle_tx)
        rows.append(
            (
                app,
                str(total),
                str(c["active"]),
                str(c["idle"]),
                str(in_tx),
                str(total - c["active"] - c["idle"] - in_tx),
            )
        )
    return Table(
        title="By application",
        columns=("application", "connections", "active", "idle", "idle in transaction", "other"),
        rows=rows,
        values=values,
    )


class LongRunning(Params):
    min: Duration = arg(timedelta(minutes=5), flags=("--min",), help="shortest duration shown (5m)")
    database: str | None = database_arg()


@handler("db.long_running", LongRunning, client=Client.POSTGRES, sub="long-running")
def long_running(ctx: PgContext, params: LongRunning) -> Table:
    """Queries running longer than `--min` (default 5m), and transactions left open that long.

    `/db long-running [database] [--min 5m]`
    """
    min_s = params.min.total_seconds()
    with read_only(ctx) as cur:
        cur.execute(_LONG_RUNNING_SQL, {"min_s": min_s})
        rows = cur.fetchall()
    active = [r for r in rows if r["state"] == "active"]
    longest = max((float(r["seconds"] or 0) for r in rows), default=0.0)
    if rows:
        summary = (
            f"{len(active)} queries running and {len(rows) - len(active)} transactions open for longer "
            f"than {duration(min_s)}; longest {duration(longest)}. Cancel one with /db cancel PID, "
            "end its session with /db terminate PID."
        )
    else:
        summary = f"Nothing has been running longer than {duration(min_s)}."
    return Table(
        title=f"Long-running on {label(ctx)} (over {duration(min_s)})",
        columns=("pid", "user", "application", "client", "db", "state", "wait", "running for", "query"),
        rows=[_session_row(r) for r in rows[:100]],
        summary=summary,
        values={
            "count": len(rows),
            "active": len(active),
            "idle_in_transaction": len(rows) - len(active),
            "longest_s": round(longest, 3),
            "min_s": min_s,
        },
    )


class Locks(Params):
    database: str | None = database_arg()


@handler("db.locks", Locks, client=Client.POSTGRES)
def locks(ctx: PgContext, params: Locks) -> Table:
    """Who blocks whom (pg_blocking_pids): both queries, the lock, and how long each has waited.

    A blocker that is itself waiting is marked; the root blockers are the ones to deal with
    (`/db cancel PID` or `/db terminate PID`). `/db locks [database]`
    """
    with read_only(ctx) as cur:
        cur.execute(LOCKS_SQL_14 if server_version(cur) >= 140000 else LOCKS_SQL_OLD)
        rows = cur.fetchall()
    waiting = {r["waiting_pid"] for r in rows}
    blockers = {r["blocking_pid"] for r in rows}
    roots = {r["blocking_pid"] for r in rows if not r["blocking_waits"]}
    longest = max((float(r["waited_s"] or 0) for r in rows), default=0.0)
    if rows:
        summary = (
            f"{len(waiting)} sessions waiting on {len(blockers)} blockers; longest wait {duration(longest)}. "
            f"Root blockers (not waiting themselves): {', '.join(str(p) for p in sorted(roots)) or 'none'}."
        )
    else:
        summary = "No session is waiting on a lock."
    return Table(
        title=f"Lock waits on {label(ctx)}",
        columns=(
            "waiting pid",
            "user",
            "waited",
            "lock",
            "waiting query",
            "blocking pid",
            "user",
            "state",
            "holding for",
            "blocking query",
        ),
        rows=[_lock_row(r) for r in rows[:100]],
        summary=summary,
        values={
            "blocked": len(waiting),
            "blockers": len(blockers),
            "root_blockers": len(roots),
            "pairs": len(rows),
            "longest_wait_s": round(longest, 3),
        },
    )


def _lock_row(r: Row) -> tuple[str, ...]:
    if r["blocking_user"] is None and r["blocking_state"] is None:
        blocker = ("", "prepared transaction" if r["blocking_pid"] == 0 else "", "")
    else:
        state = r["blocking_state"] or ""
        if r["blocking_waits"]:
            state += f" (itself waiting {duration(r['blocking_waited_s'])})"
        blocker = (r["blocking_user"] or "", state, duration(r["blocking_xact_s"]))
    return (
        str(r["waiting_pid"]),
        r["waiting_user"] or "",
        duration(r["waited_s"]),
        r["lock"] or "",
        sql_text(r["waiting_query"]),
        str(r["blocking_pid"]),
        blocker[0],
        blocker[1],
        blocker[2],
        sql_text(r["blocking_query"]),
    )
