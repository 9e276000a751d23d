"""Fixtures for the alert tests: a bot with `alerts:` configured, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.alerts.pipeline import Pipeline
from bot.alerts.tables import alert_occurrences
from tests.conftest import RunningBot, drop_pg_database, make_pg_database, start_bot, stop_bot
from tests.fakes.slack import FakeSlack


def count_occurrences(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alert_occurrences)).scalar_one())


def pipeline_of(bot: RunningBot) -> Pipeline:
    p = bot.runtime.extras["alerts.pipeline"]
    assert isinstance(p, Pipeline)
    return p


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
        return
    url = make_pg_database("chatops_alerts")
    yield url
    drop_pg_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = make_pg_database("chatops_alerts")
    yield url
    drop_pg_database(url)


@pytest.fixture
def make_bot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., RunningBot]]:
    started: list[RunningBot] = []

    def make(config: str, *, database_url: str | None = None, **kw: Any) -> RunningBot:
        d = tmp_path / f"bot{len(started)}"
        d.mkdir()
        bot = start_bot(
            fake_slack, d, config, database_url=database_url or f"sqlite:///{tmp_path / 'bot.db'}", **kw
        )
        started.append(bot)
        return bot

    yield make
    for bot in started:
        pipeline_of(bot).stop()
        stop_bot(bot)
