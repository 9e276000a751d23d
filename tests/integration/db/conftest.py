"""PostgreSQL fixtures for the /db handler tests.

The shared server (127.0.0.1:5432, trust auth) gets a database of our own, `chatops_pg_<random>`,
so helpers running at the same time never see each other's tables. A second server, started
here from the PostgreSQL binaries with pg_stat_statements preloaded, serves the slow-queries
and connection-threshold tests.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from handlers import Context, Registry, load_all
from handlers.results import Result
from tests.integration.calls import previewer, runner
from tests.integration.db.pgkit import (
    HOST,
    PORT,
    USER,
    PgServer,
    Session,
    _as_postgres,
    _pg_bin,
    _server_dirs,
    _stop,
    dsn,
    free_port,
    make_ctx,
    make_pool,
)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_all()


@pytest.fixture(scope="session")
def server() -> None:
    try:
        with psycopg.connect(dsn("test")) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at {HOST}:{PORT} (user postgres, database test) is not reachable: {exc}")


@pytest.fixture(scope="session")
def dbname(server: None) -> Iterator[str]:
    name = f"chatops_pg_{secrets.token_hex(4)}"
    with psycopg.connect(dsn("test"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(dsn("test"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pool(dbname: str) -> Iterator[ConnectionPool[Any]]:
    p = make_pool(dsn(dbname))
    yield p
    p.close()


@pytest.fixture
def ctx(pool: ConnectionPool[Any]) -> Context[Any]:
    return make_ctx(pool)


Run = Callable[..., Result]


@pytest.fixture
def run(registry: Registry, ctx: Context[Any]) -> Run:
    """run("db.locks", context=None, **params): call a handler as the bot would, after validation."""
    return runner(registry, ctx)


@pytest.fixture
def preview(registry: Registry, ctx: Context[Any]) -> Callable[..., Any]:
    return previewer(registry, ctx)


@pytest.fixture
def session(dbname: str) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(app: str = "chatops-test-client", db: str | None = None, port: int = PORT) -> Session:
        conn = psycopg.connect(dsn(db or dbname, port=port), application_name=app, autocommit=True)
        s = Session(conn=conn, pid=conn.info.backend_pid)
        opened.append(s)
        return s

    yield open_session
    for s in opened:
        with contextlib.suppress(Exception):
            s.conn.cancel_safe(timeout=2)
        with contextlib.suppress(Exception):
            s.conn.close()
        s.join(5)


# -- a private PostgreSQL server with pg_stat_statements preloaded -------------------------


@pytest.fixture(scope="session")
def pgss_server() -> Iterator[PgServer]:
    bindir = _pg_bin()
    root, datadir, sockdir = _server_dirs("chatops_pg_pgss_")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [f"{bindir}/initdb", "-D", datadir, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    opts = (
        f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 "
        "-c shared_preload_libraries=pg_stat_statements -c max_connections=20 -c fsync=off"
    )
    started = subprocess.run(
        _as_postgres([f"{bindir}/pg_ctl", "-D", datadir, "-o", opts, "-l", f"{root}/log", "-w", "start"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if started.returncode != 0:
        log = open(f"{root}/log").read() if os.path.exists(f"{root}/log") else ""  # noqa: SIM115
        pytest.fail(f"could not start a PostgreSQL server on port {port}: {started.stderr}\n{log}")
    yield PgServer(port=port, datadir=datadir)
    _stop(bindir, datadir)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def standby(pgss_server: PgServer) -> Iterator[PgServer]:
    """A streaming replica of the private server (pg_basebackup -R, with a replication slot)."""
    bindir = _pg_bin()
    root, datadir, sockdir = _server_dirs("chatops_pg_standby_")
    subprocess.run(
        _as_postgres(
            [
                f"{bindir}/pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(pgss_server.port),
                "-U",
                USER,
                "-D",
                datadir,
                "-R",
                "-X",
                "stream",
                "-C",
                "-S",
                "chatops_standby",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c max_connections=20"
    started = subprocess.run(
        _as_postgres([f"{bindir}/pg_ctl", "-D", datadir, "-o", opts, "-l", f"{root}/log", "-w", "start"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if started.returncode != 0:
        pytest.fail(f"could not start a standby on port {port}: {started.stderr}")
    yield PgServer(port=port, datadir=datadir)
    _stop(bindir, datadir)
    with contextlib.suppress(psycopg.Error), psycopg.connect(pgss_server.dsn(), autocommit=True) as c:
        c.execute("SELECT pg_drop_replication_slot('chatops_standby')")
    shutil.rmtree(root, ignore_errors=True)
