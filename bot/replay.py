"""Slack's request signature, checked before Bolt sees a request, and exact replays dropped.

Slack signs `v0:{timestamp}:{body}` and a request is valid for five minutes, so whoever
captures one signed request (a proxy log, a shared HAR file) can send it again within that
window and run the command a second time. Every signature accepted is remembered until its
five minutes are over; the same signature again is a replay.

Where it is remembered depends on the store, and the ack never waits on a disk flush:
- PostgreSQL (the store for several replicas): each signature is inserted before Bolt sees
  the request, so a replay sent to another replica is dropped there too. The insert commits
  with `synchronous_commit = off`: visible to every replica at once, without waiting for the
  WAL flush (only a PostgreSQL crash within a fraction of a second could forget one).
- SQLite (one process): this process's memory decides, at once; signatures are written to the
  store behind the ack, in batches, and read back at start, so a replay after a restart is
  dropped too. Only what was accepted in the last flush interval before a crash is forgotten.
When the store cannot be reached the check falls back to memory (a replay to another replica
then gets through) and says so in the log.

Checking here, not only in Bolt, also means an unsigned request is refused before its body
is parsed, and Bolt never logs an unsigned body (it logs the whole body of a bad request).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

WINDOW = 5 * 60  # seconds either side of now that Slack's timestamp may be (Slack's own rule)
_MAX_TS_DIGITS = 12
FLUSH_EVERY = 0.05  # seconds between batched writes on SQLite
_MEMORY_TRIM = 10_000

metadata = sa.MetaData()
# One row per accepted signature, kept until Slack's five-minute window has passed for it.
slack_replays = sa.Table(
    "slack_replays",
    metadata,
    sa.Column("signature", sa.String(80), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class Verdict(StrEnum):
    OK = "ok"
    UNSIGNED = "missing signature or timestamp"
    BAD_TIMESTAMP = "timestamp is not a number"
    STALE = "timestamp outside the five-minute window"
    BAD_SIGNATURE = "signature does not match"
    REPLAY = "replay of a request already accepted"


class ReplayGuard:
    """Verifies Slack's signature and remembers each accepted one until it expires."""

    def __init__(
        self,
        signing_secret: str,
        engine: Engine | None,
        *,
        now: Callable[[], float] = time.time,
        purge_every: int = 200,
        flush_every: float = FLUSH_EVERY,
    ) -> None:
        self.signing_secret = signing_secret
        self.engine = engine
        self.now = now
        self._verifier = SignatureVerifier(signing_secret)
        self._purge_every = purge_every
        self._flush_every = flush_every
        self._shared = engine is not None and engine.dialect.name != "sqlite"
        self._accepted = 0
        self._memory: dict[str, float] = {}
        self._pending: list[tuple[str, int]] = []  # SQLite: accepted, not yet written
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._writer: threading.Thread | None = None
        self._loaded = engine is None

    def check(self, body: bytes, headers: Mapping[str, str]) -> Verdict:
        """`headers` keyed in lower case."""
        timestamp = headers.get("x-slack-request-timestamp", "").strip()
        signature = headers.get("x-slack-signature", "").strip()
        if not timestamp or not signature:
            return Verdict.UNSIGNED
        if not self.signing_secret:  # nothing can be verified: refuse everything
            return Verdict.BAD_SIGNATURE
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TS_DIGITS:
            return Verdict.BAD_TIMESTAMP
        ts = int(timestamp)
        if abs(self.now() - ts) > WINDOW:
            return Verdict.STALE
        expected = self._verifier.generate_signature(timestamp=timestamp, body=body)
        if expected is None or not hmac.compare_digest(expected, signature):
            return Verdict.BAD_SIGNATURE
        return Verdict.OK if self._first_time(signature, ts + WINDOW + 60) else Verdict.REPLAY

    def close(self) -> None:
        """Write what is still pending (at shutdown) and stop the writer."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=10)
        self._flush()

    def _first_time(self, signature: str, expires: int) -> bool:
        if not self._loaded:
            self._load()
        if not self._first_in_memory(signature, expires):
            return False  # a replay to this replica never reaches the store
        if self.engine is None:
            return True
        if not self._shared:
            self._accepted_one(signature, expires)  # written behind the ack
            return True
        try:
            fresh = self._insert_now(self.engine, signature, expires)
        except SQLAlchemyError as exc:
            log.warning(
                "replay check: the state store is unreachable (%s); this replica alone remembers "
                "signatures until it recovers",
                type(exc).__name__,
            )
            return True
        if fresh:
            self._accepted_one()
        return fresh

    def _insert_now(self, engine: Engine, signature: str, expires: int) -> bool:
        """PostgreSQL: False when another replica accepted this signature first."""
        try:
            with engine.begin() as conn:
                # Visible to every replica when this returns; the WAL flush happens behind it.
                conn.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
                conn.execute(sa.insert(slack_replays).values(signature=signature, expires_at=_at(expires)))
        except IntegrityError:
            return False
        return True

    def _accepted_one(self, signature: str | None = None, expires: int = 0) -> None:
        """Count an accepted signature for the purge, queue it for the writer when given (SQLite),
        and start the writer thread on first use; a due purge wakes it."""
        with self._lock:
            if signature is not None:
                self._pending.append((signature, expires))
            self._accepted += 1
            due = self._accepted >= self._purge_every
            start = self._writer is None and not self._closed and (signature is not None or due)
            if start:
                self._writer = threading.Thread(target=self._write_loop, name="replay-writer", daemon=True)
                self._writer.start()
        if due:
            self._wake.set()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait(self._flush_every)
            self._wake.clear()
            with self._lock:
                closed = self._closed
            self._flush()
            if closed:
                return

    def _flush(self) -> None:
        """One transaction for what was accepted since the last flush, and expired rows removed
        every `purge_every` signatures."""
        if self.engine is None:
            return
        with self._lock:
            batch, self._pending = self._pending, []
            purge = self._accepted >= self._purge_every
            if purge:
                self._accepted = 0
        if not batch and not purge:
            return
        try:
            with self.engine.begin() as conn:
                if batch:
                    rows = [{"signature": s, "expires_at": _at(e)} for s, e in batch]
                    conn.execute(sa.insert(slack_replays).prefix_with("OR IGNORE", dialect="sqlite"), rows)
                if purge:
                    cutoff = datetime.fromtimestamp(self.now(), UTC) - timedelta(seconds=1)
                    conn.execute(sa.delete(slack_replays).where(slack_replays.c.expires_at < cutoff))
        except SQLAlchemyError as exc:
            log.warning(
                "replay check: cannot write %d accepted signature(s) to the state store (%s); "
                "this process still remembers them",
                len(batch),
                type(exc).__name__,
            )

    def _load(self) -> None:
        """SQLite: the signatures accepted before a restart, still within their window."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._shared or self.engine is None:
                return
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(slack_replays.c.signature, slack_replays.c.expires_at).where(
                            slack_replays.c.expires_at >= datetime.fromtimestamp(self.now(), UTC)
                        )
                    ).all()
            except SQLAlchemyError as exc:
                log.warning("replay check: cannot read earlier signatures (%s)", type(exc).__name__)
                return
            for signature, expires_at in rows:
                if expires_at.tzinfo is None:  # SQLite hands back naive UTC
                    expires_at = expires_at.replace(tzinfo=UTC)
                self._memory[signature] = expires_at.timestamp()

    def _first_in_memory(self, signature: str, expires: int) -> bool:
        now = self.now()
        with self._lock:
            if len(self._memory) > _MEMORY_TRIM:
                self._memory = {s: e for s, e in self._memory.items() if e >= now}
            if self._memory.get(signature, 0) >= now:
                return False
            self._memory[signature] = expires
            return True


def _at(expires: int) -> datetime:
    return datetime.fromtimestamp(expires, UTC)
