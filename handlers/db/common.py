"""Plumbing shared by the PostgreSQL handlers.

* `read_only(ctx)`: a cursor in a READ ONLY transaction with `SET LOCAL statement_timeout`,
  so a diagnostic can neither change data nor hang behind a lock.
* `autocommit(ctx, timeout_ms)`: for VACUUM and REINDEX CONCURRENTLY, which refuse to run
  inside a transaction block.
* Every psycopg / pool failure becomes a HandlerError that names the database and the cause,
  with secrets redacted.
* `resolve_relation`: a table or index name typed by a user is looked up in the catalogue
  and only the catalogue's own (schema, name) is ever quoted into SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow, dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
from pydantic import AfterValidator

from handlers import Context
from handlers.errors import Forbidden, HandlerError, InvalidRequest, NotFound, TargetUnavailable
from handlers.humanize import cut
from handlers.params import arg
from handlers.redact import redact

Row = dict[str, Any]
Cursor = psycopg.Cursor[Row]

DEFAULT_STATEMENT_TIMEOUT_MS = 5000
QUERY_WIDTH = 100  # characters of a query shown in a table cell

# A query text can carry a password (`ALTER ROLE x PASSWORD '...'`); handlers.redact covers
# URLs and key=value forms, this covers the SQL form.
_SQL_PASSWORD = re.compile(r"(?i)(\bpassword\s+)('(?:[^']|'')*'|\S+)")
_IDENT = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
_QUALIFIED = re.compile(rf"^(?:(?P<schema>{_IDENT})\.)?(?P<name>{_IDENT})$")


def database_arg() -> Any:
    """The target field every /db params model ends with (positional after its own)."""
    return arg(
        None,
        positional=True,
        flags=("--database", "-d"),
        help="a configured database (default: the default one)",
    )


def _relation_name(value: str) -> str:
    if not _QUALIFIED.match(value):
        raise ValueError(
            f"{value!r} is not a table or index name (letters, digits and _, optionally "
            "schema.name, at most 63 characters each)"
        )
    return value


RelationName = Annotated[str, AfterValidator(_relation_name)]
"""A table or index name, optionally schema-qualified; checked against the catalogue later."""


# What the bot gives a PostgreSQL handler: the database's pool (bot/services.py builds it).
Pool = ConnectionPool[psycopg.Connection[TupleRow]]
PgContext = Context[Pool]


def label(ctx: PgContext) -> str:
    return f"database {ctx.target}" if ctx.target else "the database"


def statement_timeout_ms(ctx: PgContext) -> int:
    try:
        ms = int(ctx.options.get("statement_timeout_ms", DEFAULT_STATEMENT_TIMEOUT_MS))
    except (TypeError, ValueError):
        ms = DEFAULT_STATEMENT_TIMEOUT_MS
    # 0 would mean "no timeout" to PostgreSQL: never let a diagnostic run unbounded.
    return ms if ms > 0 else DEFAULT_STATEMENT_TIMEOUT_MS


def maintenance_timeout_ms(ctx: PgContext) -> int:
    """VACUUM / REINDEX get longer than a diagnostic, but still end before the bot gives up."""
    configured = ctx.options.get("maintenance_timeout_ms")
    if isinstance(configured, int | float) and configured > 0:
        return int(configured)
    return max(statement_timeout_ms(ctx), int(ctx.timeout * 3000))


def sql_text(query: str | None, limit: int = QUERY_WIDTH) -> str:
    """A query as shown to users: one line, cut, passwords removed."""
    if not query:
        return ""
    return cut(redact(_SQL_PASSWORD.sub(r"\1***", query)), limit)


def _pool(ctx: PgContext) -> Pool:
    pool = ctx.client
    if not isinstance(pool, ConnectionPool):
        raise HandlerError(f"{label(ctx)}: no connection pool is configured for it")
    return pool


@contextmanager
def connection(ctx: PgContext, *, timeout_ms: int | None = None) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection; any failure becomes a HandlerError naming the database."""
    pool = _pool(ctx)
    # Half the budget waiting for the pool, the rest to find out why it had nothing to give.
    wait = max(1.0, ctx.timeout / 2)
    try:
        with pool.connection(timeout=wait) as conn:
            yield conn
    except PoolTimeout:
        raise unreachable(ctx, pool, wait) from None
    except PoolClosed:
        raise TargetUnavailable(f"{label(ctx)}: the bot's connection pool is closed") from None
    except psycopg.Error as exc:
        raise translate(ctx, exc, timeout_ms or statement_timeout_ms(ctx)) from None


@contextmanager
def read_only(ctx: PgContext) -> Iterator[Cursor]:
    """A dict-row cursor in a READ ONLY transaction bounded by the statement timeout."""
    ms = statement_timeout_ms(ctx)
    with connection(ctx, timeout_ms=ms) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # One round trip; the timeout is an int we computed, rendered as a literal.
        cur.execute(
            sql.SQL("SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {}").format(sql.Literal(ms))
        )
        yield cur


@contextmanager
def writable(ctx: PgContext) -> Iterator[Cursor]:
    """A dict-row cursor in an ordinary transaction bounded by the statement timeout."""
    ms = statement_timeout_ms(ctx)
    with connection(ctx, timeout_ms=ms) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(ms)))
        yield cur


@dataclass
class Notices:
    """Server notices (WARNINGs) raised while a maintenance command ran."""

    messages: list[str]


@contextmanager
def autocommit(ctx: PgContext, timeout_ms: int) -> Iterator[tuple[Cursor, Notices]]:
    """An autocommit cursor with a session statement_timeout, restored before reuse."""
    with connection(ctx, timeout_ms=timeout_ms) as conn:
        notices = Notices([])

        def collect(diag: psycopg.errors.Diagnostic) -> None:
            notices.messages.append(f"{diag.severity}: {diag.message_primary}")

        conn.autocommit = True
        conn.add_notice_handler(collect)
        try:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(timeout_ms)))
                yield cur, notices
        finally:
            conn.remove_notice_handler(collect)
            if not conn.closed:
                try:
                    conn.execute("RESET statement_timeout")
                    conn.autocommit = False
                except psycopg.Error:
                    conn.close()  # the pool drops a closed connection instead of reusing it


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact(" ".join(text.split()))[:400]


def translate(ctx: PgContext, exc: psycopg.Error, timeout_ms: int) -> HandlerError:
    """Map a psycopg error to the HandlerError the user reads."""
    where = label(ctx)
    msg = first_line(exc)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        if "statement timeout" in msg:
            return HandlerError(
                f"{where}: the query was stopped by the bot's statement timeout ({timeout_ms} ms); "
                "the server is slow or the query waited on a lock (see /db locks)"
            )
        return HandlerError(f"{where}: the query was cancelled: {msg}")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return Forbidden(f"{where}: the bot's database role lacks a privilege: {msg}")
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return InvalidRequest(f"{where}: the server is read-only (a standby?): {msg}")
    if isinstance(exc, psycopg.OperationalError):
        return TargetUnavailable(f"{where}: the connection failed: {msg}")
    return HandlerError(f"{where}: {msg}")


def describe_connect_error(exc: BaseException) -> str:
    """Name the cause of a failed connection attempt: refused, DNS, timeout, auth, TLS."""
    text = first_line(exc)
    lower = text.lower()
    causes = (
        ("connection refused", "connection refused"),
        ("could not translate host name", "DNS lookup failed"),
        ("name or service not known", "DNS lookup failed"),
        ("nodename nor servname", "DNS lookup failed"),
        ("timeout expired", "timed out"),
        ("timed out", "timed out"),
        ("password authentication failed", "authentication failed"),
        ("authentication failed", "authentication failed"),
        ("no password supplied", "authentication failed"),
        ("does not exist", "not found"),
        ("ssl", "TLS error"),
        ("no such file or directory", "no server on that socket"),
    )
    kind = next((name for needle, name in causes if needle in lower), "cannot connect")
    return f"{kind} ({text})"


def unreachable(ctx: PgContext, pool: ConnectionPool[Any], waited: float) -> TargetUnavailable:
    """The pool gave no connection in time: find out whether the server is down or the pool busy."""
    conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
    raw_kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
    kwargs: dict[str, Any] = dict(raw_kwargs or {})
    kwargs["connect_timeout"] = max(2, math.ceil(ctx.timeout / 2))
    try:
        probe = psycopg.connect(conninfo, **kwargs)
    except psycopg.Error as exc:
        return TargetUnavailable(f"{label(ctx)}: cannot connect: {describe_connect_error(exc)}")
    probe.close()
    return TargetUnavailable(
        f"{label(ctx)}: the server answers, but all {pool.max_size} connections of the bot's pool "
        f"stayed busy for {waited:.0f} s; try again shortly"
    )


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    name: str
    kind: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


_FIND_RELATION = """
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       pg_table_is_visible(c.oid) AS visible, c.relname = %(name)s AS exact
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = ANY(%(kinds)s)
  AND c.relname IN (%(name)s, lower(%(name)s))
  AND (%(schema)s::text IS NULL OR n.nspname IN (%(schema)s::text, lower(%(schema)s::text)))
ORDER BY exact DESC, visible DESC, n.nspname
"""

_SIMILAR_RELATIONS = """
SELECT n.nspname || '.' || c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = ANY(%(kinds)s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  AND position(lower(%(name)s) IN lower(c.relname)) > 0
ORDER BY length(c.relname), 1
LIMIT 5
"""


def resolve_relation(ctx: PgContext, cur: Cursor, typed: str, kinds: Sequence[str], what: str) -> Relation:
    """Find a table/index the user named in the catalogue, or explain why not."""
    m = _QUALIFIED.match(typed)
    if m is None:  # the params model already checked; this guards direct callers
        raise InvalidRequest(f"{typed!r} is not a valid {what} name")
    schema, name = m.group("schema"), m.group("name")
    cur.execute(_FIND_RELATION, {"name": name, "schema": schema, "kinds": list(kinds)})
    rows = cur.fetchall()
    if rows and rows[0]["exact"]:
        rows = [r for r in rows if r["exact"]]
    if not rows:
        cur.execute(_SIMILAR_RELATIONS, {"name": name, "kinds": list(kinds)})
        similar = [r["name"] for r in cur.fetchall()]
        hint = f" (similar: {', '.join(similar)})" if similar else ""
        raise NotFound(f"{label(ctx)}: no {what} named {typed}{hint}")
    if schema is None and len(rows) > 1 and not rows[0]["visible"]:
        schemas = ", ".join(r["schema"] for r in rows)
        raise InvalidRequest(f"{label(ctx)}: {what} {name} exists in schemas {schemas}; give schema.{name}")
    top = rows[0]
    return Relation(
        oid=int(top["oid"]), schema=str(top["schema"]), name=str(top["name"]), kind=str(top["kind"])
    )


def server_version(cur: Cursor) -> int:
    """The server's version number, such as 150020 for 15.20."""
    return int(cur.connection.info.server_version)
