"""Watches: the bot's own probes of a service, feeding the same alert pipeline.

On each scheduler tick, each watch's current slot (`every` wide) is claimed by inserting
(`watch:NAME`, slot) into `scheduled_runs`, so with several replicas each slot is probed once.
The probe runs a read-only handler (`health.check` on the service by default); CRIT or an error
is a failure, WARN counts as up but degraded. `fail_after` failures in a row raise an alert
(labels `alertname` = the watch's name, `service`, `source: chatops`, plus `labels`) whose
startsAt is the first failing slot; `recover_after` successes resolve it. Per-day counts feed the
status page's 90-day uptime bar.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.alerts.config import WatchConfig
from bot.alerts.payload import FIRING, RESOLVED, Alert, Batch, fingerprint_of
from bot.alerts.tables import watch_days, watch_state
from bot.commands.target import UnknownService, expand
from bot.store import as_utc
from bot.store.tables import scheduled_runs
from handlers.errors import HandlerError
from handlers.redact import redact
from handlers.results import Status, status_of

if TYPE_CHECKING:
    from bot.alerts.pipeline import Pipeline
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "fail"
KEEP_CLAIMS = timedelta(days=2)


@dataclass(frozen=True)
class Probe:
    outcome: str
    detail: str


def slot_of(now: datetime, every: timedelta) -> datetime:
    step = max(1, int(every.total_seconds()))
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def _insert(engine: Engine) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class Watches:
    """The scheduler participant."""

    def __init__(self, runtime: Runtime, pipeline: Pipeline) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:64]
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="watch")
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._cleaned: datetime | None = None
        self._bad: set[str] = set()  # watches already reported as unable to run

    @property
    def engine(self) -> Engine:
        return self.runtime.store.engine

    def __call__(self, now: datetime) -> None:
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        for watch in self.runtime.config.watches:
            slot = slot_of(now, watch.every)
            if not self.claim(watch.name, slot, now):
                continue
            t = threading.Thread(
                target=self.run, args=(watch, slot, now), name=f"watch-{watch.name}"[:30], daemon=True
            )
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)
            t.start()
        if self._cleaned is None or now - self._cleaned > timedelta(hours=1):
            self._cleaned = now
            with self.engine.begin() as conn:
                conn.execute(
                    delete(scheduled_runs).where(
                        scheduled_runs.c.name.like("watch:%"), scheduled_runs.c.slot < now - KEEP_CLAIMS
                    )
                )

    def wait(self, timeout: float = 30.0) -> None:
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)

    def claim(self, name: str, slot: datetime, now: datetime) -> bool:
        stmt = (
            _insert(self.engine)(scheduled_runs)
            .values(name=f"watch:{name}"[:100], slot=slot, claimed_by=self.replica, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["name", "slot"])
            .returning(scheduled_runs.c.name)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def _misconfigured(self, watch: WatchConfig, why: str) -> None:
        # A watch that cannot run is a configuration problem, not an outage: said in the log
        # (once), never raised as an alert about the service.
        if watch.name not in self._bad:
            self._bad.add(watch.name)
            log.error("watch %s never runs: %s", watch.name, why)

    def probe(self, watch: WatchConfig) -> Probe | None:
        rt = self.runtime
        spec = rt.registry.get(watch.handler)
        if spec is None:
            self._misconfigured(watch, f"no handler {watch.handler!r}")
            return None
        if spec.destructive:
            self._misconfigured(
                watch, f"{watch.handler} changes things: a watch runs read-only handlers only"
            )
            return None
        try:
            raw = expand(spec, {"service": watch.service, **watch.params}, rt.config)
            params = spec.params.model_validate(raw)
        except (UnknownService, ValueError) as exc:
            self._misconfigured(watch, f"{watch.handler}: {redact(str(exc))[:300]}")
            return None
        try:
            ctx = rt.clients.context(spec, getattr(params, spec.target_field or "", None))
            result = self.pool.submit(spec.fn, ctx, params).result(timeout=ctx.timeout * 2 + 5)
        except FutureTimeout:
            return Probe(FAIL, f"{watch.handler} did not finish in time")
        except HandlerError as exc:
            return Probe(FAIL, redact(str(exc))[:300])
        except Exception as exc:
            return Probe(FAIL, redact(f"{type(exc).__name__}: {exc}")[:300])
        status = status_of(result)
        detail = getattr(result, "detail", "") or getattr(result, "title", "")
        if status is Status.CRIT:
            return Probe(FAIL, redact(str(detail))[:300])
        return Probe(WARN if status is Status.WARN else OK, redact(str(detail))[:300])

    def run(self, watch: WatchConfig, slot: datetime, now: datetime) -> None:
        try:
            probe = self.probe(watch)
            if probe is None:
                self._outcome(watch.name, slot, "skipped")
                return
            self.record(watch, slot, now, probe)
            self._outcome(watch.name, slot, probe.outcome)
        except Exception:
            log.exception("watch %s (slot %s) failed", watch.name, slot.isoformat())

    def _outcome(self, name: str, slot: datetime, outcome: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(scheduled_runs)
                .where(scheduled_runs.c.name == f"watch:{name}"[:100], scheduled_runs.c.slot == slot)
                .values(outcome=outcome)
            )

    def record(self, watch: WatchConfig, slot: datetime, now: datetime, probe: Probe) -> None:
        """Count the probe, move the streaks, and raise or resolve the watch's alert."""
        failed = probe.outcome == FAIL
        s = watch_state.c
        with self.engine.begin() as conn:
            self._count_day(conn, watch, slot, failed)
            row = self._move_streaks(conn, watch, slot, now, probe)
        started = as_utc(row.alert_starts_at)
        if failed and started is None and row.fails >= watch.fail_after:
            self._raise(watch, slot, probe, as_utc(row.streak_since) or slot)
        elif not failed and started is not None and row.oks >= watch.recover_after:
            self.pipeline.ingest(self.batch(watch, RESOLVED, started, now, probe.detail))
            self._cas(s.alert_starts_at == row.alert_starts_at, watch.name, alert_starts_at=None)

    def _count_day(self, conn: Connection, watch: WatchConfig, slot: datetime, failed: bool) -> None:
        """One more ok or failed probe in the watch's day row."""
        insert = _insert(self.engine)
        day = insert(watch_days).values(
            name=watch.name, day=slot.date(), ok=0 if failed else 1, failed=1 if failed else 0
        )
        conn.execute(
            day.on_conflict_do_update(
                index_elements=["name", "day"],
                set_={
                    "ok": watch_days.c.ok + (0 if failed else 1),
                    "failed": watch_days.c.failed + (1 if failed else 0),
                },
            )
        )

    def _move_streaks(
        self, conn: Connection, watch: WatchConfig, slot: datetime, now: datetime, probe: Probe
    ) -> Any:
        """Move the fail/ok streaks and last probe of the watch's state row; the row as it is now."""
        insert = _insert(self.engine)
        s = watch_state.c
        conn.execute(
            insert(watch_state)
            .values(name=watch.name, service=watch.service)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        common = {
            "last_outcome": probe.outcome,
            "last_detail": probe.detail,
            "last_at": now,
            "last_slot": slot,
        }
        if probe.outcome == FAIL:
            conn.execute(
                update(watch_state)
                .where(s.name == watch.name)
                .values(fails=s.fails + 1, oks=0, service=watch.service, **common)
            )
            conn.execute(
                update(watch_state)
                .where(s.name == watch.name, s.streak_since.is_(None))
                .values(streak_since=slot)
            )
        else:
            conn.execute(
                update(watch_state)
                .where(s.name == watch.name)
                .values(oks=s.oks + 1, fails=0, streak_since=None, service=watch.service, **common)
            )
        return conn.execute(select(watch_state).where(s.name == watch.name)).one()

    def _raise(self, watch: WatchConfig, slot: datetime, probe: Probe, since: datetime) -> None:
        # Stored first (idempotent per fingerprint + startsAt), then marked: a crash in between
        # leaves the state to raise it again, never an alert that nobody stored.
        self.pipeline.ingest(self.batch(watch, FIRING, since, None, probe.detail))
        self._cas(watch_state.c.alert_starts_at.is_(None), watch.name, alert_starts_at=since)
        with self.engine.begin() as conn:
            conn.execute(
                update(watch_days)
                .where(watch_days.c.name == watch.name, watch_days.c.day == slot.date())
                .values(down=True)
            )

    def _cas(self, cond: Any, name: str, **values: Any) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(watch_state).where(watch_state.c.name == name, cond).values(**values)
                ).rowcount
                == 1
            )

    def batch(
        self, watch: WatchConfig, status: str, starts: datetime, ends: datetime | None, detail: str
    ) -> Batch:
        labels = {**watch.labels, "alertname": watch.name, "service": watch.service, "source": "chatops"}
        what = "failing" if status == FIRING else "passing again"
        annotations = {
            "summary": f"{watch.service}: watch {watch.name} {what}",
            "description": detail,
            **watch.annotations,
        }
        alert = Alert(
            fingerprint=fingerprint_of(labels),
            status=status,
            labels=labels,
            annotations=annotations,
            starts_at=starts,
            ends_at=ends,
            generator_url="",
        )
        group = {"alertname": watch.name, "service": watch.service}
        return Batch(
            source="chatops",
            group_key=f"watch:{watch.name}",
            receiver="watches",
            group_labels=group,
            common_labels=labels,
            common_annotations={},
            alerts=[alert],
        )
