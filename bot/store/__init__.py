"""The state store: one SQLAlchemy engine (SQLite or PostgreSQL) and its migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from handlers.redact import redact

MIGRATIONS = Path(__file__).parent / "migrations"


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
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def upgrade(self) -> None:
        """Apply every migration not applied yet."""
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
        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def current(self) -> str | None:
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
