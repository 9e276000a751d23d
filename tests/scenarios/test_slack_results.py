"""Handler results through Slack: rendering, long output as files, retries, errors, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.audit import latest
from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.helpers_registry import make_registry
from tests.support import message_text


@pytest.fixture
def tbot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[RunningBot]:
    running = start_bot(fake_slack, tmp_path, registry=make_registry())
    yield running
    stop_bot(running)


def test_result_is_posted_in_channel(tbot: RunningBot) -> None:
    r = tbot.client.command("/t", "echo hello -n prod --shout")
    assert r.status_code == 200
    [answer] = tbot.slack.wait_responses(1)
    assert answer["response_type"] == "in_channel"
    assert "HELLO" in message_text(answer)
    assert "echo in prod" in message_text(answer)


def test_long_output_is_cut_and_uploaded_whole(tbot: RunningBot) -> None:
    tbot.client.command("/t", "many-lines -c 5000")
    [answer] = tbot.slack.wait_responses(1)
    assert "not shown here; the whole output is attached as a file" in message_text(answer)
    [complete] = tbot.slack.wait_calls("files.completeUploadExternal")
    [upload] = list(tbot.slack.uploads.values())
    assert b"line 4999 " in upload
    assert upload.count(b"\n") >= 4999
    assert "long logs" in str(complete.args.get("files"))
    assert complete.args["channel_id"] == "C00000001"


def test_rate_limited_upload_is_retried_after_retry_after(tbot: RunningBot) -> None:
    tbot.slack.rate_limit("files.getUploadURLExternal", retry_after=1)
    tbot.client.command("/t", "many-lines -c 3000")
    tbot.slack.wait_calls("files.completeUploadExternal", timeout=15)
    calls = tbot.slack.calls_to("files.getUploadURLExternal")
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 0.9  # Retry-After respected


def test_failed_upload_tells_the_user_why(tbot: RunningBot) -> None:
    tbot.slack.fail("files.getUploadURLExternal", "not_in_channel")
    tbot.client.command("/t", "many-lines -c 3000")
    answers = tbot.slack.wait_responses(2)
    assert "could not be uploaded as a file (not_in_channel)" in message_text(answers[1])


def test_bad_arguments_get_an_ephemeral_message_naming_the_problem(tbot: RunningBot) -> None:
    tbot.client.command("/t", "echo -n Bad_Name")
    [answer] = tbot.slack.wait_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "namespace: 'Bad_Name' is not a valid name" in message_text(answer)


def test_unexpected_failure_is_a_clear_message_without_secrets(tbot: RunningBot) -> None:
    tbot.client.command("/t", "boom")
    [answer] = tbot.slack.wait_responses(1)
    text = message_text(answer)
    assert "t.boom failed" in text
    assert "RuntimeError" in text
    assert "hunter2" not in text
    [entry] = latest(tbot.runtime.store.engine)
    assert entry.outcome == "error"
    assert "hunter2" not in entry.detail


def test_command_needing_a_target_says_which_key_to_add(tbot: RunningBot) -> None:
    tbot.client.command("/t", "needs db")
    [answer] = tbot.slack.wait_responses(1)
    assert "add `databases:` to chatops.yaml" in message_text(answer)


def test_every_request_is_audited(tbot: RunningBot) -> None:
    tbot.client.command("/t", "echo hi -n prod", user="U0CAROL", channel="C0OPS")
    tbot.slack.wait_responses(1)
    [entry] = latest(tbot.runtime.store.engine)
    assert (entry.user_id, entry.channel_id, entry.handler, entry.outcome) == (
        "U0CAROL",
        "C0OPS",
        "t.echo",
        "ok",
    )
    assert entry.command == "/t echo hi -n prod"
    assert '"namespace": "prod"' in entry.args
    assert entry.duration_ms is not None


def test_destructive_handler_is_refused_without_the_operator_role(tbot: RunningBot) -> None:
    tbot.client.command("/t", "wipe -n prod")
    [answer] = tbot.slack.wait_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "needs the operator role" in message_text(answer)
    [entry] = latest(tbot.runtime.store.engine)
    assert (entry.event, entry.outcome) == ("refuse", "refused")


def test_unknown_command_name_is_answered(tbot: RunningBot) -> None:
    tbot.client.command("/nope", "x")
    [answer] = tbot.slack.wait_responses(1)
    assert "Unknown command /nope" in message_text(answer)
