"""End to end through the real HTTP endpoint: signed slash commands and block_actions in, the
fake Slack API out, real Redis counters changed (or not) by the test handlers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.guard import Status
from bot.slack.ids import ActionId
from bot.store import Store
from bot.store.audit import latest
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import (
    Clock,
    Counters,
    block_text,
    blocks_of,
    buttons,
    guard_config,
    start_guard_bot,
    stop_guard_bot,
    stored,
)


@pytest.fixture
def gbot(fake_slack: FakeSlack, tmp_path: Path, clock: Clock) -> Iterator[RunningBot]:
    running = start_guard_bot(fake_slack, tmp_path, clock)
    yield running
    stop_guard_bot(running)


def request(
    bot: RunningBot, text: str, *, user: str = "U0ALICE", channel: str = "C00000001"
) -> dict[str, Any]:
    """Type `/gt <text>` and return the preview message the bot posted in the channel."""
    before = len(bot.slack.calls_to("chat.postMessage"))
    assert bot.client.command("/gt", text, user=user, channel=channel).status_code == 200
    call = bot.slack.wait_calls("chat.postMessage", before + 1)[before]
    # The listener stores where it posted the preview right after the post returns.
    action_id = action_id_of(call.args)
    bot.slack.wait_for(lambda: stored(bot.runtime, action_id).message_ts)
    return call.args


def click(
    bot: RunningBot, action: ActionId, value: str, *, user: str = "U0ALICE", key: str = "r1", ts: str = "1.1"
) -> None:
    url = bot.slack.response_url(key)
    r = bot.client.action(action.value, value, user=user, response_url=url, message_ts=ts)
    assert r.status_code == 200  # acked at once; the work happens after


def answer(bot: RunningBot, key: str) -> dict[str, Any]:
    """The first response_url post for one click."""
    return bot.slack.wait_for(lambda: next((r for r in bot.slack.responses if r["key"] == key), None))  # type: ignore[no-any-return]


def action_id_of(preview: dict[str, Any]) -> str:
    return str(buttons(blocks_of(preview))[ActionId.CONFIRM.value]["value"])


def test_the_preview_offers_confirm_with_a_dialog_and_cancel_carrying_only_the_id(
    gbot: RunningBot, counters: Counters
) -> None:
    preview = request(gbot, f"incr {counters.key('p')} 3")
    blocks = blocks_of(preview)
    text = block_text(blocks)
    assert preview["channel"] == "C00000001"
    assert "<@U0ALICE> asks to run `gt.incr` on *redis stage*" in text
    assert f"counter {counters.key('p')}: 0 → 3" in text
    assert "Nothing has run yet" in text
    found = buttons(blocks)
    confirm, cancel = found[ActionId.CONFIRM.value], found[ActionId.CANCEL.value]
    action_id = confirm["value"]
    assert cancel["value"] == action_id
    assert len(action_id) >= 32
    assert action_id.replace("-", "").replace("_", "").isalnum()
    assert confirm["confirm"]["title"]["text"] == "Run gt.incr?"
    assert "0 → 3" in confirm["confirm"]["text"]["text"]
    assert confirm["style"] == "danger"
    assert counters.value("p") == 0
    row = stored(gbot.runtime, action_id)
    # Where the preview was posted is remembered, so its outcome or expiry can replace it.
    assert row.status is Status.PENDING
    assert row.channel_id == "C00000001"
    assert row.message_ts


def test_confirm_runs_it_and_replaces_the_message_with_what_changed(
    gbot: RunningBot, counters: Counters
) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('q')} 2"))
    click(gbot, ActionId.CONFIRM, action_id, key="c1")
    outcome = answer(gbot, "c1")
    assert outcome["replace_original"] is True
    text = block_text(outcome["blocks"])
    assert ":white_check_mark:" in text
    assert "`gt.incr` on redis stage ran" in text
    assert "*value:* 2" in text  # the handler's result, rendered
    assert ActionId.CONFIRM.value not in str(outcome["blocks"])  # no buttons left
    assert counters.value("q") == 2

    click(gbot, ActionId.CONFIRM, action_id, key="c2")  # a double click
    late = answer(gbot, "c2")
    assert late["response_type"] == "ephemeral"
    assert late["replace_original"] is False
    assert "Already" in block_text(late["blocks"])
    assert counters.value("q") == 2
    events = [e.event for e in reversed(latest(gbot.runtime.store.engine, handler_glob="gt.*"))]
    assert events == ["preview", "confirm", "execute", "refuse"]


def test_someone_else_clicking_confirm_gets_an_ephemeral_refusal(
    gbot: RunningBot, counters: Counters
) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('r')}"))
    click(gbot, ActionId.CONFIRM, action_id, user="U0BOB", key="bob")
    refusal = answer(gbot, "bob")
    assert refusal["response_type"] == "ephemeral"
    assert refusal["replace_original"] is False
    assert "Only <@U0ALICE>, who asked for it, can confirm" in block_text(refusal["blocks"])
    assert counters.value("r") == 0
    assert stored(gbot.runtime, action_id).status is Status.PENDING


def test_cancel_replaces_the_preview_and_runs_nothing(gbot: RunningBot, counters: Counters) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('s')}"))
    click(gbot, ActionId.CANCEL, action_id, key="x")
    cancelled = answer(gbot, "x")
    assert cancelled["replace_original"] is True
    assert "Cancelled by <@U0ALICE>" in block_text(cancelled["blocks"])
    click(gbot, ActionId.CONFIRM, action_id, key="late")
    assert "cancelled" in block_text(answer(gbot, "late")["blocks"])
    assert counters.value("s") == 0


def test_an_expired_preview_says_so_when_clicked(gbot: RunningBot, clock: Clock, counters: Counters) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('t')}"))
    clock.advance(minutes=11)
    click(gbot, ActionId.CONFIRM, action_id, key="old")
    expired = answer(gbot, "old")
    assert expired["replace_original"] is True
    assert "expired" in block_text(expired["blocks"])
    assert "Nothing was run" in block_text(expired["blocks"])
    assert counters.value("t") == 0


def test_the_scheduler_tick_expires_previews_and_takes_their_buttons_away(
    gbot: RunningBot, clock: Clock, counters: Counters
) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('u')}"))
    posted_ts = stored(gbot.runtime, action_id).message_ts
    clock.advance(minutes=11)
    assert gbot.runtime.scheduler is not None
    gbot.runtime.scheduler.tick(clock())
    [update] = gbot.slack.wait_calls("chat.update", 1)
    assert update.args["ts"] == posted_ts
    assert update.args["channel"] == "C00000001"
    assert "expired" in block_text(blocks_of(update.args))
    assert buttons(blocks_of(update.args)) == {}
    assert stored(gbot.runtime, action_id).status is Status.EXPIRED


def test_an_unknown_action_id_is_answered_ephemerally(gbot: RunningBot) -> None:
    click(gbot, ActionId.CONFIRM, "x" * 32, key="unk")
    unknown = answer(gbot, "unk")
    assert unknown["response_type"] == "ephemeral"
    assert "unknown" in block_text(unknown["blocks"])


def test_a_refused_request_is_ephemeral_and_names_role_handler_and_target(
    gbot: RunningBot, counters: Counters
) -> None:
    gbot.client.command("/gt", f"incr {counters.key('v')} --instance prod-cache", user="U0EVE")
    [refusal] = gbot.slack.wait_responses(1)
    assert refusal["response_type"] == "ephemeral"
    assert (
        "gt.incr on redis prod-cache changes things and needs the operator role (access.operators)"
        in block_text(refusal["blocks"])
    )
    assert gbot.slack.calls_to("chat.postMessage") == []
    assert latest(gbot.runtime.store.engine)[0].event == "refuse"


def test_two_person_approval_round_trip(gbot: RunningBot, counters: Counters) -> None:
    preview = request(gbot, f"incr {counters.key('w')} 9 --instance prod-cache")
    assert "an approver (<@U0LEAD>, <@U0BOB>) must approve it" in block_text(blocks_of(preview))
    action_id = action_id_of(preview)
    preview_ts_ = stored(gbot.runtime, action_id).message_ts

    click(gbot, ActionId.CONFIRM, action_id, key="confirm", ts=str(preview_ts_))
    waiting = answer(gbot, "confirm")
    assert waiting["replace_original"] is True
    assert "Waiting for an approver" in block_text(waiting["blocks"])
    assert list(buttons(waiting["blocks"])) == [ActionId.CANCEL.value]
    [_, ask_call] = gbot.slack.wait_calls("chat.postMessage", 2)
    ask_blocks = blocks_of(ask_call.args)
    assert "*Approval needed.*" in block_text(ask_blocks)
    assert "<@U0LEAD>" in block_text(ask_blocks)
    approve_button = buttons(ask_blocks)[ActionId.APPROVE.value]
    assert approve_button["value"] == action_id
    assert "confirm" in approve_button
    assert buttons(ask_blocks)[ActionId.REJECT.value]["value"] == action_id
    assert counters.value("w") == 0

    click(gbot, ActionId.APPROVE, action_id, user="U0ALICE", key="self")
    assert "cannot approve it yourself" in block_text(answer(gbot, "self")["blocks"])
    click(gbot, ActionId.APPROVE, action_id, user="U0EVE", key="eve")
    assert "needs the approver role (access.approvers)" in block_text(answer(gbot, "eve")["blocks"])
    assert counters.value("w") == 0

    click(gbot, ActionId.APPROVE, action_id, user="U0LEAD", key="lead", ts="2.2")
    done = answer(gbot, "lead")
    assert done["replace_original"] is True
    assert "approved by <@U0LEAD>" in block_text(done["blocks"]).replace("Approved", "approved")
    assert counters.value("w") == 9
    # The preview further up shows the outcome too.
    update = gbot.slack.wait_for(
        # (wait_for holds the fake's lock: read `calls` directly, never calls_to, in the predicate)
        lambda: next(
            (c for c in gbot.slack.calls if c.method == "chat.update" and c.args["ts"] == preview_ts_), None
        )
    )
    assert "ran" in block_text(blocks_of(update.args))


def test_reject_round_trip(gbot: RunningBot, counters: Counters) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('x')} --instance prod-cache"))
    click(gbot, ActionId.CONFIRM, action_id, key="confirm")
    gbot.slack.wait_calls("chat.postMessage", 2)
    click(gbot, ActionId.REJECT, action_id, user="U0BOB", key="reject")
    rejected = answer(gbot, "reject")
    assert rejected["replace_original"] is True
    assert "Rejected by <@U0BOB>" in block_text(rejected["blocks"])
    assert counters.value("x") == 0


def test_operators_from_a_user_group_resolved_once_and_cached(
    fake_slack: FakeSlack, tmp_path: Path, clock: Clock, counters: Counters
) -> None:
    fake_slack.usergroups["S0SRE"] = ["U0CAROL"]
    bot = start_guard_bot(fake_slack, tmp_path, clock)
    try:
        request(bot, f"incr {counters.key('y')}", user="U0CAROL")
        request(bot, f"incr {counters.key('y')}", user="U0CAROL")
        assert len(fake_slack.calls_to("usergroups.users.list")) == 1
        assert fake_slack.calls_to("usergroups.users.list")[0].args["usergroup"] == "S0SRE"
    finally:
        stop_guard_bot(bot)


def test_where_the_bot_may_not_post_the_preview_comes_through_response_url(
    gbot: RunningBot, counters: Counters
) -> None:
    gbot.client.command("/gt", f"incr {counters.key('z')}", channel="C0PRIVATE")
    [preview] = gbot.slack.wait_responses(1)
    assert preview["response_type"] == "in_channel"
    action_id = buttons(preview["blocks"])[ActionId.CONFIRM.value]["value"]
    click(gbot, ActionId.CONFIRM, action_id, key="ok")
    assert "ran" in block_text(answer(gbot, "ok")["blocks"])
    assert counters.value("z") == 1


def test_audit_command_shows_the_guarded_steps(gbot: RunningBot, counters: Counters) -> None:
    action_id = action_id_of(request(gbot, f"incr {counters.key('aud')}"))
    click(gbot, ActionId.CONFIRM, action_id, key="c")
    answer(gbot, "c")
    gbot.client.command("/chatops", "audit --handler gt.* --user <@U0ALICE|alice> --since 1h")
    listing = gbot.slack.wait_for(
        lambda: next(
            (r for r in gbot.slack.responses if "Audit log" in block_text(r.get("blocks", []))), None
        )
    )
    text = block_text(listing["blocks"])
    for event in ("preview", "confirm", "execute"):
        assert event in text
    assert "C00000001" in text  # the channel is part of every entry


def test_twenty_signed_clicks_on_two_replicas_run_it_once(
    fake_slack: FakeSlack, tmp_path: Path, clock: Clock, counters: Counters, store: Store
) -> None:
    one = start_guard_bot(fake_slack, tmp_path, clock, database_url=store.url)
    two = start_guard_bot(fake_slack, tmp_path, clock, database_url=store.url)
    try:
        action_id = action_id_of(request(one, f"incr {counters.key('many')} 3"))
        start = threading.Barrier(20)

        def hit(i: int) -> None:
            start.wait()
            click(one if i % 2 else two, ActionId.CONFIRM, action_id, key=f"k{i}")

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        replies = fake_slack.wait_responses(20, timeout=30)
        replaced = [r for r in replies if r.get("replace_original")]
        assert len(replaced) == 1
        assert "ran" in block_text(replaced[0]["blocks"])
        assert all("Already" in block_text(r["blocks"]) for r in replies if not r.get("replace_original"))
        assert counters.value("many") == 3
    finally:
        stop_guard_bot(one)
        stop_guard_bot(two)


def test_a_restart_between_request_and_click_still_confirms(
    fake_slack: FakeSlack, tmp_path: Path, clock: Clock, counters: Counters
) -> None:
    before = start_guard_bot(fake_slack, tmp_path, clock)
    action_id = action_id_of(request(before, f"incr {counters.key('rs')} 6"))
    stop_guard_bot(before)
    after = start_guard_bot(fake_slack, tmp_path, clock, config=guard_config())
    try:
        click(after, ActionId.CONFIRM, action_id, key="after")
        assert "ran" in block_text(answer(after, "after")["blocks"])
        assert counters.value("rs") == 6
    finally:
        stop_guard_bot(after)
