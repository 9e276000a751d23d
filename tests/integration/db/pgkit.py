"""Helpers shared by the /db tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import glob
import os
import pwd
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from handlers import Context

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"


def dsn(dbname: str, port: int = PORT, host: str = HOST) -> str:
    return f"host={host} port={port} user={USER} dbname={dbname} connect_timeout=5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_pool(conninfo: str, max_size: int = 2) -> ConnectionPool[Any]:
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"application_name": "chatops"},
        timeout=5,
        open=True,
    )
    pool.wait(timeout=10)
    return pool


def make_ctx(pool: ConnectionPool[Any], **options: Any) -> Context[Any]:
    return Context(client=pool, timeout=5, options={"statement_timeout_ms": 5000, **options}, target="main")


@dataclass
class Session:
    """Another client's session (not the bot's), for locks, sleeps and victims of terminate."""

    conn: psycopg.Connection[Any]
    pid: int
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def run_in_background(self, query: str) -> None:
        def work() -> None:
            try:
                self.conn.execute(query)
            except BaseException as exc:  # the test inspects what ended the query
                self.error = exc

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 10) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting: {what}")


def backend_state(dbname: str, pid: int, port: int = PORT) -> dict[str, Any] | None:
    with psycopg.connect(dsn(dbname, port=port)) as conn:
        row = conn.execute(
            "SELECT state, wait_event_type, extract(epoch FROM clock_timestamp() - query_start)::float8 "
            "FROM pg_stat_activity WHERE pid = %s",
            (pid,),
        ).fetchone()
    if row is None:
        return None
    return {"state": row[0], "wait_event_type": row[1], "query_s": row[2]}


@dataclass
class PgServer:
    port: int
    datadir: str

    def dsn(self, dbname: str = "postgres") -> str:
        return dsn(dbname, port=self.port)


def _pg_bin() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install postgresql)"
        )
    return os.path.dirname(candidates[-1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres OS user then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _server_dirs(prefix: str) -> tuple[str, str, str]:
    """A temporary root with data/ (for initdb or pg_basebackup to create) and sock/, owned by
    the postgres OS user when the tests run as root."""
    root = tempfile.mkdtemp(prefix=prefix)
    datadir, sockdir = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sockdir)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for path in (root, sockdir):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    return root, datadir, sockdir


def _stop(bindir: str, datadir: str) -> None:
    subprocess.run(
        _as_postgres([f"{bindir}/pg_ctl", "-D", datadir, "-m", "immediate", "-w", "stop"]),
        capture_output=True,
        timeout=60,
    )
