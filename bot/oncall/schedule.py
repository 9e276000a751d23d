"""Rotation arithmetic: pure functions of the config, the roster history and the overrides.

Shift `k` starts on local day `start + k * every` at the hand-off time in the rotation's
time zone, converted to UTC with zoneinfo; so a 17:00 hand-off stays 17:00 local across
both DST changes (the shift that contains a change is an hour shorter or longer). Shifts
before `start` (k < 0) have nobody, so a rotation that starts in the future is empty until then.

Who is on shift `k` comes from a *segment* of the roster history (see `bot.oncall.roster`):
`members[(pos0 + k - base_index) % len(members)]`. A segment starts at `effective_at`
(None: from the beginning); the newest segment in force at an instant wins. Overrides
(non-overlapping within a rotation) are laid over the shifts last.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.oncall.config import RotationConfig

MAX_SHIFTS = 2000  # a window never lists more (a daily rotation over five years)


@dataclass(frozen=True)
class Segment:
    members: tuple[str, ...]
    effective_at: datetime | None  # None: from the rotation's start
    base_index: int
    pos0: int

    def member(self, k: int) -> str:
        return self.members[(self.pos0 + k - self.base_index) % len(self.members)]


@dataclass(frozen=True)
class Override:
    id: int
    rotation: str
    user: str
    start: datetime
    end: datetime
    created_by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Shift:
    """Someone on call for a rotation from `start` to `end` (UTC)."""

    rotation: str
    user: str
    start: datetime
    end: datetime
    index: int | None = None  # the rotation's shift number, None under an override outside shifts
    override_id: int | None = None  # set when an override put `user` here
    scheduled: str | None = None  # who the rotation had here, under an override

    @property
    def is_override(self) -> bool:
        return self.override_id is not None


class Rotation:
    """One rotation's arithmetic: hand-off instants, shift numbers, who is on."""

    def __init__(self, name: str, cfg: RotationConfig, segments: Sequence[Segment] = ()) -> None:
        self.name = name
        self.cfg = cfg
        self.zone = cfg.zone
        self.days = cfg.every.days
        self.at = cfg.hand.at
        self.segments = list(segments) or [Segment(tuple(cfg.members), None, 0, 0)]

    # -- hand-offs ---------------------------------------------------------------------------

    def boundary(self, k: int) -> datetime:
        """The UTC instant shift k starts: the local hand-off time on its day."""
        day = self.cfg.start + timedelta(days=k * self.days)
        # A wall time in a DST gap resolves with the offset before the change (PEP 495 fold=0).
        return datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)

    def index_at(self, t: datetime) -> int:
        """The number of the shift running at t (negative before the rotation starts)."""
        local = t.astimezone(self.zone)
        k = (local.date() - self.cfg.start).days // self.days
        while self.boundary(k) > t:
            k -= 1
        while self.boundary(k + 1) <= t:
            k += 1
        return k

    @property
    def starts(self) -> datetime:
        return self.boundary(0)

    # -- who ---------------------------------------------------------------------------------

    def segment_at(self, t: datetime) -> Segment:
        found = self.segments[0]
        for seg in self.segments:
            if seg.effective_at is None or seg.effective_at <= t:
                found = seg
        return found

    def scheduled_at(self, t: datetime) -> str | None:
        k = self.index_at(t)
        return None if k < 0 else self.segment_at(t).member(k)

    def base_shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The rotation's own shifts overlapping [start, end), split where a roster change applies."""
        if end <= start:
            return []
        first = max(self.index_at(start), 0)
        last = self.index_at(end - timedelta(microseconds=1))
        out: list[Shift] = []
        for k in range(first, last + 1):
            s, e = self.boundary(k), self.boundary(k + 1)
            cuts = sorted(
                {s, e}
                | {
                    g.effective_at
                    for g in self.segments
                    if g.effective_at is not None and s < g.effective_at < e
                }
            )
            for a, b in itertools.pairwise(cuts):
                out.append(Shift(self.name, self.segment_at(a).member(k), a, b, index=k))
            if len(out) >= MAX_SHIFTS:
                break
        return out


def overlay(
    rotation: str, base: Sequence[Shift], overrides: Iterable[Override], start: datetime, end: datetime
) -> list[Shift]:
    """Lay the overrides over the base shifts within [start, end): who is really on call when."""
    ovs = sorted((o for o in overrides if o.start < end and o.end > start), key=lambda o: o.start)
    cuts = {start, end}
    for sh in base:
        cuts |= {max(sh.start, start), min(sh.end, end)}
    for o in ovs:
        cuts |= {max(o.start, start), min(o.end, end)}
    points = sorted(cuts)
    out: list[Shift] = []
    for a, b in itertools.pairwise(points):
        under = next((sh for sh in base if sh.start <= a < sh.end), None)
        ov = next((o for o in ovs if o.start <= a < o.end), None)
        if ov is not None:
            piece = Shift(
                rotation,
                ov.user,
                a,
                b,
                index=under.index if under else None,
                override_id=ov.id,
                scheduled=under.user if under else None,
            )
        elif under is not None:
            piece = replace(under, start=a, end=b)
        else:
            continue
        out.append(piece)
    return _join(out)


def _join(pieces: list[Shift]) -> list[Shift]:
    """Glue pieces cut by another piece's edge that are really one (same shift, same override)."""
    out: list[Shift] = []
    for p in pieces:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.end == p.start
            and (prev.user, prev.index, prev.override_id, prev.scheduled)
            == (p.user, p.index, p.override_id, p.scheduled)
        ):
            out[-1] = replace(prev, end=p.end)
        else:
            out.append(p)
    return out


def stint(shifts: Sequence[Shift], at: datetime) -> Shift | None:
    """The person on call at `at`, from when to when they are on without a break (across shifts)."""
    i = next((n for n, sh in enumerate(shifts) if sh.start <= at < sh.end), None)
    if i is None:
        return None
    cur = shifts[i]
    start, end = cur.start, cur.end
    j = i
    while j > 0 and shifts[j - 1].user == cur.user and shifts[j - 1].end == start:
        j -= 1
        start = shifts[j].start
    j = i
    while j + 1 < len(shifts) and shifts[j + 1].user == cur.user and shifts[j + 1].start == end:
        j += 1
        end = shifts[j].end
    return replace(cur, start=start, end=end)


def next_after(shifts: Sequence[Shift], current: Shift | None, at: datetime) -> Shift | None:
    """The first shift after `current` with someone else on it (or the first one after `at`)."""
    for sh in shifts:
        if sh.start < at:
            continue
        if current is None or sh.user != current.user:
            return sh
    return None
