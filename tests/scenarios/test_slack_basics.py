"""End to end through the real HTTP endpoint: signed requests in, fake Slack API out."""

from __future__ import annotations

import time

from bot.store.audit import latest
from tests.conftest import RunningBot
from tests.support import command_body, message_text, sign


def test_help_lists_every_command_from_the_registry(bot: RunningBot) -> None:
    r = bot.client.command("/chatops", "help")
    assert r.status_code == 200
    [answer] = bot.slack.wait_responses(1)
    text = message_text(answer)
    assert answer["response_type"] == "ephemeral"
    for spec in bot.runtime.registry:
        assert f"/{spec.command} {spec.sub}" in text, spec.name
    assert "/chatops whoami" in text
    assert "/chatops audit" in text


def test_whoami_names_the_caller_and_roles(bot: RunningBot) -> None:
    bot.client.command("/chatops", "whoami", user="U0BOB")
    [answer] = bot.slack.wait_responses(1)
    assert "U0BOB" in message_text(answer)
    assert "everyone" in message_text(answer)


def test_unknown_subcommand_suggests_the_closest(bot: RunningBot) -> None:
    bot.client.command("/chatops", "whoamii")
    [answer] = bot.slack.wait_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "Unknown subcommand `whoamii`" in message_text(answer)
    assert "Did you mean `/chatops whoami`" in message_text(answer)


def test_help_after_a_command_lists_its_subcommands(bot: RunningBot) -> None:
    bot.client.command("/chatops", "")
    [answer] = bot.slack.wait_responses(1)
    assert "/chatops audit" in message_text(answer)
    assert "/chatops help" in message_text(answer)


def test_a_bare_command_whose_default_needs_arguments_lists_its_subcommands(bot: RunningBot) -> None:
    # `/prom SERVICE METRIC` is the default form; `/prom` alone is a request for the menu.
    bot.client.command("/prom", "")
    [answer] = bot.slack.wait_responses(1)
    text = message_text(answer)
    assert "/prom query" in text
    assert "/prom graph" in text
    assert "is required" not in text


def test_bad_signature_gets_401_and_runs_nothing(bot: RunningBot) -> None:
    body = command_body("/chatops", "whoami", response_url=bot.slack.response_url())
    headers = sign(body, secret="not-the-secret")
    r = bot.client.post(body, headers=headers)
    assert r.status_code == 401
    time.sleep(0.3)  # give a wrongly accepted listener the chance to answer
    assert bot.slack.responses == []
    assert latest(bot.runtime.store.engine) == []


def test_replayed_request_older_than_five_minutes_gets_401(bot: RunningBot) -> None:
    body = command_body("/chatops", "whoami", response_url=bot.slack.response_url())
    r = bot.client.post(body, headers=sign(body, timestamp=int(time.time()) - 301))
    assert r.status_code == 401
    time.sleep(0.3)
    assert bot.slack.responses == []


def test_health_and_readiness_endpoints(bot: RunningBot) -> None:
    import httpx

    assert httpx.get(bot.url + "/healthz").status_code == 200
    ready = httpx.get(bot.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
