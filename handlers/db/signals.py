"""Cancel a backend's query or terminate its session (destructive, previewed first)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import PositiveInt

from handlers import Client, Context, handler
from handlers.db.common import Cursor, Row, database_arg, label, read_only, sql_text, writable
from handlers.errors import HandlerError, InvalidRequest, NotFound, TargetMoved
from handlers.humanize import duration
from handlers.params import Params, arg
from handlers.pin import pinned
from handlers.results import KeyValues, Preview

_BACKEND_SQL = """
SELECT a.pid, a.usename AS user, a.application_name AS application, a.datname AS database,
       coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local socket' END, '') AS client,
       a.state, a.backend_type, a.wait_event_type, a.wait_event, a.query, a.backend_start,
       extract(epoch FROM clock_timestamp() - a.query_start)::float8 AS query_s,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_s,
       a.pid = pg_backend_pid() AS is_self,
       a.application_name = current_setting('application_name') AND a.usename = current_user AS is_bot
FROM pg_stat_activity a
WHERE a.pid = %(pid)s
"""
# Backends a person may reasonably stop; the rest (walsender, checkpointer...) PostgreSQL manages.
_SIGNALLABLE = ("client backend", "autovacuum worker")
# How long a handler waits to see the backend react to the signal.
_SETTLE_S = 3.0


class Backend(Params):
    pid: PositiveInt = arg(..., positional=True, help="the backend's process id (see /db activity)")
    database: str | None = database_arg()


def _backend(ctx: Context[Any], cur: Cursor, pid: int, verb: str) -> Row:
    cur.execute(_BACKEND_SQL, {"pid": pid})
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"{label(ctx)}: no backend with pid {pid} (it may have finished; see /db activity)")
    if row["is_self"] or row["is_bot"]:
        raise InvalidRequest(f"{label(ctx)}: pid {pid} is the bot's own session; refusing to {verb} it")
    if row["backend_type"] not in _SIGNALLABLE:
        raise InvalidRequest(
            f"{label(ctx)}: pid {pid} is PostgreSQL's {row['backend_type']} process, not a client session; "
            f"refusing to {verb} it"
        )
    return row


def _describe(row: Row) -> tuple[str, list[str]]:
    who = f"{row['user'] or '?'} ({row['application'] or 'no application name'})"
    if row["client"]:
        who += f" from {row['client']}"
    state = row["state"] or "unknown state"
    ran = duration(row["query_s"]) if row["state"] == "active" else ""
    headline = f"pid {row['pid']}: {who}, {state}" + (f" for {ran}" if ran else "")
    details = [
        f"database: {row['database'] or ''}",
        f"query{' running for ' + ran if ran else ' (last)'}: {sql_text(row['query'], 300)}",
    ]
    if row["xact_s"] is not None:
        details.append(f"transaction open for {duration(row['xact_s'])}")
    if row["wait_event_type"]:
        details.append(f"waiting on {row['wait_event_type']}:{row['wait_event']}")
    return headline, details


def preview_cancel(ctx: Context[Any], params: Backend) -> Preview:
    with read_only(ctx) as cur:
        row = _backend(ctx, cur, params.pid, "cancel")
    headline, details = _describe(row)
    if row["state"] != "active":
        details.append(f"it is {row['state']}: there is no running query to cancel")
    return Preview(
        pin=_pin(row),
        summary=f"Cancel the query of {headline} on {label(ctx)}",
        details=(*details, "The session stays connected; its current statement fails with an error."),
    )


def preview_terminate(ctx: Context[Any], params: Backend) -> Preview:
    with read_only(ctx) as cur:
        row = _backend(ctx, cur, params.pid, "terminate")
    headline, details = _describe(row)
    return Preview(
        pin=_pin(row),
        summary=f"Terminate {headline} on {label(ctx)}",
        details=(*details, "The connection is closed and its open transaction is rolled back."),
    )


def _pin(row: Row) -> dict[str, str | int]:
    """A pid is reused once its session ends: the pair (pid, backend_start) names one session."""
    return {"pid": int(row["pid"]), "backend_start": row["backend_start"].isoformat()}


def _check_pin(ctx: Context[Any], row: Row, verb: str) -> str | None:
    """The pinned session's start, or None when unpinned; refuses a different session."""
    pin = pinned(ctx)
    if pin is None:
        return None
    started = str(pin.get("backend_start"))
    if row["backend_start"].isoformat() != started:
        raise TargetMoved(
            f"{label(ctx)}: pid {row['pid']} is now a different session (started "
            f"{row['backend_start'].isoformat()}) than the one the confirmed preview showed (started "
            f"{started}); refusing to {verb} it. Nothing was changed; ask again for a fresh preview."
        )
    return started


def _gone_or_stopped(ctx: Context[Any], cur: Cursor, row: Row, terminated: bool) -> bool:
    """Whether the backend reacted: gone (terminate) or no longer running that query (cancel)."""
    deadline = time.monotonic() + min(_SETTLE_S, ctx.timeout)
    while True:
        # Statistics are cached per transaction; clear them to see the backend's current state.
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT state, backend_start, query_start FROM pg_stat_activity WHERE pid = %(pid)s",
            {"pid": row["pid"]},
        )
        now = cur.fetchone()
        if now is None or now["backend_start"] != row["backend_start"]:
            return True
        if not terminated and now["state"] != "active":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# The only statements a signal runs; picked by name, never built from input. The pinned
# form signals only the session the preview showed, in the same statement that checks it.
_SIGNAL_SQL = {
    "cancel": "SELECT pg_cancel_backend(%(pid)s) AS ok",
    "terminate": "SELECT pg_terminate_backend(%(pid)s) AS ok",
}
_PINNED_SQL = {
    "cancel": "SELECT pg_cancel_backend(pid) AS ok FROM pg_stat_activity "
    "WHERE pid = %(pid)s AND backend_start = %(start)s",
    "terminate": "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
    "WHERE pid = %(pid)s AND backend_start = %(start)s",
}


def _signal(ctx: Context[Any], pid: int, verb: str) -> tuple[Row, bool]:
    """Check the backend, send it the signal, and whether it reacted within the settle time."""
    with writable(ctx) as cur:
        row = _backend(ctx, cur, pid, verb)
        started = _check_pin(ctx, row, verb)
        if started is None:
            cur.execute(_SIGNAL_SQL[verb], {"pid": pid})
        else:
            cur.execute(_PINNED_SQL[verb], {"pid": pid, "start": row["backend_start"]})
        if not (cur.fetchone() or {}).get("ok"):
            raise HandlerError(f"{label(ctx)}: could not signal pid {pid} (it may have just ended)")
        return row, _gone_or_stopped(ctx, cur, row, terminated=verb == "terminate")


@handler("db.cancel", Backend, client=Client.POSTGRES, destructive=True, preview=preview_cancel)
def cancel(ctx: Context[Any], params: Backend) -> KeyValues:
    """Cancel a backend's running query (pg_cancel_backend); the session stays connected.

    `/db cancel PID [database]`. Refuses the bot's own sessions and pids that do not exist.
    """
    row, stopped = _signal(ctx, params.pid, "cancel")
    headline, _ = _describe(row)
    outcome = "its query stopped" if stopped else f"still running after {_SETTLE_S:.0f} s"
    return KeyValues(
        title=f"Cancelled pid {params.pid} on {label(ctx)}: {outcome}",
        items=(("Backend", headline), ("Query", sql_text(row["query"], 300)), ("Outcome", outcome)),
        values={"pid": params.pid, "cancelled": True, "stopped": stopped},
    )


@handler("db.terminate", Backend, client=Client.POSTGRES, destructive=True, preview=preview_terminate)
def terminate(ctx: Context[Any], params: Backend) -> KeyValues:
    """Terminate a backend's session (pg_terminate_backend), rolling back its transaction.

    `/db terminate PID [database]`. Refuses the bot's own sessions and pids that do not exist.
    """
    row, gone = _signal(ctx, params.pid, "terminate")
    headline, _ = _describe(row)
    outcome = "the session has ended" if gone else f"signalled, but still present after {_SETTLE_S:.0f} s"
    return KeyValues(
        title=f"Terminated pid {params.pid} on {label(ctx)}: {outcome}",
        items=(("Backend", headline), ("Query", sql_text(row["query"], 300)), ("Outcome", outcome)),
        values={"pid": params.pid, "terminated": gone},
    )
