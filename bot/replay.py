"""Slack's request signature, checked before Bolt sees a request, and exact replays dropped.

Slack signs `v0:{timestamp}:{body}` and a request is valid for five minutes, so whoever
captures one signed request (a proxy log, a shared HAR file) can send it again within that
window and run the command a second time. Every signature accepted is recorded in the state
store until its five minutes are over; the same signature again is a replay, across every
replica sharing the store. When the store cannot be reached the check falls back to this
process's memory (a replay to another replica then gets through) and says so in the log.

Checking here, not only in Bolt, also means an unsigned request is refused before its body
is parsed, and Bolt never logs an unsigned body (it logs the whole body of a bad request).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

WINDOW = 5 * 60  # seconds either side of now that Slack's timestamp may be (Slack's own rule)
_MAX_TS_DIGITS = 12

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
    ) -> None:
        self.signing_secret = signing_secret
        self.engine = engine
        self.now = now
        self._purge_every = purge_every
        self._inserts = 0
        self._memory: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sqlite_writer = threading.Lock()

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
        expected = SignatureVerifier(self.signing_secret).generate_signature(timestamp=timestamp, body=body)
        if expected is None or not hmac.compare_digest(expected, signature):
            return Verdict.BAD_SIGNATURE
        return Verdict.OK if self._first_time(signature, ts + WINDOW + 60) else Verdict.REPLAY

    def _first_time(self, signature: str, expires: int) -> bool:
        if self.engine is not None:
            try:
                return self._first_in_store(self.engine, signature, expires)
            except SQLAlchemyError as exc:
                log.warning(
                    "replay check: the state store is unreachable (%s); this replica alone remembers "
                    "signatures until it recovers",
                    type(exc).__name__,
                )
        return self._first_in_memory(signature, expires)

    def _first_in_store(self, engine: Engine, signature: str, expires: int) -> bool:
        expires_at = datetime.fromtimestamp(expires, UTC)
        # On SQLite one writer at a time: threads that wait here wake at once, where SQLite's
        # busy handler would sleep them in steps of up to 100 ms (the acks' p99).
        with self._sqlite_writer if engine.dialect.name == "sqlite" else nullcontext():
            try:
                with engine.begin() as conn:
                    conn.execute(sa.insert(slack_replays).values(signature=signature, expires_at=expires_at))
            except IntegrityError:
                return False
        with self._lock:
            self._inserts += 1
            purge = self._inserts % self._purge_every == 0
        if purge:
            cutoff = datetime.fromtimestamp(self.now(), UTC) - timedelta(seconds=1)
            with engine.begin() as conn:
                conn.execute(sa.delete(slack_replays).where(slack_replays.c.expires_at < cutoff))
        self._first_in_memory(signature, expires)  # remembered here too, for a store outage
        return True

    def _first_in_memory(self, signature: str, expires: int) -> bool:
        now = self.now()
        with self._lock:
            if len(self._memory) > 10_000:
                self._memory = {s: e for s, e in self._memory.items() if e >= now}
            if self._memory.get(signature, 0) >= now:
                return False
            self._memory[signature] = expires
            return True
