"""Issue 12 #16: a Slack `Retry-After: 20` held a listener 41 s. Waits inside a request are
capped; the call falls back at once and the person still gets their answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.ids import ActionId
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import (
    Clock,
    Counters,
    block_text,
    blocks_of,
    buttons,
    start_guard_bot,
    stop_guard_bot,
)


@pytest.fixture
def wbot(fake_slack: FakeSlack, tmp_path: Path, clock: Clock) -> Iterator[RunningBot]:
    running = start_guard_bot(fake_slack, tmp_path, clock)
    yield running
    stop_guard_bot(running)


def test_a_long_retry_after_is_not_waited_out_and_the_preview_still_arrives(
    wbot: RunningBot, counters: Counters
) -> None:
    wbot.slack.rate_limit("chat.postMessage", retry_after=20, times=3)
    assert wbot.client.command("/gt", f"incr {counters.key('w')} 1").status_code == 200
    # Slack refused the channel post with Retry-After: 20; the bot did not sleep on it but
    # answered through the command's response_url (the fake's wait gives up after 10 s).
    [preview] = wbot.slack.wait_responses(1)
    assert ActionId.CONFIRM.value in buttons(blocks_of(preview))
    assert f"counter {counters.key('w')}: 0 → 1" in block_text(blocks_of(preview))
    assert len(wbot.slack.calls_to("chat.postMessage")) == 1  # no retry after a 20 s Retry-After


def test_a_short_retry_after_is_still_honoured(wbot: RunningBot, counters: Counters) -> None:
    wbot.slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    assert wbot.client.command("/gt", f"incr {counters.key('s')} 1").status_code == 200
    posts = wbot.slack.wait_calls("chat.postMessage", 2)
    assert len(posts) == 2  # waited ~1 s, retried once, posted
    assert wbot.slack.responses == []
