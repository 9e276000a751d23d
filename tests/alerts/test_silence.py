"""Silences from Slack, through the guard, checked on a real Alertmanager 0.25."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.alerts.conftest import pipeline_of
from tests.alerts.payloads import alert, config, group, post
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import stored
from tests.promstack import Alertmanager
from tests.support import message_text


def _buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def _confirm_value(slack: FakeSlack, before: int) -> tuple[str, dict[str, Any]]:
    call = slack.wait_calls("chat.postMessage", before + 1)[before]
    return str(_buttons(call.args["blocks"])["guard.confirm"]["value"]), call.args


def test_silence_button_and_command_create_silences_on_alertmanager(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    start_alertmanager: Callable[..., Alertmanager],
) -> None:
    am = start_alertmanager("http://127.0.0.1:9/unused")
    bot = make_bot(config(alertmanager=am.url))
    post(bot.url, group([alert("HighLatency", labels={"severity": "warning"})]))
    assert pipeline_of(bot).wait_idle()
    msg = fake_slack.wait_calls("chat.postMessage")[0]
    silence_1h = _buttons(msg.args["blocks"])["alerts.silence.1h"]
    # Someone without the operator role: refused, nothing on Alertmanager.
    assert bot.client.action("alerts.silence.1h", silence_1h["value"], user="U0NOBODY").status_code == 200
    refusal = fake_slack.wait_for(lambda: next(iter(fake_slack.responses), None))
    assert "operator" in message_text(refusal)
    # An operator: a preview with Confirm; nothing is silenced before the click.
    before = len(fake_slack.calls_to("chat.postMessage"))
    bot.client.action("alerts.silence.1h", silence_1h["value"], user="U0OPS")
    action_id, preview = _confirm_value(fake_slack, before)
    text = message_text(preview)
    assert 'alertname="HighLatency"' in text
    assert "for 1h" in text
    assert am.active_silences() == []
    fake_slack.wait_for(lambda: stored(bot.runtime, action_id).message_ts)
    bot.client.action("guard.confirm", action_id, user="U0OPS", response_url=fake_slack.response_url("c1"))
    fake_slack.wait_for(lambda: next((r for r in fake_slack.responses if r["key"] == "c1"), None), timeout=20)
    active = am.active_silences()
    assert len(active) == 1
    s = active[0]
    assert s["createdBy"] == "U0OPS"
    assert {"name": "alertname", "value": "HighLatency", "isRegex": False, "isEqual": True} in s["matchers"]
    # The command, with a regex matcher, a duration and a comment.
    before = len(fake_slack.calls_to("chat.postMessage"))
    r = bot.client.command(
        "/alerts",
        'silence alertname="HighLatency" instance=~"db-.*" --for 2h --comment "deploying the fix"',
        user="U0OPS",
    )
    assert r.status_code == 200
    action_id, preview = _confirm_value(fake_slack, before)
    fake_slack.wait_for(lambda: stored(bot.runtime, action_id).message_ts)
    bot.client.action("guard.confirm", action_id, user="U0OPS", response_url=fake_slack.response_url("c2"))
    fake_slack.wait_for(lambda: next((r for r in fake_slack.responses if r["key"] == "c2"), None), timeout=20)
    active = am.active_silences()
    assert len(active) == 2
    new = next(x for x in active if x["comment"] == "deploying the fix")
    assert {"name": "instance", "value": "db-.*", "isRegex": True, "isEqual": True} in new["matchers"]
    audit = json.dumps([dict(r) for r in _audit_rows(bot)], default=str)
    assert "alerts.silence" in audit


def _audit_rows(bot: RunningBot) -> list[Any]:
    from sqlalchemy import select

    from bot.store.tables import audit

    with bot.runtime.store.engine.connect() as conn:
        return list(conn.execute(select(audit.c.handler, audit.c.event, audit.c.outcome)).mappings())


def test_silence_needs_an_equality_and_bounds(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(config(alertmanager="http://127.0.0.1:9"))
    bot.client.command("/alerts", 'silence instance=~".*" --for 2h', user="U0OPS")
    answer = fake_slack.wait_for(lambda: next(iter(fake_slack.responses), None))
    assert "equality" in message_text(answer)
    bot.client.command("/alerts", 'silence alertname="X" --for 30d', user="U0OPS")
    answer = fake_slack.wait_for(lambda: fake_slack.responses[1] if len(fake_slack.responses) > 1 else None)
    assert "14d" in message_text(answer)


def test_check_config_tries_alertmanager(start_alertmanager: Callable[..., Alertmanager]) -> None:
    from bot.check_config import check_targets
    from bot.config import parse_config

    am = start_alertmanager("http://127.0.0.1:9/unused")
    token = "t" * 20
    ok = list(check_targets(parse_config(f"alerts: {{token: {token}, alertmanager: {{url: {am.url}}}}}")))
    assert [(c.kind, c.ok) for c in ok] == [("alertmanager", True)]
    assert ok[0].detail.startswith("Alertmanager 0.25")
    down = list(
        check_targets(
            parse_config(f"alerts: {{token: {token}, alertmanager: {{url: 'http://127.0.0.1:9'}}}}")
        )
    )
    assert not down[0].ok
    assert "ConnectError" in down[0].detail
