"""A confirmed fix is never starved by read-only traffic, and a slow one is never called failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.guard import Status
from bot.slack.ids import ActionId
from bot.store.audit import latest
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import (
    GATES,
    Clock,
    Counters,
    block_text,
    blocks_of,
    gate,
    guard_config,
    start_guard_bot,
    started,
    stop_guard_bot,
    stored,
)
from tests.guard.test_slack_guard import action_id_of, answer, click, request
from tests.support import message_text

LIMITS = """
limits:
  handler_timeout: 1s
  workers: 16
  user_inflight: 4
"""


@pytest.fixture
def tbot(fake_slack: FakeSlack, tmp_path: Path, clock: Clock) -> Iterator[RunningBot]:
    running = start_guard_bot(fake_slack, tmp_path, clock, config=guard_config(extra=LIMITS))
    yield running
    for event in list(GATES.values()):
        event.set()
    stop_guard_bot(running)


def _texts(bot: RunningBot) -> list[str]:
    return [message_text(r) for r in bot.slack.responses]


def test_a_guest_flooding_slow_reads_cannot_starve_a_confirmed_fix(
    tbot: RunningBot, counters: Counters
) -> None:
    """Issue 12 #3: 16 slow reads from a guest filled the pool; the confirmed fix timed out as
    'failed' and ran 20 s later. Now it runs on its own workers, and the guest is capped."""
    action_id = action_id_of(request(tbot, f"incr {counters.key('fix')} 1"))
    slow = counters.key("slow")
    for _ in range(16):
        assert tbot.client.command("/gt", f"slow {slow}", user="U0GUEST").status_code == 200

    def capped() -> int:
        return sum("commands running" in t for t in _texts(tbot))

    tbot.slack.wait_for(lambda: started(slow) + capped() >= 16)
    click(tbot, ActionId.CONFIRM, action_id, key="fix")
    outcome = answer(tbot, "fix")
    text = block_text(outcome["blocks"])
    assert "failed" not in text
    assert "`gt.incr` on redis stage ran" in text
    assert counters.value("fix") == 1
    # The guest had at most 4 reads in flight; the other 12 were told why, naming the cap.
    assert started(slow) == 4
    assert capped() == 12
    gate(slow).set()
    # The four reads answer once their gate opens (plus the fix's own outcome, also a counter).
    tbot.slack.wait_for(lambda: sum("counter" in t for t in _texts(tbot)) >= 5)


def test_a_fix_slower_than_its_timeout_says_still_running_then_posts_and_audits_the_outcome(
    tbot: RunningBot, counters: Counters
) -> None:
    """A timeout never reports 'failed' for work that goes on."""
    name = counters.key("late")
    action_id = action_id_of(request(tbot, f"slowincr {name} 5"))
    click(tbot, ActionId.CONFIRM, action_id, key="late")
    running = answer(tbot, "late")
    text = block_text(running["blocks"])
    assert "still running" in text
    assert "failed" not in text
    assert stored(tbot.runtime, action_id).status is Status.CONFIRMED
    engine = tbot.runtime.store.engine
    assert latest(engine, handler_glob="gt.*")[0].event == "confirm"

    gate(name).set()
    # The real outcome replaces the preview (chat.update on its ts) and is audited.

    def final_update() -> Any:
        # wait_for holds the fake's lock: read `calls` directly, not through calls_to.
        updates = [block_text(blocks_of(c.args)) for c in tbot.slack.calls if c.method == "chat.update"]
        return next((t for t in updates if "ran" in t and "still running" not in t), None)

    assert "`gt.slowincr` on redis stage ran" in tbot.slack.wait_for(final_update)
    assert counters.value("late") == 5
    tbot.slack.wait_for(lambda: stored(tbot.runtime, action_id).status is Status.EXECUTED)
    execute = [e for e in latest(engine, handler_glob="gt.*") if e.event == "execute"]
    assert [e.outcome for e in execute] == ["ok"]


def test_one_command_fans_out_at_most_limits_fan_out_ways(tbot: RunningBot, counters: Counters) -> None:
    """A read-only command's list argument is bounded too (issue 12 #3: `--url` count)."""
    many = " ".join(f"--key {counters.key(str(i))}" for i in range(21))
    tbot.client.command("/gt", f"many {many}", user="U0GUEST")
    [refused] = tbot.slack.wait_responses(1)
    assert "--key names 21 items; one command takes at most 20 (limits.fan_out)" in message_text(refused)
    few = " ".join(f"--key {counters.key(str(i))}" for i in range(20))
    tbot.client.command("/gt", f"many {few}", user="U0GUEST")
    [_, answered] = tbot.slack.wait_responses(2)
    assert message_text(answered).count("0") >= 20
