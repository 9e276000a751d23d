"""Outcomes that could not be written because the state store was down, kept on local disk.

An action that ran must never be lost from the audit log. When the store refuses a write,
the row goes to a JSON-lines file instead (appended, flushed and fsync'd before the caller
tells anyone anything), and `drain` writes the rows into the store once it answers again:
at start and on every scheduler tick.

Each line is `{"kind": ..., "data": {...}}`; the caller that drains decides what each kind
means (an audit row, the final status of a pending action).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

Entry = Mapping[str, Any]


def default_path(database_url: str) -> Path:
    """Next to the SQLite file; for a server database, in the temp directory (one per URL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".audit-spool.jsonl")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"chatops-audit-spool-{digest}.jsonl"


class Spool:
    """An append-only JSON-lines file, safe across threads (a lock) and processes (flock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def append(self, kind: str, data: Entry) -> None:
        """Keep one entry; on return it is on disk (fsync'd)."""
        line = json.dumps({"kind": kind, "data": dict(data)}, default=str, sort_keys=True) + "\n"
        with self._locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def pending(self) -> int:
        """How many entries wait to be written."""
        if not self.path.exists():
            return 0
        with self._locked():
            return len(self._read())

    def _read(self) -> list[dict[str, Any]]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                # A torn last line (the process died mid-write): nothing was promised for it.
                log.warning("audit spool %s: skipping an unreadable line", self.path)
                continue
            if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
                entries.append(entry)
        return entries

    def _rewrite(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for e in entries:
                f.write(json.dumps(e, default=str, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def drain(self, apply: Callable[[str, Entry], None]) -> int:
        """Apply entries in order until the store fails again; keep the rest. Returns how many."""
        if not self.path.exists():
            return 0
        with self._locked():
            entries = self._read()
            done = 0
            for entry in entries:
                try:
                    apply(str(entry.get("kind")), entry["data"])
                except SQLAlchemyError:
                    break  # still down: try again on the next tick
                except Exception:
                    # A malformed entry must not block the ones after it forever.
                    log.exception("audit spool: dropping an entry that cannot be written")
                done += 1
            if done:
                self._rewrite(entries[done:])
                log.info("audit spool: wrote %d delayed record(s) to the state store", done)
            return done
