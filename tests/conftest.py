"""Shared fixtures: the fake Slack API, state stores on SQLite and PostgreSQL, a running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib

from bot.app import ChatopsApp, build_app
from bot.config import ChatopsConfig, Settings, parse_config
from bot.runtime import Runtime
from bot.services import Clients, Services
from bot.store import Store
from bot.web import HttpServer, WebApp
from handlers import Registry, load_all
from tests.fakes.slack import FakeSlack
from tests.promstack import Alertmanager, Exporter, Prometheus, start_alertmanager_in, start_prometheus_in
from tests.support import BOT_TOKEN, SIGNING_SECRET, BotClient

PG_ADMIN = os.environ.get("CHATOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATOPS_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (start it; see .ci/run): {exc}")


def make_pg_database(prefix: str) -> str:
    """Create a throwaway database; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (start it; see .ci/run): {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    url = make_pg_database("chatops_store")
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated state store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'chatops.db'}")
        s.upgrade()
        yield s
        s.close()
        return
    url = make_pg_database("chatops_store")
    s = Store(url)
    s.upgrade()
    yield s
    s.close()
    drop_pg_database(url)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def make_settings(slack: FakeSlack, tmp_path: Path, **env: str) -> Settings:
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "CHATOPS_CONFIG": str(tmp_path / "chatops.yaml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        **env,
    }
    return Settings.model_validate(values)


class RunningBot:
    def __init__(self, app: ChatopsApp, server: HttpServer, slack: FakeSlack) -> None:
        self.app = app
        self.server = server
        self.slack = slack
        self.url = f"http://127.0.0.1:{server.port}"
        self.client = BotClient(self.url, slack.response_url(), slack)

    @property
    def runtime(self) -> Runtime:
        return self.app.runtime


def start_bot(
    slack: FakeSlack,
    tmp_path: Path,
    config: ChatopsConfig | str | None = None,
    *,
    database_url: str | None = None,
    clients: Clients | None = None,
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
) -> RunningBot:
    cfg = parse_config(config) if isinstance(config, str) else (config or ChatopsConfig())
    env = {"DATABASE_URL": database_url} if database_url else {}
    settings = make_settings(slack, tmp_path, **env)
    store = Store(settings.database_url)
    store.upgrade()
    services = Services(
        config=cfg, store=store, clients=clients or Clients(cfg), registry=registry or load_all()
    )
    if clock is not None:
        services.clock = clock
    app = build_app(settings, services)
    server = HttpServer(WebApp(app), host="127.0.0.1", port=0)
    server.start()
    return RunningBot(app, server, slack)


def stop_bot(bot: RunningBot) -> None:
    bot.server.stop()
    bot.app.runtime.pool.shutdown(wait=False)
    bot.app.runtime.services.close()


@pytest.fixture
def bot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[RunningBot]:
    """The bot's real HTTP server, with no chatops.yaml, against the fake Slack API."""
    running = start_bot(fake_slack, tmp_path)
    yield running
    stop_bot(running)


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    """A /metrics endpoint whose counters, gauges and histograms the test sets."""
    exp = Exporter()
    yield exp
    exp.close()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[..., Prometheus]]:
    """Start a real Prometheus: `start_prometheus([exporter.target], rules=..., alertmanager=url)`."""
    started: list[Prometheus] = []

    def start(
        targets: list[str], *, rules: str | dict[str, Any] | None = None, alertmanager: str | None = None
    ) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        prom = start_prometheus_in(workdir, targets, rules=rules, alertmanager=alertmanager)
        started.append(prom)
        return prom

    yield start
    for prom in started:
        prom.stop()


@pytest.fixture
def start_alertmanager(tmp_path: Path) -> Iterator[Callable[..., Alertmanager]]:
    """Start a real Alertmanager: `start_alertmanager(webhook_url, bearer_token=...)`."""
    started: list[Alertmanager] = []

    def start(webhook_url: str, *, bearer_token: str | None = None, group_wait: str = "1s") -> Alertmanager:
        workdir = tmp_path / f"alertmanager-{len(started)}"
        am = start_alertmanager_in(workdir, webhook_url, bearer_token=bearer_token, group_wait=group_wait)
        started.append(am)
        return am

    yield start
    for am in started:
        am.stop()
