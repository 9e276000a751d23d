"""Storing alert occurrences once, and the group rows every replica works from.

`store_batch` runs in one transaction before the webhook is answered: the group row is
upserted, each occurrence inserted with `INSERT … ON CONFLICT (fingerprint, starts_at) DO
NOTHING`, and a firing occurrence that now arrives resolved is flipped (firing → resolved only,
never back, so a resolved notification that overtakes its firing one wins). Anything new bumps
the group's `seq`, which is what tells the Slack side there is something to show.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.alerts.payload import FIRING, RESOLVED, Alert, Batch
from bot.alerts.tables import alert_groups, alert_occurrences
from bot.store import as_utc


@dataclass(frozen=True)
class Stored:
    group_id: int
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Group:
    id: int
    source: str
    group_key: str
    labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    seq: int
    posted_seq: int
    channel_id: str | None
    message_ts: str | None
    firing_since: datetime | None
    resolved_at: datetime | None
    incident_id: int | None
    incident_for: datetime | None
    runbook_for: datetime | None
    resolved_told_for: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Occurrence:
    id: int
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    received_at: datetime
    told: str

    @property
    def firing(self) -> bool:
        return self.status == FIRING


def _json(d: dict[str, str]) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def _load(raw: str | None) -> dict[str, str]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _insert(engine: Engine) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


def _transient(exc: DBAPIError) -> bool:
    """A deadlock or serialisation failure between replicas: the transaction may simply be retried."""
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc.orig)


def store_batch(engine: Engine, batch: Batch, now: datetime) -> Stored:
    """Store a webhook's alerts once; retried on a deadlock between replicas (never half-stored)."""
    for attempt in range(4):
        try:
            return _store(engine, batch, now)
        except (OperationalError, DBAPIError) as exc:
            if attempt == 3 or not _transient(exc):
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


# PostgreSQL: the whole store as one statement in autocommit (one round trip, one implicit
# transaction) instead of BEGIN, four statements and COMMIT. A new group is inserted with seq 1;
# an existing one is bumped by `bump` (the two never touch the same row in one statement). When a
# replica inserted the same new group concurrently, `g` finds no row in this statement's snapshot
# and the statement is run again.
_PG_STORE = text(
    """
WITH incoming AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(
    fingerprint text, starts_at timestamptz, status text, ends_at timestamptz,
    labels text, annotations text, generator_url text)
), g_new AS (
  INSERT INTO alert_groups (key_hash, group_key, source, receiver, labels, common_labels,
                            common_annotations, created_at, updated_at, seq, posted_seq)
  VALUES (:key_hash, :group_key, :source, :receiver, :labels, :common_labels,
          :common_annotations, :now, :now, 1, 0)
  ON CONFLICT (key_hash) DO NOTHING
  RETURNING id
), g_old AS (
  SELECT id FROM alert_groups WHERE key_hash = :key_hash
), g AS (
  SELECT id FROM g_new UNION ALL SELECT id FROM g_old
), ins AS (
  INSERT INTO alert_occurrences (group_id, fingerprint, starts_at, status, ends_at, labels,
                                 annotations, generator_url, received_at, resolved_received_at, told)
  SELECT (SELECT id FROM g LIMIT 1), i.fingerprint, i.starts_at, i.status, i.ends_at, i.labels,
         i.annotations, i.generator_url, :now, CASE WHEN i.status = 'resolved' THEN :now END, ''
  FROM incoming i WHERE EXISTS (SELECT 1 FROM g)
  ON CONFLICT (fingerprint, starts_at) DO NOTHING
  RETURNING 1
), flip AS (
  UPDATE alert_occurrences o
  SET status = 'resolved', ends_at = COALESCE(i.ends_at, :now), resolved_received_at = :now
  FROM incoming i
  WHERE i.status = 'resolved' AND o.fingerprint = i.fingerprint AND o.starts_at = i.starts_at
    AND o.status = 'firing' AND EXISTS (SELECT 1 FROM g)
  RETURNING 1
), bump AS (
  UPDATE alert_groups
  SET seq = seq + 1, updated_at = :now, common_labels = :common_labels,
      common_annotations = :common_annotations
  WHERE id IN (SELECT id FROM g_old)
    AND ((SELECT count(*) FROM ins) + (SELECT count(*) FROM flip)) > 0
  RETURNING 1
)
SELECT (SELECT id FROM g LIMIT 1) AS id, (SELECT count(*) FROM ins) AS inserted,
       (SELECT count(*) FROM flip) AS flipped
"""
)


def _store_pg(engine: Engine, batch: Batch, rows: list[Alert], now: datetime) -> Stored | None:
    payload = json.dumps(
        [
            {
                "fingerprint": a.fingerprint,
                "starts_at": a.starts_at.isoformat(),
                "status": a.status,
                "ends_at": a.ends_at.isoformat() if a.ends_at else None,
                "labels": _json(a.labels),
                "annotations": _json(a.annotations),
                "generator_url": a.generator_url,
            }
            for a in rows
        ]
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        r = conn.execute(
            _PG_STORE,
            {
                "rows": payload,
                "key_hash": batch.key_hash,
                "group_key": batch.group_key,
                "source": batch.source,
                "receiver": batch.receiver,
                "labels": _json(batch.group_labels),
                "common_labels": _json(batch.common_labels),
                "common_annotations": _json(batch.common_annotations),
                "now": now,
            },
        ).one()
    if r.id is None:
        return None  # the group is being created by another replica right now: run it again
    accepted = int(r.inserted) + int(r.flipped)
    return Stored(int(r.id), accepted, len(batch.alerts) - accepted)


def _late_resolutions(engine: Engine, stored: Stored, rows: list[Alert], now: datetime) -> Stored:
    """A resolved copy of an occurrence that another replica was inserting (as firing) while our
    statement ran was invisible to its snapshot: flip those in a second statement, which sees them."""
    resolved = [a for a in rows if a.status == RESOLVED]
    if not resolved or stored.duplicates == 0:
        return stored
    flipped = 0
    with engine.begin() as conn:
        for a in resolved:
            flipped += conn.execute(
                update(alert_occurrences)
                .where(
                    alert_occurrences.c.fingerprint == a.fingerprint,
                    alert_occurrences.c.starts_at == a.starts_at,
                    alert_occurrences.c.status == FIRING,
                )
                .values(status=RESOLVED, ends_at=a.ends_at or now, resolved_received_at=now)
            ).rowcount
        if flipped:
            conn.execute(
                update(alert_groups)
                .where(alert_groups.c.id == stored.group_id)
                .values(seq=alert_groups.c.seq + 1, updated_at=now)
            )
    return Stored(stored.group_id, stored.accepted + flipped, stored.duplicates - flipped)


def _rows(batch: Batch) -> list[Alert]:
    # One row per occurrence (a resolved copy wins over a firing one in the same post), in a fixed
    # order so two replicas storing the same group take their row locks in the same order.
    chosen: dict[tuple[str, datetime], Alert] = {}
    for a in batch.alerts:
        key = (a.fingerprint, a.starts_at)
        if key not in chosen or a.status == RESOLVED:
            chosen[key] = a
    return [chosen[k] for k in sorted(chosen)]


def _store(engine: Engine, batch: Batch, now: datetime) -> Stored:
    rows = _rows(batch)
    if engine.dialect.name == "postgresql":
        return _store_pg_retrying(engine, batch, rows, now)
    with engine.begin() as conn:
        group_id = _upsert_group(engine, conn, batch, now)
        inserted = _insert_rows(engine, conn, group_id, rows, now)
        accepted = len(inserted) + _flip_resolved(conn, rows, inserted, now)
        if accepted:
            _bump_group(conn, group_id, batch, now)
    return Stored(group_id, accepted, len(batch.alerts) - accepted)


def _store_pg_retrying(engine: Engine, batch: Batch, rows: list[Alert], now: datetime) -> Stored:
    for attempt in range(5):
        stored = _store_pg(engine, batch, rows, now)
        if stored is not None:
            return _late_resolutions(engine, stored, rows, now)
        # The other replica's group row: our insert waited for its commit, so the next
        # statement sees it at once (the HA pair's second post every time a group is new).
        if attempt:
            time.sleep(0.005)
    raise OperationalError("store alerts", {}, Exception("the alert group row did not appear"))


def _upsert_group(engine: Engine, conn: Connection, batch: Batch, now: datetime) -> int:
    # One statement for the group's id, whether it is new or not (the no-op update makes the
    # existing row come back).
    insert = _insert(engine)
    return int(
        conn.execute(
            insert(alert_groups)
            .values(
                key_hash=batch.key_hash,
                group_key=batch.group_key,
                source=batch.source,
                receiver=batch.receiver,
                labels=_json(batch.group_labels),
                common_labels=_json(batch.common_labels),
                common_annotations=_json(batch.common_annotations),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_update(index_elements=["key_hash"], set_={"key_hash": batch.key_hash})
            .returning(alert_groups.c.id)
        ).scalar_one()
    )


def _insert_rows(
    engine: Engine, conn: Connection, group_id: int, rows: list[Alert], now: datetime
) -> set[tuple[str, datetime]]:
    """The (fingerprint, starts_at) keys this statement inserted (not those already stored)."""
    if not rows:
        return set()
    values = [
        {
            "group_id": group_id,
            "fingerprint": a.fingerprint,
            "starts_at": a.starts_at,
            "status": a.status,
            "ends_at": a.ends_at,
            "labels": _json(a.labels),
            "annotations": _json(a.annotations),
            "generator_url": a.generator_url,
            "received_at": now,
            "resolved_received_at": now if a.status == RESOLVED else None,
        }
        for a in rows
    ]
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs whose
    # compiled form is cached (a literal multi-VALUES insert is compiled every time).
    insert = _insert(engine)
    result = conn.execute(
        insert(alert_occurrences)
        .on_conflict_do_nothing(index_elements=["fingerprint", "starts_at"])
        .returning(alert_occurrences.c.fingerprint, alert_occurrences.c.starts_at),
        values,
    )
    return {(r[0], as_utc(r[1])) for r in result}


def _flip_resolved(
    conn: Connection, rows: list[Alert], inserted: set[tuple[str, datetime]], now: datetime
) -> int:
    """Flip stored firing occurrences that arrive resolved; how many were flipped."""
    flipped = 0
    for a in rows:
        if (a.fingerprint, a.starts_at) in inserted or a.status != RESOLVED:
            continue
        result = conn.execute(
            update(alert_occurrences)
            .where(
                alert_occurrences.c.fingerprint == a.fingerprint,
                alert_occurrences.c.starts_at == a.starts_at,
                alert_occurrences.c.status == FIRING,
            )
            .values(status=RESOLVED, ends_at=a.ends_at or now, resolved_received_at=now)
        )
        flipped += result.rowcount
    return flipped


def _bump_group(conn: Connection, group_id: int, batch: Batch, now: datetime) -> None:
    conn.execute(
        update(alert_groups)
        .where(alert_groups.c.id == group_id)
        .values(
            seq=alert_groups.c.seq + 1,
            updated_at=now,
            common_labels=_json(batch.common_labels),
            common_annotations=_json(batch.common_annotations),
        )
    )


# -- reading ------------------------------------------------------------------------------


def _group(r: Any) -> Group:
    return Group(
        id=int(r.id),
        source=r.source,
        group_key=r.group_key,
        labels=_load(r.labels),
        common_labels=_load(r.common_labels),
        common_annotations=_load(r.common_annotations),
        seq=int(r.seq),
        posted_seq=int(r.posted_seq),
        channel_id=r.channel_id,
        message_ts=r.message_ts,
        firing_since=as_utc(r.firing_since),
        resolved_at=as_utc(r.resolved_at),
        incident_id=r.incident_id,
        incident_for=as_utc(r.incident_for),
        runbook_for=as_utc(r.runbook_for),
        resolved_told_for=as_utc(r.resolved_told_for),
        acked_by=r.acked_by,
        acked_at=as_utc(r.acked_at),
        created_at=as_utc(r.created_at),
    )


def group(engine: Engine, group_id: int) -> Group | None:
    with engine.connect() as conn:
        r = conn.execute(select(alert_groups).where(alert_groups.c.id == group_id)).first()
    return _group(r) if r is not None else None


def occurrences(engine: Engine, group_id: int) -> list[Occurrence]:
    """The group's alerts: the newest occurrence of each fingerprint, firing first, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_occurrences)
            .where(alert_occurrences.c.group_id == group_id)
            .order_by(alert_occurrences.c.starts_at, alert_occurrences.c.id)
        ).all()
    latest: dict[str, Occurrence] = {}
    for r in rows:
        latest[r.fingerprint] = Occurrence(
            id=int(r.id),
            fingerprint=r.fingerprint,
            status=r.status,
            labels=_load(r.labels),
            annotations=_load(r.annotations),
            starts_at=as_utc(r.starts_at),
            ends_at=as_utc(r.ends_at),
            generator_url=r.generator_url or "",
            received_at=as_utc(r.received_at),
            told=r.told or "",
        )
    return sorted(latest.values(), key=lambda o: (not o.firing, o.starts_at, o.id))


def firing_groups(engine: Engine, limit: int = 50) -> list[tuple[Group, list[Occurrence]]]:
    """Groups with a firing alert, newest first (for `/alerts`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_groups)
            .where(alert_groups.c.firing_since.is_not(None))
            .order_by(alert_groups.c.firing_since.desc())
            .limit(limit)
        ).all()
    out = []
    for r in rows:
        g = _group(r)
        alerts = [o for o in occurrences(engine, g.id) if o.firing]
        if alerts:
            out.append((g, alerts))
    return out


def due_groups(engine: Engine, stale: datetime, limit: int = 100) -> list[int]:
    """Groups with unshown changes whose claim is free or stale (a replica died mid-way)."""
    g = alert_groups.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(g.id)
            .where(g.seq > g.posted_seq, (g.post_lease.is_(None)) | (g.post_lease < stale))
            .order_by(g.id)
            .limit(limit)
        ).all()
    return [int(r[0]) for r in rows]


def set_values(engine: Engine, group_id: int, *where: Any, **values: Any) -> bool:
    """Compare-and-set on a group row: True when this caller's update took (the claim is won)."""
    with engine.begin() as conn:
        res = conn.execute(update(alert_groups).where(alert_groups.c.id == group_id, *where).values(**values))
    return res.rowcount == 1


def mark_told(engine: Engine, occurrence_ids: Sequence[int], status: str) -> list[int]:
    """Claim telling these occurrences' status to the incident; returns the ones this caller won."""
    won = []
    with engine.begin() as conn:
        for oid in occurrence_ids:
            res = conn.execute(
                update(alert_occurrences)
                .where(
                    and_(
                        alert_occurrences.c.id == oid,
                        alert_occurrences.c.status == status,
                        alert_occurrences.c.told != status,
                    )
                )
                .values(told=status)
            )
            if res.rowcount == 1:
                won.append(oid)
    return won
