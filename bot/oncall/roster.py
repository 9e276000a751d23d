"""Who is on call: the config, the stored roster history and the stored overrides, at an instant.

Why a roster history: rotations are computed, not stored shift by shift, so editing
`members` would rewrite the past if the new list were simply applied from `start`. Instead,
the first replica that sees a member list differ from the last one recorded stores a new
segment (`oncall_rosters`), and the arithmetic uses the segment in force at each instant:

- past shifts keep the list they had (their segment is older);
- the current shift keeps its person if they are still a member, and the new list takes
  over at the next hand-off, continuing with whoever would have come next (skipping people
  who were removed) — later shifts shift up;
- if the person on call now was removed, the next remaining member takes over at once.

A change of `every`, `handoff`, `timezone` or `start` is a new schedule: its history starts
afresh (keyed by `timing`). During a rolling deploy the old replicas, whose list was current
before, never record it back over the new one. Overrides lie on top (see `schedule.overlay`).

`on_call_now(config, store, at)` is the entry point for other surfaces (App Home, contacts).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime

from sqlalchemy import Engine, and_, insert, select
from sqlalchemy.exc import IntegrityError

from bot.oncall.config import RotationConfig, rotation_name
from bot.oncall.schedule import Override, Rotation, Segment, Shift, overlay, stint
from bot.oncall.tables import oncall_overrides, oncall_rosters
from bot.store import Store, as_utc

log = logging.getLogger(__name__)


def timing_key(cfg: RotationConfig) -> str:
    return f"{cfg.every.days}d|{cfg.handoff}|{cfg.timezone}|{cfg.start.isoformat()}"


def _segment(row: object) -> tuple[int, Segment]:
    m = row._mapping  # type: ignore[attr-defined]
    seg = Segment(
        tuple(json.loads(m["members"])), as_utc(m["effective_at"]), int(m["base_index"]), int(m["pos0"])
    )
    return int(m["id"]), seg


def _load(engine: Engine, name: str, timing: str) -> list[tuple[int, Segment]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(oncall_rosters)
            .where(oncall_rosters.c.rotation == name, oncall_rosters.c.timing == timing)
            .order_by(oncall_rosters.c.id)
        ).all()
    return [_segment(r) for r in rows]


def next_segment(rot: Rotation, members: tuple[str, ...], now: datetime) -> Segment:
    """The segment a new member list starts, seen first at `now` (see the module docstring)."""
    c = rot.index_at(now)
    if c < 0:  # nobody has served yet: the new list applies from the start
        return Segment(members, None, 0, 0)
    old = rot.segment_at(now)
    current = rot.scheduled_at(now) or old.member(c)
    follower = old.member(c + 1)
    if current in members:
        effective, base = rot.boundary(c + 1), c + 1
    else:
        effective, base = now, c
    # Walk the old order from whoever came next, to the first person still in the list.
    start = old.members.index(follower)
    pos0 = 0
    for i in range(len(old.members)):
        candidate = old.members[(start + i) % len(old.members)]
        if candidate in members and candidate != current:
            pos0 = members.index(candidate)
            break
    else:  # nobody else left from the old list: the one after `current` in the new list
        pos0 = (members.index(current) + 1) % len(members) if current in members else 0
    return Segment(members, effective, base, pos0)


# Member lists this process has seen as the recorded one, per store and rotation. During a
# rolling deploy an old replica still has the old list: it must not record it again over the
# new one (the lists would flip-flop), so a process records a list only if it never saw it current.
_SEEN: dict[tuple[str, str, str], set[tuple[str, ...]]] = {}
_SEEN_LOCK = threading.Lock()


def segments(engine: Engine, name: str, cfg: RotationConfig, now: datetime) -> list[Segment]:
    """The rotation's roster history, recording the config's member list if it is new."""
    timing = timing_key(cfg)
    members = tuple(cfg.members)
    key = (str(engine.url), name, timing)
    for _attempt in range(3):
        stored = _load(engine, name, timing)
        with _SEEN_LOCK:
            seen = _SEEN.setdefault(key, set())
            if stored:
                seen.add(stored[-1][1].members)
            if stored and (stored[-1][1].members == members or members in seen):
                return [s for _, s in stored]
        if stored:
            seg = next_segment(Rotation(name, cfg, [s for _, s in stored]), members, now)
        else:
            seg = Segment(members, None, 0, 0)
        prev_id = stored[-1][0] if stored else 0
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(oncall_rosters).values(
                        rotation=name,
                        timing=timing,
                        prev_id=prev_id,
                        members=json.dumps(list(seg.members)),
                        effective_at=seg.effective_at,
                        base_index=seg.base_index,
                        pos0=seg.pos0,
                        recorded_at=now,
                    )
                )
            if stored:
                log.info("rotation %s: new member list %s from %s", name, ",".join(members), seg.effective_at)
        except IntegrityError:
            continue  # another replica recorded it first: read theirs
    return [s for _, s in _load(engine, name, timing)] or [Segment(members, None, 0, 0)]


def rotation(engine: Engine, config: object, name: str, now: datetime) -> Rotation:
    cfg: RotationConfig = config.oncall.rotations[name]  # type: ignore[attr-defined]
    return Rotation(name, cfg, segments(engine, name, cfg, now))


def overrides(
    engine: Engine, *, rotation: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> list[Override]:
    """Active (not removed) overrides overlapping [start, end)."""
    t = oncall_overrides
    q = select(t).where(t.c.removed_at.is_(None)).order_by(t.c.starts_at, t.c.id)
    if rotation is not None:
        q = q.where(t.c.rotation == rotation)
    if start is not None:
        q = q.where(t.c.ends_at > start)
    if end is not None:
        q = q.where(t.c.starts_at < end)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        Override(
            id=int(r["id"]),
            rotation=r["rotation"],
            user=r["user_id"],
            start=as_utc(r["starts_at"]),
            end=as_utc(r["ends_at"]),
            created_by=r["created_by"],
            reason=r["reason"] or "",
        )
        for r in rows
    ]


def shifts(
    engine: Engine, config: object, name: str, start: datetime, end: datetime, *, now: datetime
) -> list[Shift]:
    """Who is on call for one rotation over [start, end), overrides applied."""
    rot = rotation(engine, config, name, now)
    base = rot.base_shifts(start, end)
    return overlay(name, base, overrides(engine, rotation=name, start=start, end=end), start, end)


def window_around(rot: Rotation, at: datetime, ahead: int = 2) -> tuple[datetime, datetime]:
    """From two shifts before `at` to `ahead` shifts after: enough for since, until and next.
    With one member the stint is the whole rotation: look further back (60 shifts, bounded)."""
    k = rot.index_at(at)
    back = 60 if all(len(s.members) == 1 for s in rot.segments) else 2
    return rot.boundary(max(k - back, min(k - 2, 0))), rot.boundary(max(k, 0) + ahead + 1)


def on_call(engine: Engine, config: object, name: str, at: datetime) -> Shift | None:
    """Who is on call for a rotation at `at`, since and until when they are on without a break."""
    rot = rotation(engine, config, name, at)
    start, end = window_around(rot, at)
    return stint(shifts(engine, config, name, start, end, now=at), at)


def on_call_now(config: object, store: Store | Engine, at: datetime) -> list[Shift]:
    """Everyone on call at `at`, one Shift per rotation that has someone (config order).

    For App Home and other surfaces: `on_call_now(runtime.config, runtime.store, runtime.clock())`.
    Each Shift says who (`user`), since and until when without a break (`start`, `end`, UTC),
    and whether an override put them there (`override_id`, `scheduled`). `at` is the caller's
    present: a member-list change in chatops.yaml is recorded from it.
    """
    engine = store.engine if isinstance(store, Store) else store
    out = []
    for name in config.oncall.rotations:  # type: ignore[attr-defined]
        found = on_call(engine, config, name, at)
        if found is not None:
            out.append(found)
    return out


def resolve_contact(config: object, engine: Engine, entry: str, at: datetime) -> list[str]:
    """`rotation:NAME` → [the user on call at `at`] (empty when nobody is); other entries → []."""
    name = rotation_name(entry)
    if name is None or name not in config.oncall.rotations:  # type: ignore[attr-defined]
        return []
    found = on_call(engine, config, name, at)
    return [found.user] if found else []


def overlapping(engine: Engine, rotation_: str, start: datetime, end: datetime) -> Override | None:
    t = oncall_overrides
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.id).where(
                and_(
                    t.c.rotation == rotation_,
                    t.c.removed_at.is_(None),
                    t.c.starts_at < end,
                    t.c.ends_at > start,
                )
            )
        ).first()
    if row is None:
        return None
    found = [o for o in overrides(engine, rotation=rotation_) if o.id == int(row[0])]
    return found[0] if found else None
