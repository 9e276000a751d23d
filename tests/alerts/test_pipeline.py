"""What the bot does with a stored group: the message, the incident, the runbook, the resolution."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.incidents import postmortem, records
from bot.store.timeline import events
from tests.alerts.conftest import pipeline_of
from tests.alerts.payloads import RUNBOOK, T0, alert, config, group, post
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.runbooks.fakehttp import SlowHealth

ROUTES = """    - {matchers: ['severity="critical"'], declare: P1, runbook: svc-check, auto_resolve: AUTO}
    - {matchers: ['severity="warning"'], runbook: "{{ alertname }}"}"""


@pytest.fixture
def health() -> Iterator[SlowHealth]:
    with SlowHealth() as srv:
        yield srv


def _bot(
    make_bot: Callable[..., RunningBot],
    tmp_path: Path,
    health: SlowHealth,
    *,
    auto: bool,
    db: str | None = None,
) -> RunningBot:
    rb = tmp_path / "runbooks"
    rb.mkdir(exist_ok=True)
    (rb / "svc-check.yaml").write_text(RUNBOOK)
    cfg = config(
        routes=ROUTES.replace("AUTO", "true" if auto else "false"),
        runbooks_dir=str(rb),
        health=health.url + "/health",
    )
    return make_bot(cfg, database_url=db)


def _calls(slack: FakeSlack, method: str) -> list[Any]:
    """Calls so far, read inside a `wait_for` predicate (which already holds the fake's lock)."""
    return [c for c in list(slack.calls) if c.method == method]


def _in(slack: FakeSlack, channel_id: str) -> list[dict[str, Any]]:
    return list(slack.messages.get(channel_id, []))


def test_declare_runbook_notes_and_resolve(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, tmp_path: Path, health: SlowHealth
) -> None:
    bot = _bot(make_bot, tmp_path, health, auto=False)
    engine = bot.runtime.store.engine
    a1 = alert("BackendDown", annotations={"summary": "backend answers 503"})
    assert post(bot.url, group([a1])).json() == {"accepted": 1, "duplicates": 0}
    pipe = pipeline_of(bot)
    assert pipe.wait_idle()
    # The incident: declared once, its channel created, detection = the alert's startsAt.
    created = fake_slack.wait_calls("conversations.create")
    assert len(created) == 1
    inc = records.get(engine, 1)
    assert inc is not None
    assert inc.severity == "P1"
    assert inc.declared_by == "chatops"
    assert "BackendDown" in inc.title
    assert "backend answers 503" in inc.title
    detected = events(engine, inc.id, kinds=("detected",))
    assert len(detected) == 1
    assert detected[0].at == T0
    # The group message in the alerts channel links the incident, and offers no Declare button.
    ops = fake_slack.channel_named("ops")
    assert ops is not None
    fake_slack.wait_for(
        lambda: any(f"<#{inc.channel_id}>" in json.dumps(c.args) for c in _calls(fake_slack, "chat.update"))
    )
    assert len(_in(fake_slack, ops.id)) == 1
    last = json.dumps([c for c in fake_slack.calls_to("chat.update") if c.args["channel"] == ops.id][-1].args)
    assert "alerts.declare" not in last
    assert "alerts.runbook" in last
    # The runbook's diagnostics ran once, in the incident channel, against the service's URL.
    assert inc.channel_id
    channel = inc.channel_id
    fake_slack.wait_for(lambda: any("Service check" in m.get("text", "") for m in _in(fake_slack, channel)))
    assert health.hits
    # Alertmanager resends the group: nothing new happens.
    post(bot.url, group([a1]))
    # A second alert joins: the channel and the timeline are told.
    a2 = alert("BackendDown", labels={"instance": "b:80"}, starts=T0 + timedelta(minutes=1))
    assert post(bot.url, group([a1, a2])).json() == {"accepted": 1, "duplicates": 1}
    assert pipe.wait_idle()
    fake_slack.wait_for(
        lambda: any(m.get("text", "").startswith(":red_circle: Firing") for m in _in(fake_slack, channel))
    )
    # Every alert resolves: the message says so, the channel is offered Resolve; the incident stays open.
    end = T0 + timedelta(minutes=20)
    resolved = [
        {**a, "status": "resolved", "endsAt": end.isoformat().replace("+00:00", "Z")} for a in (a1, a2)
    ]
    assert post(bot.url, group(resolved)).json() == {"accepted": 2, "duplicates": 0}
    assert pipe.wait_idle()
    fake_slack.wait_for(
        lambda: any(
            "Every alert of this incident has resolved" in m.get("text", "") for m in _in(fake_slack, channel)
        )
    )
    offer = next(m for m in _in(fake_slack, channel) if "Every alert" in m.get("text", ""))
    assert "incident.resolve" in json.dumps(offer["blocks"])
    fake_slack.wait_for(
        lambda: any(c.args["text"].startswith("RESOLVED") for c in _calls(fake_slack, "chat.update"))
    )
    assert records.get(engine, inc.id).is_open  # type: ignore[union-attr]
    assert len(fake_slack.calls_to("conversations.create")) == 1
    runs = [m for m in _in(fake_slack, channel) if "Service check" in m.get("text", "")]
    assert len(runs) == 1
    report = postmortem.draft_postmortem(engine, bot.runtime.config, inc.id)
    assert "**Detected (alert started)**: 2026-12-01 09:00 UTC" in report
    assert "**Time to declare**" in report
    assert "**Time to detect**" in report


def test_auto_resolve(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, tmp_path: Path, health: SlowHealth
) -> None:
    bot = _bot(make_bot, tmp_path, health, auto=True)
    a1 = alert("BackendDown")
    post(bot.url, group([a1]))
    assert pipeline_of(bot).wait_idle()
    fake_slack.wait_calls("conversations.create")
    post(bot.url, group([{**a1, "status": "resolved", "endsAt": "2026-12-01T09:30:00Z"}]))
    assert pipeline_of(bot).wait_idle()
    inc = records.get(bot.runtime.store.engine, 1)
    assert inc is not None
    assert not inc.is_open
    assert inc.resolved_by == "chatops"
    report = postmortem.draft_postmortem(bot.runtime.store.engine, bot.runtime.config, 1)
    assert "**Time to resolve**" in report


def test_warning_route_posts_with_buttons_and_thread_runbook(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, tmp_path: Path, health: SlowHealth
) -> None:
    bot = _bot(make_bot, tmp_path, health, auto=False)
    # runbook "{{ alertname }}" names a runbook that does not exist: said in the message's thread.
    post(bot.url, group([alert("svc-check", labels={"severity": "warning"})]))
    assert pipeline_of(bot).wait_idle()
    msg = fake_slack.wait_calls("chat.postMessage")[0]
    blocks = json.dumps(msg.args["blocks"])
    assert "alerts.declare" in blocks
    assert "alerts.runbook" in blocks
    assert "alerts.ack" in blocks
    assert "alerts.silence" not in blocks  # no alertmanager: configured
    assert not fake_slack.calls_to("conversations.create")
    ts = fake_slack.wait_for(
        lambda: next((c for c in _calls(fake_slack, "chat.postMessage") if c.args.get("thread_ts")), None)
    )
    assert "Service check" in ts.args["text"]


def test_labels_never_ping_or_link(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, tmp_path: Path, health: SlowHealth
) -> None:
    bot = _bot(make_bot, tmp_path, health, auto=False)
    evil = alert(
        "<!channel> Evil",
        labels={"severity": "warning", "service": "<@U0BOSS>", "instance": "<https://evil.example|click>"},
        annotations={"summary": "<!here> see https://evil.example and <#C0SECRET>"},
        generator="javascript:alert(1)",
    )
    post(bot.url, group([evil]))
    assert pipeline_of(bot).wait_idle()
    msg = fake_slack.wait_calls("chat.postMessage")[0]
    text = json.dumps(msg.args["blocks"]) + msg.args["text"]
    for raw in (
        "<!channel>",
        "<!here>",
        "<@U0BOSS>",
        "<https://evil.example|click>",
        "<#C0SECRET>",
        "javascript:",
    ):
        assert raw not in text
    assert "&lt;!channel&gt;" in text
    sections = [b for b in msg.args["blocks"] if b["type"] == "section"]
    assert sections
    assert all(b["text"].get("verbatim") is True for b in sections)
    assert msg.args.get("unfurl_links") in (False, "false", "0", 0)


def test_resolved_by_hand_while_firing_is_not_declared_again(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    tmp_path: Path,
    health: SlowHealth,
    pg_url: str,
) -> None:
    from bot.incidents import lifecycle
    from bot.incidents.deps import IncidentDeps

    bot = _bot(make_bot, tmp_path, health, auto=False, db=pg_url)
    pipe = pipeline_of(bot)
    a1 = alert("BackendDown")
    post(bot.url, group([a1]))
    assert pipe.wait_idle()
    fake_slack.wait_calls("conversations.create")
    lifecycle.resolve(IncidentDeps.of(bot.runtime), 1, user="U0ALICE", summary="false alarm")
    a2 = alert("BackendDown", labels={"instance": "b:80"}, starts=T0 + timedelta(minutes=2))
    assert post(bot.url, group([a1, a2])).json()["accepted"] == 1
    assert pipe.wait_idle()
    pipe.sweep(bot.runtime.clock())
    assert pipe.wait_idle()
    assert records.get(bot.runtime.store.engine, 2) is None
    # The episode ends, a new one starts: a new incident.
    gone = [{**a, "status": "resolved", "endsAt": "2026-12-01T09:30:00Z"} for a in (a1, a2)]
    post(bot.url, group(gone))
    assert pipe.wait_idle()
    post(bot.url, group([alert("BackendDown", starts=T0 + timedelta(hours=1))]))
    assert pipe.wait_idle()
    second = records.get(bot.runtime.store.engine, 2)
    assert second is not None
    assert second.is_open
    assert records.get(bot.runtime.store.engine, 3) is None
    # The new incident's timeline starts with the new episode, not the old one's resolutions.
    kinds = [e.kind for e in events(bot.runtime.store.engine, 2)]
    assert kinds[:2] == ["detected", "declared"]
