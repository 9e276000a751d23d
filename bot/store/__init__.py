"""The state store: one SQLAlchemy engine (SQLite or PostgreSQL) and its migrations."""

from __future__ import annotations

import ast
import functools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from handlers.redact import redact

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


@functools.cache
def heads_on_disk() -> frozenset[str] | None:
    """The head revisions, read from the migration files' `revision =` / `down_revision =` lines.

    Alembic takes ~0.7 s to import; a bot whose store is already current (every start but the
    first after an upgrade) need not pay it. None when a file does not read as expected: the
    caller then asks Alembic itself.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in (MIGRATIONS / "versions").glob("*.py"):
            text_ = path.read_text(encoding="utf-8")
            rev, down = _REVISION.search(text_), _DOWN_REVISION.search(text_)
            if rev is None and down is None:
                continue  # __init__.py
            if rev is None or down is None:
                return None
            revision, down_revision = ast.literal_eval(rev.group(1)), ast.literal_eval(down.group(1))
            if not isinstance(revision, str):
                return None
            revisions.add(revision)
            if isinstance(down_revision, str):
                parents.add(down_revision)
            elif isinstance(down_revision, tuple):
                parents.update(str(d) for d in down_revision)
            elif down_revision is not None:
                return None
    except (OSError, ValueError, SyntaxError):
        return None
    return frozenset(revisions - parents) or None


class StoreError(Exception):
    """The state store cannot be reached or is not migrated."""


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// both mean psycopg 3 (the only PostgreSQL driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Store:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            # Threads share the engine; writers wait for each other instead of failing.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["connect_args"] = {"connect_timeout": 5}
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(self.url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # SQLite's driver opens transactions lazily and lets reads skip the write lock;
            # BEGIN IMMEDIATE makes compare-and-set updates serialise.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _alembic(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def _applied(self) -> list[str] | None:
        """The revisions recorded in alembic_version; None when the table is not there (yet)."""
        try:
            with self.engine.connect() as conn:
                return [
                    str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                ]
        except SQLAlchemyError:
            return None

    def upgrade(self) -> None:
        """Apply every migration not applied yet (Alembic is loaded only when there is one)."""
        heads = heads_on_disk()
        if heads is not None and set(self._applied() or ()) == heads:
            return
        from alembic import command

        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # Replicas starting together would race to migrate: one waits for the other.
                    conn.execute(text("SELECT pg_advisory_xact_lock(7316240117)"))
                cfg = self._alembic()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"state store {self.safe_url}: migration failed: {redact(str(exc))}") from None

    def head(self) -> str | None:
        heads = heads_on_disk()
        if heads is not None and len(heads) == 1:
            return next(iter(heads))
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def current(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                rows = [
                    str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                ]
            except SQLAlchemyError:
                rows = None
            if rows is not None and len(rows) <= 1:
                return rows[0] if rows else None
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def readiness(self) -> tuple[bool, str]:
        """Whether the store answers and its migrations are current, and why not."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            cur, head = self.current(), self.head()
        except SQLAlchemyError as exc:
            return False, f"state store unreachable: {redact(str(exc).splitlines()[0])}"
        if cur != head:
            return False, f"migrations not current (at {cur}, head {head}): run `chatops db upgrade`"
        return True, "ok"

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level so our explicit BEGIN IMMEDIATE controls transactions.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
