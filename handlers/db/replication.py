"""Replication: lag per replica and replication slots on a primary, replay delay on a standby."""

from __future__ import annotations

from typing import Any

from handlers import Client, handler
from handlers.db.common import Cursor, PgContext, Row, label, read_only
from handlers.db.stats import Target
from handlers.humanize import duration, size
from handlers.results import Group, KeyValues, Table


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{duration(seconds)} ago"


_REPLICAS_SQL = """
SELECT r.pid, coalesce(nullif(r.application_name, ''), '(unnamed)') AS name,
       coalesce(host(r.client_addr), 'local socket') AS client, r.state, r.sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8 AS lag_bytes,
       extract(epoch FROM r.write_lag)::float8 AS write_lag_s,
       extract(epoch FROM r.flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s
FROM pg_stat_replication r
ORDER BY name, r.pid
"""
_SLOTS_SQL = """
SELECT slot_name, slot_type, active,
       pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(confirmed_flush_lsn, restart_lsn))::float8
           AS retained_bytes
FROM pg_replication_slots
ORDER BY slot_name
"""
_STANDBY_SQL = """
SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS replay_gap_bytes,
       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS replay_delay_s,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status,
       (SELECT sender_host FROM pg_stat_wal_receiver LIMIT 1) AS sender_host
"""


@handler("db.replication", Target, client=Client.POSTGRES)
def replication(ctx: PgContext, params: Target) -> Group:
    """Replication: lag per replica (bytes and seconds) and slots on a primary; replay delay on a standby.

    `/db replication [database]`
    """
    with read_only(ctx) as cur:
        cur.execute("SELECT pg_is_in_recovery() AS standby")
        standby = bool((cur.fetchone() or {}).get("standby"))
        if standby:
            return _standby(ctx, cur)
        cur.execute(_REPLICAS_SQL)
        replicas = cur.fetchall()
        cur.execute(_SLOTS_SQL)
        slots = cur.fetchall()
    values = _primary_values(replicas, slots)
    parts: list[Table] = [_replicas_table(ctx, replicas, values)]
    if slots:
        parts.append(_slots_table(slots))
    return Group(title=f"Replication of {label(ctx)}", parts=parts, values=values)


def _primary_values(replicas: list[Row], slots: list[Row]) -> dict[str, Any]:
    return {
        "role": "primary",
        "replicas": len(replicas),
        "max_lag_bytes": max((float(r["lag_bytes"] or 0) for r in replicas), default=0.0),
        "max_replay_lag_s": max((float(r["replay_lag_s"] or 0) for r in replicas), default=0.0),
        "slots": len(slots),
        "inactive_slots": sum(1 for s in slots if not s["active"]),
        "max_slot_retained_bytes": max((float(s["retained_bytes"] or 0) for s in slots), default=0.0),
    }


def _replicas_table(ctx: PgContext, replicas: list[Row], values: dict[str, Any]) -> Table:
    summary = (
        f"{len(replicas)} replicas connected; largest lag {size(values['max_lag_bytes'])}, "
        f"{duration(values['max_replay_lag_s']) or '0 ms'} replay lag."
        if replicas
        else f"{label(ctx)} is a primary with no replicas connected."
    )
    return Table(
        title=f"Replicas of {label(ctx)}",
        columns=("replica", "client", "state", "sync", "lag", "write lag", "flush lag", "replay lag"),
        rows=[
            (
                r["name"],
                r["client"],
                r["state"] or "",
                r["sync_state"] or "",
                size(r["lag_bytes"]),
                duration(r["write_lag_s"]),
                duration(r["flush_lag_s"]),
                duration(r["replay_lag_s"]),
            )
            for r in replicas
        ],
        summary=summary,
        values=values,
    )


def _slots_table(slots: list[Row]) -> Table:
    inactive = sum(1 for s in slots if not s["active"])
    kept = f"{inactive} inactive slots keep WAL on the primary's disk until dropped." if inactive else ""
    return Table(
        title="Replication slots",
        columns=("slot", "type", "active", "WAL retained"),
        rows=[
            (s["slot_name"], s["slot_type"], "yes" if s["active"] else "NO", size(s["retained_bytes"]))
            for s in slots
        ],
        summary=kept,
    )


def _standby(ctx: PgContext, cur: Cursor) -> Group:
    cur.execute(_STANDBY_SQL)
    r = cur.fetchone() or {}
    values: dict[str, Any] = {
        "role": "standby",
        "replay_delay_s": r.get("replay_delay_s"),
        "replay_gap_bytes": r.get("replay_gap_bytes"),
        "receiver_status": r.get("receiver_status") or "not streaming",
    }
    info = KeyValues(
        title=f"{label(ctx)} is a standby",
        items=(
            ("WAL receiver", f"{values['receiver_status']} from {r.get('sender_host') or 'unknown'}"),
            ("Received / replayed", f"{r.get('received')} / {r.get('replayed')}"),
            ("Not yet replayed", size(r.get("replay_gap_bytes"))),
            ("Last replayed transaction", _ago(r.get("replay_delay_s"))),
        ),
        values=values,
    )
    return Group(title=f"Replication of {label(ctx)}", parts=(info,), values=values)
