"""The state store goes down around a command: the user is told the truth, and nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.guard import Status
from bot.slack.ids import ActionId
from bot.store.audit import latest
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import (
    AFTER,
    GATES,
    KEY_PREFIX,
    Clock,
    Counters,
    block_text,
    gate,
    start_guard_bot,
    started,
    stop_guard_bot,
    stored,
)
from tests.guard.test_slack_guard import action_id_of, answer, click, request
from tests.support import message_text
from tests.trust.storekit import StoreSwitch


@pytest.fixture
def pg_bot(
    fake_slack: FakeSlack, tmp_path: Path, clock: Clock, pg_store_url: str
) -> Iterator[tuple[RunningBot, StoreSwitch]]:
    switch = StoreSwitch(pg_store_url)
    running = start_guard_bot(fake_slack, tmp_path, clock, database_url=pg_store_url)
    yield running, switch
    switch.up()
    for event in list(GATES.values()):
        event.set()
    stop_guard_bot(running)


def test_store_down_after_a_confirmed_action_ran_tells_the_truth_and_spools_the_audit(
    pg_bot: tuple[RunningBot, StoreSwitch], counters: Counters
) -> None:
    """Issue 12 #4: replicas went 7 → 9 and the user was told nothing ran."""
    bot, switch = pg_bot
    name = counters.key("cut")
    action_id = action_id_of(request(bot, f"incrcut {name} 2"))
    AFTER[f"{KEY_PREFIX}:{name}"] = switch.down  # the store drops between the change and its audit
    click(bot, ActionId.CONFIRM, action_id, key="cut")
    text = block_text(answer(bot, "cut")["blocks"])
    assert counters.value("cut") == 2
    assert "Nothing was run" not in text
    assert "`gt.incrcut` on redis stage ran" in text
    assert "The audit record is delayed" in text
    spool = bot.runtime.actions.spool
    assert spool.pending() >= 1

    switch.up()
    assert bot.runtime.scheduler is not None
    bot.runtime.scheduler.tick()  # the spool is written on the tick once the store answers
    assert spool.pending() == 0
    engine = bot.runtime.store.engine
    executed = [e for e in latest(engine, handler_glob="gt.incrcut") if e.event == "execute"]
    assert [(e.outcome, e.user_id) for e in executed] == [("ok", "U0ALICE")]
    assert stored(bot.runtime, action_id).status is Status.EXECUTED


def test_store_down_a_read_only_command_runs_once_and_answers(
    pg_bot: tuple[RunningBot, StoreSwitch], counters: Counters
) -> None:
    """Issue 12 #7: it ran twice (Bolt re-dispatched after dispatch raised) and the user saw nothing."""
    bot, switch = pg_bot
    name = counters.key("ro")
    gate(name).set()  # no waiting: this counts how often it runs
    switch.down()
    assert bot.client.command("/gt", f"slow {name}").status_code == 200
    [answered] = bot.slack.wait_responses(1)
    assert f"counter {name}" in message_text(answered)
    assert started(name) == 1
    switch.up()
    assert bot.runtime.scheduler is not None
    bot.runtime.scheduler.tick()
    rows = [e for e in latest(bot.runtime.store.engine, handler_glob="gt.slow") if e.event == "request"]
    assert [e.outcome for e in rows] == ["ok"]
    assert started(name) == 1


def test_store_down_a_command_that_needs_the_store_gets_a_clear_message(
    pg_bot: tuple[RunningBot, StoreSwitch],
) -> None:
    bot, switch = pg_bot
    switch.down()
    r = bot.client.command("/chatops", "audit", user="U0ALICE")
    assert r.status_code == 200
    [answered] = bot.slack.wait_responses(1)
    text = message_text(answered)
    assert "state store is unreachable" in text
    assert "Traceback" not in text
