"""Runbook tests: test handlers (a registry of our own), a PostgreSQL database of our own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import Client, Context, HandlerSpec, Registry, load_all
from handlers.errors import TargetUnavailable
from handlers.params import Params, arg
from handlers.results import Check, KeyValues, Result, Status, Text
from tests.conftest import drop_pg_database, make_pg_database

REDIS_PREFIX = "chatops_rb"


class Gate:
    """Makes steps meet: a step passes only when `parties` steps are inside at once."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.release = threading.Event()  # for steps that must hang until the test lets go


GATES: dict[str, Gate] = {}


class MeetParams(Params):
    gate: str = arg(help="which gate")
    value: float = arg(0.0, help="the value reported")


def meet(ctx: Context[Any], p: MeetParams) -> Result:
    """Wait for the other steps of the gate (proves they run at the same time)."""
    gate = GATES[p.gate]
    with gate.lock:
        gate.active += 1
        gate.peak = max(gate.peak, gate.active)
    try:
        gate.barrier.wait(timeout=10)
    except threading.BrokenBarrierError:
        raise TargetUnavailable(f"gate {p.gate}: the other steps never ran alongside this one") from None
    finally:
        with gate.lock:
            gate.active -= 1
    return KeyValues(title=f"met at {p.gate}", items=[("value", str(p.value))], values={"value": p.value})


class FailParams(Params):
    how: str = arg("handler", help="handler or bug")


def fail(ctx: Context[Any], p: FailParams) -> Result:
    """Fail the way a handler or a bug fails."""
    if p.how == "handler":
        raise TargetUnavailable("database db-7 refused the connection")
    raise RuntimeError("boom: postgresql://app:s3cret@db:5432/app is broken")


class HangParams(Params):
    gate: str = arg(help="gate whose release ends the hang")


def hang(ctx: Context[Any], p: HangParams) -> Result:
    """Hang until the test releases it."""
    GATES[p.gate].release.wait(timeout=30)
    return Text(text="late")


class JudgeParams(Params):
    status: str = arg("ok")


def judge(ctx: Context[Any], p: JudgeParams) -> Result:
    """Return a Check with the given status."""
    return Check(title="judged", status=Status(p.status), detail=f"it is {p.status}", values={"n": 1})


def spec(name: str, fn: Any, params: type[Params], destructive: bool = False) -> HandlerSpec:
    command, _, sub = name.partition(".")
    return HandlerSpec(name, fn, params, Client.NONE, destructive, None, command, sub)


TEST_SPECS = (
    spec("t.meet", meet, MeetParams),
    spec("t.fail", fail, FailParams),
    spec("t.hang", hang, HangParams),
    spec("t.judge", judge, JudgeParams),
)


@pytest.fixture(scope="session")
def real_registry() -> Registry:
    return load_all()


@pytest.fixture
def registry(real_registry: Registry) -> Registry:
    """The real handlers plus the test ones."""
    return real_registry.with_handlers(*TEST_SPECS)


@pytest.fixture
def gates() -> Iterator[dict[str, Gate]]:
    yield GATES
    for gate in GATES.values():
        gate.release.set()
    GATES.clear()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of our own (libpq URL, as chatops.yaml's dsn)."""
    url = make_pg_database("chatops_rb")
    yield url.replace("postgresql+psycopg://", "postgresql://", 1)
    drop_pg_database(url)
