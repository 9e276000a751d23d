"""Two replicas on one PostgreSQL receive the same groups (an Alertmanager HA pair): one of everything."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.store.tables import incidents
from tests.alerts.conftest import count_occurrences, pipeline_of
from tests.alerts.payloads import T0, alert, config, group, post
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack

ROUTES = """    - {matchers: ['severity="critical"'], declare: P2}"""
GROUPS = 8
PER_GROUP = 5


def _bodies(status: str = "firing") -> list[dict[str, Any]]:
    out = []
    for g in range(GROUPS):
        alerts = [
            alert(
                f"Alert{g}",
                labels={"instance": f"host{i}:80"},
                starts=T0 + timedelta(seconds=i),
                status=status,
            )
            for i in range(PER_GROUP)
        ]
        if status == "resolved":
            for a in alerts:
                a["endsAt"] = "2026-12-01T10:00:00Z"
        out.append(group(alerts))
    return out


def test_two_replicas_one_of_everything(
    make_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack
) -> None:
    a = make_bot(config(routes=ROUTES), database_url=pg_url)
    b = make_bot(config(routes=ROUTES), database_url=pg_url)
    sends = [(bot, body) for body in _bodies() for bot in (a, b)] * 2  # each twice to each replica
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda x: post(x[0].url, x[1]), sends))
    assert all(r.status_code == 200 for r in answers)
    assert sum(r.json()["accepted"] for r in answers) == GROUPS * PER_GROUP
    assert sum(r.json()["duplicates"] for r in answers) == (len(sends) - GROUPS) * PER_GROUP
    for bot in (a, b):
        assert pipeline_of(bot).wait_idle()
    engine = a.runtime.store.engine
    assert count_occurrences(engine) == GROUPS * PER_GROUP
    ops = fake_slack.channel_named("ops")
    assert ops is not None
    posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] in ("#ops", ops.id)]
    assert len(posted) == GROUPS
    assert len(fake_slack.calls_to("conversations.create")) == GROUPS
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == GROUPS
    # Every message ends up showing its incident (the last update wins, whichever replica sent it).
    for bot in (a, b):
        pipeline_of(bot).sweep(bot.runtime.clock())
        assert pipeline_of(bot).wait_idle()
    # Resolution arrives at both, twice.
    sends = [(bot, body) for body in _bodies("resolved") for bot in (a, b)] * 2
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda x: post(x[0].url, x[1]), sends))
    assert sum(r.json()["accepted"] for r in answers) == GROUPS * PER_GROUP
    for bot in (a, b):
        assert pipeline_of(bot).wait_idle()
    posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] in ("#ops", ops.id)]
    assert len(posted) == GROUPS  # still one message per group, updated in place
    last: dict[str, dict[str, Any]] = {}
    for c in fake_slack.calls_to("chat.update"):
        if c.args["channel"] == ops.id:
            last[c.args["ts"]] = c.args
    assert len(last) == GROUPS
    assert all(v["text"].startswith("RESOLVED") for v in last.values()), json.dumps(list(last.values()))[:500]
    offers = [
        m
        for ch in fake_slack.channels.values()
        if ch.name.startswith("incident-")
        for m in fake_slack.messages.get(ch.id, [])
        if "Every alert of this incident" in m.get("text", "")
    ]
    assert len(offers) == GROUPS
