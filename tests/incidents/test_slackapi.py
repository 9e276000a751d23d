"""`call(client.method, …)`: WebClient's typed methods, every failure a SlackStepError naming the
API method; offline (the console without Slack) every call fails the same way, without I/O."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.incidents.slackapi import OfflineSlack, SlackStepError, call
from tests.fakes.slack import FakeSlack


def test_a_call_returns_slacks_answer(fake_slack: FakeSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=fake_slack.api_url)
    posted = call(client.chat_postMessage, channel="C00000001", text="hello")
    assert posted["ok"] is True
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.args["text"] == "hello"


def test_slacks_refusal_names_the_api_method_and_the_reason(fake_slack: FakeSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=fake_slack.api_url)
    fake_slack.fail("conversations.setTopic", "channel_not_found")
    with pytest.raises(SlackStepError) as caught:
        call(client.conversations_setTopic, channel="C0GONE", topic="x")
    assert (caught.value.method, caught.value.error) == ("conversations.setTopic", "channel_not_found")
    assert str(caught.value) == "Slack conversations.setTopic: channel_not_found"


def test_offline_every_call_fails_naming_the_method() -> None:
    with pytest.raises(SlackStepError, match=r"^Slack pins\.add: not connected to Slack \(console mode\)$"):
        call(OfflineSlack().pins_add, channel="C1", timestamp="1.2")
