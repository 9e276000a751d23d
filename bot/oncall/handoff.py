"""The hand-off post: at each hand-off, once across replicas, the seeds' hand-off meeting agenda.

A scheduler participant. On every tick it asks each rotation for its latest hand-off; one
that happened within `GRACE` is claimed by inserting ("oncall-handoff", instant) into
`scheduled_runs`, whose primary key lets exactly one replica win (as `bot.runbooks.schedule`
does). Rotations handing off at the same instant share one post. If Slack refuses the post,
the claim is dropped so the next tick (this replica or another) tries again; a claim whose
replica died before posting (still "claimed" after STALE) is taken over.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, RowMapping, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.guard.pending import OPEN
from bot.incidents.messages import duration
from bot.incidents.records import RESOLVED
from bot.incidents.slackapi import SlackStepError, call
from bot.oncall import roster
from bot.store import as_utc
from bot.store.tables import incidents, pending_actions, scheduled_runs

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

GRACE = timedelta(hours=2)  # a hand-off missed by less (a restart) is still posted
STALE = timedelta(minutes=5)  # a claim not settled by then: its replica died mid-post; retake it
CLAIM = "oncall-handoff"
LIST_MAX = 15  # lines per section; the rest are counted


def _channel(name: str) -> str:
    if name.startswith("#") or (name[:1] in "CG" and name[1:].isalnum() and name.upper() == name):
        return name
    return "#" + name


def due_handoffs(engine: Engine, config: Any, now: datetime) -> dict[datetime, list[str]]:
    """Hand-off instants within GRACE before `now`, with the rotations handing off then."""
    due: dict[datetime, list[str]] = {}
    for name in config.oncall.rotations:
        rot = roster.rotation(engine, config, name, now)
        k = rot.index_at(now)
        if k < 1:  # the first shift's start hands off from nobody
            continue
        at = rot.boundary(k)
        if now - at <= GRACE:
            due.setdefault(at, []).append(name)
    return due


def _lines(items: list[str]) -> list[str]:
    more = len(items) - LIST_MAX
    return items[:LIST_MAX] + ([f"• …and {more} more"] if more > 0 else [])


def _rotation_lines(engine: Engine, config: Any, at: datetime, names: list[str], zone: Any) -> list[str]:
    """Outgoing → incoming per rotation (or who stays on call), with any override."""
    out: list[str] = []
    for name in names:
        before = roster.on_call(engine, config, name, at - timedelta(microseconds=1))
        after = roster.on_call(engine, config, name, at)
        was = f"<@{before.user}>" if before else "nobody"
        now_on = f"<@{after.user}>" if after else "nobody"
        note = ""
        if after and after.is_override:
            note = f" (override #{after.override_id} until {after.end.astimezone(zone):%a %H:%M})"
        if before and after and before.user == after.user:
            out.append(f"• *{name}*: {now_on} stays on call{note}")
        else:
            out.append(f"• *{name}*: {was} → {now_on}{note}")
    return out


def _rows(
    engine: Engine, since: datetime, at: datetime, now: datetime
) -> tuple[Sequence[RowMapping], Sequence[RowMapping], Sequence[RowMapping]]:
    """Open incidents, incidents declared since the last hand-off, and actions still waiting."""
    with engine.connect() as conn:
        open_rows = (
            conn.execute(select(incidents).where(incidents.c.status != RESOLVED).order_by(incidents.c.id))
            .mappings()
            .all()
        )
        week_rows = (
            conn.execute(
                select(incidents)
                .where(incidents.c.declared_at >= since, incidents.c.declared_at < at)
                .order_by(incidents.c.id)
            )
            .mappings()
            .all()
        )
        waiting = (
            conn.execute(
                select(pending_actions)
                .where(
                    pending_actions.c.status.in_([s.value for s in OPEN]), pending_actions.c.expires_at > now
                )
                .order_by(pending_actions.c.created_at)
            )
            .mappings()
            .all()
        )
    return open_rows, week_rows, waiting


def _open_line(r: RowMapping, now: datetime) -> str:
    declared = as_utc(r["declared_at"]) or now
    where = f" <#{r['channel_id']}>" if r["channel_id"] else ""
    ack = "acknowledged" if r["acknowledged_at"] else "*not acknowledged*"
    return (
        f"• #{r['id']} {r['severity']} {r['title']} — {r['status']}, "
        f"open {duration(now - declared)}, {ack}{where}"
    )


def _waiting_line(r: RowMapping) -> str:
    target = f" on {r['target']}" if r["target"] else ""
    state = str(r["status"]).replace("_", " ")
    return f"• `{r['handler']}`{target} by <@{r['requester']}> — {state}, `{r['id'][:8]}`"


def _week_line(r: RowMapping, now: datetime) -> str:
    declared = as_utc(r["declared_at"]) or now
    resolved = as_utc(r["resolved_at"])
    took = f"{duration(resolved - declared)}, resolved" if resolved else f"open {duration(now - declared)}"
    return f"• #{r['id']} {r['severity']} {r['title']} — {took}"


def agenda(engine: Engine, config: Any, at: datetime, names: list[str], now: datetime) -> str:
    """The post: outgoing → incoming per rotation, open incidents, waiting actions, the week's incidents."""
    first = config.oncall.rotations[names[0]]
    zone = first.zone
    rot = roster.rotation(engine, config, names[0], now)
    since = rot.boundary(rot.index_at(at) - 1)
    out = [f":pager: *On-call hand-off* — {at.astimezone(zone):%a %d %b %H:%M} {zone.key}"]
    out += _rotation_lines(engine, config, at, names, zone)
    open_rows, week_rows, waiting = _rows(engine, since, at, now)
    out.append(f"\n*Open incidents* ({len(open_rows)})")
    out += _lines([_open_line(r, now) for r in open_rows]) or ["• none"]
    out.append(f"\n*Waiting for confirmation or approval* ({len(waiting)})")
    out += _lines([_waiting_line(r) for r in waiting]) or ["• none"]
    out.append(
        f"\n*Incidents since the last hand-off* ({len(week_rows)}, "
        f"since {since.astimezone(zone):%a %d %b %H:%M})"
    )
    out += _lines([_week_line(r, now) for r in week_rows]) or ["• none"]
    out.append(
        "\nHand-off meeting: walk through the open incidents, the waiting actions "
        "and anything flaky this week."
    )
    return "\n".join(out)


class Handoffs:
    """The scheduler participant."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:64]

    def __call__(self, now: datetime) -> None:
        self.run(now)

    def run(self, now: datetime) -> int:
        """Post every hand-off due at `now` that this replica wins; returns how many it posted."""
        config = self.runtime.config
        if not config.oncall.rotations:
            return 0
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        engine = self.runtime.store.engine
        posted = 0
        for at, names in sorted(due_handoffs(engine, config, now).items()):
            if not self.claim(at, now):
                continue
            try:
                text = agenda(engine, config, at, names, now)
                channel = _channel(config.oncall.handoff_channel or config.slack.ops_channel)
                slack = self.runtime.slack
                if slack is None:  # the console: nobody to post to; another replica may have Slack
                    self.release(at)
                    continue
                call(slack.chat_postMessage, channel=channel, text=text, unfurl_links=False)
                self.settle(at)
                posted += 1
            except SlackStepError as exc:
                log.error("on-call hand-off %s not posted, retrying next tick: %s", at.isoformat(), exc)
                self.release(at)
            except Exception:
                log.exception("on-call hand-off %s failed, retrying next tick", at.isoformat())
                self.release(at)
        return posted

    def claim(self, at: datetime, now: datetime) -> bool:
        """True for the one replica whose insert of (CLAIM, at) succeeded; a claim left
        unsettled past STALE (its replica died between claim and post) is taken over."""
        store = self.runtime.store
        slot = at.astimezone(UTC)
        with store.engine.begin() as conn:
            conn.execute(
                delete(scheduled_runs).where(
                    scheduled_runs.c.name == CLAIM,
                    scheduled_runs.c.slot == slot,
                    scheduled_runs.c.outcome == "claimed",
                    scheduled_runs.c.claimed_at < now - STALE,
                )
            )
        dialect = postgresql if store.dialect == "postgresql" else sqlite
        stmt = (
            dialect.insert(scheduled_runs)
            .values(name=CLAIM, slot=slot, claimed_by=self.replica, claimed_at=now, outcome="claimed")
            .on_conflict_do_nothing(index_elements=["name", "slot"])
            .returning(scheduled_runs.c.name)
        )
        with store.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def _mine(self, at: datetime) -> Any:
        return (
            (scheduled_runs.c.name == CLAIM)
            & (scheduled_runs.c.slot == at.astimezone(UTC))
            & (scheduled_runs.c.claimed_by == self.replica)
        )

    def settle(self, at: datetime) -> None:
        with self.runtime.store.engine.begin() as conn:
            conn.execute(update(scheduled_runs).where(self._mine(at)).values(outcome="ok"))

    def release(self, at: datetime) -> None:
        with self.runtime.store.engine.begin() as conn:
            conn.execute(delete(scheduled_runs).where(self._mine(at)))
