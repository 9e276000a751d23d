"""Redis fixtures for the /redis handler tests.

The shared server (127.0.0.1:6379) is used in db 11 only, with a key prefix unique to each
test. A private redis-server started here (with a small maxmemory) serves the tests that need
server settings changed, so the shared instance's configuration is never touched.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from handlers import Context, Registry, load_all
from handlers.results import Result
from tests.integration.calls import previewer, runner

DB = 11


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_all()


@pytest.fixture(scope="session")
def shared() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=DB, socket_timeout=5, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at 127.0.0.1:6379 is not reachable: {exc}")
    yield client
    client.close()


@pytest.fixture
def prefix(shared: redis.Redis, request: pytest.FixtureRequest) -> Iterator[str]:
    """A key prefix no other test (or helper) uses; its keys are removed afterwards."""
    p = f"chatops:test:{request.node.name[:40]}:{secrets.token_hex(3)}:"
    yield p
    keys = list(shared.scan_iter(match=p + "*", count=1000))
    if keys:
        shared.unlink(*keys)


@pytest.fixture
def ctx(shared: redis.Redis) -> Context[Any]:
    return Context(client=shared, timeout=5, target="cache")


@pytest.fixture
def run(registry: Registry, ctx: Context[Any]) -> Callable[..., Result]:
    return runner(registry, ctx)


@pytest.fixture
def preview(registry: Registry, ctx: Context[Any]) -> Callable[..., Any]:
    return previewer(registry, ctx)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def private_redis() -> Iterator[redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port, workdir = _free_port(), tempfile.mkdtemp(prefix="chatops_redis_")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--maxmemory",
            "8mb",
            "--maxmemory-policy",
            "noeviction",
            "--slowlog-log-slower-than",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"could not start redis-server on port {port}")
            time.sleep(0.05)
    yield client
    client.close()
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    shutil.rmtree(workdir, ignore_errors=True)
