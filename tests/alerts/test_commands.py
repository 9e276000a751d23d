"""`/alerts` lists what fires; `/alerts ack` and the Acknowledge button mark a group, once."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.alerts.conftest import pipeline_of
from tests.alerts.payloads import alert, config, group, post
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.support import message_text


def _last_answer(slack: FakeSlack, n: int) -> str:
    return message_text(slack.wait_responses(n)[n - 1])


def test_list_and_ack(make_bot: Callable[..., RunningBot], fake_slack: FakeSlack) -> None:
    bot = make_bot(config())
    bot.client.command("/alerts", "", user="U0ALICE")
    assert "No alert is firing" in _last_answer(fake_slack, 1)
    post(
        bot.url,
        group(
            [
                alert("HighCPU", labels={"severity": "warning"}),
                alert("HighCPU", labels={"severity": "warning", "instance": "b"}),
            ]
        ),
    )
    post(bot.url, group([alert("<!here>Disk", labels={"severity": "warning"})]))
    assert pipeline_of(bot).wait_idle()
    bot.client.command("/alerts", "", user="U0ALICE")
    listing = _last_answer(fake_slack, 2)
    assert "3 firing alert(s) in 2 group(s)" in listing
    assert "HighCPU" in listing
    assert "<!here>" not in listing
    bot.client.command("/alerts", "ack", user="U0ALICE")
    assert "Several groups are firing" in _last_answer(fake_slack, 3)
    bot.client.command("/alerts", "ack 1", user="U0ALICE")
    assert "You acknowledged alert group `1`" in _last_answer(fake_slack, 4)
    bot.client.command("/alerts", "ack 1", user="U0BOB")
    assert "already acknowledged by <@U0ALICE>" in _last_answer(fake_slack, 5)
    assert pipeline_of(bot).wait_idle()
    updated = [c for c in fake_slack.calls_to("chat.update") if "acknowledged by" in json.dumps(c.args)]
    assert updated
    assert "alerts.ack" not in json.dumps(updated[-1].args["blocks"])
    # The button on the other group's message.
    msg = next(c for c in fake_slack.calls_to("chat.postMessage") if "Disk" in c.args["text"])
    ack = next(
        e
        for b in msg.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "alerts.ack"
    )
    bot.client.action("alerts.ack", ack["value"], user="U0BOB")
    fake_slack.wait_for(
        lambda: any(
            "<@U0BOB>" in json.dumps(c.args) for c in list(fake_slack.calls) if c.method == "chat.update"
        )
    )
    bot.client.command("/alerts", "", user="U0ALICE")
    assert "acked by <@U0BOB>" in _last_answer(fake_slack, 6)


def test_declare_and_runbook_buttons(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, tmp_path
) -> None:
    from bot.incidents import records
    from bot.store.timeline import events
    from tests.alerts.payloads import RUNBOOK
    from tests.ops.metrics_scrape import scrape, value
    from tests.runbooks.fakehttp import SlowHealth

    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "svc-check.yaml").write_text(RUNBOOK)
    with SlowHealth() as health:
        routes = """    - {matchers: ['severity="warning"'], runbook: svc-check}"""
        bot = make_bot(config(routes=routes, runbooks_dir=str(rb), health=health.url + "/h"))
        before = scrape(bot.url)
        post(bot.url, group([alert("QueueBacklog", labels={"severity": "warning"})]))
        assert pipeline_of(bot).wait_idle()
        msg = fake_slack.wait_calls("chat.postMessage")[0]
        buttons = {
            e["action_id"]: e for b in msg.args["blocks"] if b["type"] == "actions" for e in b["elements"]
        }
        # The automatic run (once per firing group), in the message's thread.
        fake_slack.wait_for(
            lambda: any(
                c.method == "chat.postMessage" and c.args.get("thread_ts") for c in list(fake_slack.calls)
            )
        )
        ops = fake_slack.channel_named("ops")
        assert ops is not None
        runs = len(
            [c for c in fake_slack.calls_to("chat.postMessage") if "Service check" in c.args.get("text", "")]
        )
        # Run runbook: again, on demand, as the clicker.
        bot.client.action(
            "alerts.runbook", buttons["alerts.runbook"]["value"], user="U0ALICE", channel=ops.id
        )
        fake_slack.wait_for(
            lambda: (
                len(
                    [
                        c
                        for c in list(fake_slack.calls)
                        if c.method == "chat.postMessage" and "Service check" in c.args.get("text", "")
                    ]
                )
                > runs
            )
        )
        # Declare incident: as the clicker, severity from the label (warning → P3), once.
        bot.client.action(
            "alerts.declare", buttons["alerts.declare"]["value"], user="U0ALICE", channel=ops.id
        )
        fake_slack.wait_calls("conversations.create")
        bot.client.action("alerts.declare", buttons["alerts.declare"]["value"], user="U0BOB", channel=ops.id)
        answer = fake_slack.wait_for(lambda: next(iter(fake_slack.responses), None))
        assert "being declared already" in message_text(answer) or "already" in message_text(answer)
        assert pipeline_of(bot).wait_idle()
        assert len(fake_slack.calls_to("conversations.create")) == 1
        inc = records.get(bot.runtime.store.engine, 1)
        assert inc is not None
        assert (inc.severity, inc.declared_by) == ("P3", "U0ALICE")
        fake_slack.wait_for(lambda: events(bot.runtime.store.engine, 1, kinds=("detected",)))
        after = scrape(bot.url)
        got = value(after, "chatops_alerts_received_total", source="alertmanager", result="accepted")
        assert (
            got - value(before, "chatops_alerts_received_total", source="alertmanager", result="accepted")
            == 1
        )
        assert value(after, "chatops_alert_webhooks_total", source="alertmanager", status="200") >= 1
