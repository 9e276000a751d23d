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
