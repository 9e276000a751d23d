"""The Guard on both stores: confirm, cancel, approve, reject, expiry, refusals, audit, timeline.

These drive the runtime the way the console does (no Slack): `/gt incr KEY N` asks for a
change to a real Redis counter, and the counter shows whether anything ran.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select, update

from bot import metrics
from bot.executor import Refused
from bot.guard import ActionResult, ActionResultKind, Status
from bot.runtime import Runtime
from bot.store import Store
from bot.store.audit import latest
from bot.store.tables import incident_events, incidents, pending_actions
from handlers.results import KeyValues
from tests.guard.conftest import (
    Clock,
    Counters,
    ask,
    ask_ok,
    close_runtime,
    guard_config,
    make_runtime,
    stored,
)


@pytest.fixture
def rt(store: Store, clock: Clock) -> Iterator[Runtime]:
    runtime = make_runtime(store.url, clock)
    yield runtime
    close_runtime(runtime)


def events(rt: Runtime, handler: str = "gt.*") -> list[tuple[str, str, str]]:
    """(event, outcome, user) of the audit log, oldest first."""
    return [(e.event, e.outcome, e.user_id) for e in reversed(latest(rt.store.engine, handler_glob=handler))]


def test_confirm_by_the_requester_runs_it_once(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('a')} 2")
    assert asked.preview.summary == f"counter {counters.key('a')}: 0 → 2"
    assert not asked.needs_approval
    assert counters.value("a") == 0  # the preview changed nothing
    assert stored(rt, asked.action_id).status is Status.PENDING

    res = rt.guard.confirm(asked.action_id, "U0ALICE")

    assert res.kind is ActionResultKind.EXECUTED
    assert res.ok
    assert res.final
    assert counters.value("a") == 2
    assert isinstance(res.result, KeyValues)
    assert res.result.values["value"] == 2
    assert "ran" in res.text
    assert "redis stage" in res.text
    row = stored(rt, asked.action_id)
    assert row.status is Status.EXECUTED
    assert row.confirmed_by == "U0ALICE"
    assert row.result
    assert "value" in row.result
    assert events(rt) == [
        ("preview", "pending", "U0ALICE"),
        ("confirm", "ok", "U0ALICE"),
        ("execute", "ok", "U0ALICE"),
    ]

    again = rt.guard.confirm(asked.action_id, "U0ALICE")  # a double click
    assert again.kind is ActionResultKind.ALREADY
    assert "Already done" in again.message
    assert counters.value("a") == 2
    assert events(rt)[-1] == ("refuse", "refused", "U0ALICE")


def test_only_the_requester_can_confirm(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('b')}")
    res = rt.guard.confirm(asked.action_id, "U0BOB")  # an operator and approver, but not the requester
    assert res.kind is ActionResultKind.REFUSED
    assert not res.ok
    assert "Only <@U0ALICE>, who asked for it, can confirm `gt.incr` on redis stage" in res.message
    assert counters.value("b") == 0
    assert stored(rt, asked.action_id).status is Status.PENDING
    assert events(rt)[-1] == ("refuse", "refused", "U0BOB")
    assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.EXECUTED
    assert counters.value("b") == 1


def test_someone_without_the_operator_role_is_refused_naming_role_handler_and_target(
    rt: Runtime, counters: Counters
) -> None:
    outcome = ask(rt, "U0EVE", f"incr {counters.key('c')} --instance prod-cache")
    assert isinstance(outcome, Refused)
    assert outcome.message == (
        "gt.incr on redis prod-cache changes things and needs the operator role (access.operators); "
        "you have: everyone"
    )
    assert rt.guard.open_actions() == []
    assert events(rt) == [("refuse", "refused", "U0EVE")]
    # Read-only handlers stay open to everyone.
    assert type(ask(rt, "U0EVE", f"peek {counters.key('c')}")).__name__ == "Done"


def test_unknown_ids_say_so_and_run_nothing(rt: Runtime) -> None:
    for bogus in ("nope", secrets.token_urlsafe(24), "'; DROP TABLE pending_actions; --"):
        res = rt.guard.confirm(bogus, "U0ALICE")
        assert res.kind is ActionResultKind.UNKNOWN
        assert res.action is None
        assert "unknown" in res.message
        assert "Nothing was run" in res.message
    assert rt.guard.approve(secrets.token_urlsafe(24), "U0LEAD").kind is ActionResultKind.UNKNOWN
    assert [e.event for e in latest(rt.store.engine)] == ["refuse"] * 4


def test_an_expired_action_says_so_and_runs_nothing(rt: Runtime, clock: Clock, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('d')}")
    clock.advance(minutes=10, seconds=1)
    res = rt.guard.confirm(asked.action_id, "U0ALICE")
    assert res.kind is ActionResultKind.EXPIRED
    assert res.final
    assert not res.ok
    assert "expired" in res.message
    assert "not confirmed within 10 minutes" in res.message
    assert "Nothing was run" in res.message
    assert counters.value("d") == 0
    assert stored(rt, asked.action_id).status is Status.EXPIRED
    assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.EXPIRED  # and stays expired
    assert counters.value("d") == 0
    assert ("expire", "refused", "U0ALICE") in events(rt)


def test_a_cancelled_action_cannot_be_confirmed(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('e')}")
    refused = rt.guard.cancel(asked.action_id, "U0EVE")
    assert refused.kind is ActionResultKind.REFUSED
    assert "can cancel" in refused.message

    res = rt.guard.cancel(asked.action_id, "U0ALICE")
    assert res.kind is ActionResultKind.CANCELLED
    assert res.ok
    assert res.final
    assert "Cancelled by <@U0ALICE>" in res.message
    assert "Nothing was run" in res.message

    late = rt.guard.confirm(asked.action_id, "U0ALICE")
    assert late.kind is ActionResultKind.ALREADY
    assert "cancelled by <@U0ALICE>" in late.message
    assert counters.value("e") == 0
    assert ("cancel", "ok", "U0ALICE") in events(rt)


def test_two_person_approval(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('f')} 5 --instance prod-cache")
    assert asked.needs_approval

    not_yet = rt.guard.approve(asked.action_id, "U0LEAD")
    assert not_yet.kind is ActionResultKind.REFUSED
    assert "has not confirmed" in not_yet.message

    waiting = rt.guard.confirm(asked.action_id, "U0ALICE")
    assert waiting.kind is ActionResultKind.AWAITING_APPROVAL
    assert waiting.ok
    assert not waiting.final
    assert "<@U0LEAD>" in waiting.message
    assert "<@U0BOB>" in waiting.message
    assert counters.value("f") == 0
    assert stored(rt, asked.action_id).status is Status.AWAITING_APPROVAL

    own = rt.guard.approve(asked.action_id, "U0ALICE")
    assert own.kind is ActionResultKind.REFUSED
    assert "You asked for `gt.incr` on redis prod-cache, so you cannot approve it yourself" in own.message

    outsider = rt.guard.approve(asked.action_id, "U0EVE")
    assert outsider.kind is ActionResultKind.REFUSED
    assert outsider.message == (
        "Approving gt.incr on redis prod-cache needs the approver role (access.approvers); you have: everyone"
    )
    assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.ALREADY
    assert counters.value("f") == 0

    done = rt.guard.approve(asked.action_id, "U0LEAD")
    assert done.kind is ActionResultKind.EXECUTED
    assert counters.value("f") == 5
    assert "approved by <@U0LEAD>" in done.message
    row = stored(rt, asked.action_id)
    assert (row.status, row.confirmed_by, row.approved_by) == (Status.EXECUTED, "U0ALICE", "U0LEAD")
    assert ("approve", "ok", "U0LEAD") in events(rt)
    assert rt.guard.approve(asked.action_id, "U0BOB").kind is ActionResultKind.ALREADY
    assert counters.value("f") == 5


def test_rejection_runs_nothing(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('g')} --instance prod-cache")
    rt.guard.confirm(asked.action_id, "U0ALICE")
    res = rt.guard.reject(asked.action_id, "U0BOB")
    assert res.kind is ActionResultKind.REJECTED
    assert res.final
    assert "Rejected by <@U0BOB>" in res.message
    assert rt.guard.approve(asked.action_id, "U0LEAD").kind is ActionResultKind.ALREADY
    assert counters.value("g") == 0
    assert ("reject", "ok", "U0BOB") in events(rt)


def test_the_requester_rejecting_withdraws(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('h')} --instance prod-cache")
    rt.guard.confirm(asked.action_id, "U0ALICE")
    res = rt.guard.reject(asked.action_id, "U0ALICE")
    assert res.kind is ActionResultKind.CANCELLED
    assert counters.value("h") == 0


def test_the_approver_gets_a_window_of_their_own_and_it_expires(
    rt: Runtime, clock: Clock, counters: Counters
) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('i')} --instance prod-cache")
    clock.advance(minutes=9)
    rt.guard.confirm(asked.action_id, "U0ALICE")
    clock.advance(minutes=9)  # 18 minutes after the request, 9 after the confirmation: still open
    assert stored(rt, asked.action_id).status is Status.AWAITING_APPROVAL
    clock.advance(minutes=2)
    res = rt.guard.approve(asked.action_id, "U0LEAD")
    assert res.kind is ActionResultKind.EXPIRED
    assert "not approved within 10 minutes" in res.message
    assert counters.value("i") == 0


def test_a_failing_handler_is_reported_with_target_and_cause(rt: Runtime, counters: Counters) -> None:
    asked = ask_ok(rt, "U0ALICE", f"jam {counters.key('j')}")
    res = rt.guard.confirm(asked.action_id, "U0ALICE")
    assert res.kind is ActionResultKind.FAILED
    assert not res.ok
    assert res.final
    assert f"redis stage: counter {counters.key('j')} is locked by another job" in res.error
    assert counters.attempts("j") == 1
    row = stored(rt, asked.action_id)
    assert row.status is Status.FAILED
    assert "locked" in (row.result or "")
    assert events(rt)[-1] == ("execute", "error", "U0ALICE")
    assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.ALREADY
    assert counters.attempts("j") == 1


def test_per_person_rate_limit_holds_across_replicas(store: Store, clock: Clock, counters: Counters) -> None:
    cfg = guard_config(per_minute=3)
    one, two = make_runtime(store.url, clock, cfg), make_runtime(store.url, clock, cfg)
    try:
        ask_ok(one, "U0ALICE", f"incr {counters.key('k')}")
        ask_ok(two, "U0ALICE", f"incr {counters.key('k')}")
        ask_ok(one, "U0ALICE", f"incr {counters.key('k')}")
        limited = ask(two, "U0ALICE", f"incr {counters.key('k')}")
        assert isinstance(limited, Refused)
        assert "the limit is 3 a minute per person (access.destructive_per_minute)" in limited.message
        ask_ok(two, "U0BOB", f"incr {counters.key('k')}")  # a limit per person
        clock.advance(seconds=61)
        ask_ok(two, "U0ALICE", f"incr {counters.key('k')}")
        assert len(one.guard.open_actions(requester="U0ALICE")) == 4
    finally:
        close_runtime(one)
        close_runtime(two)


def test_sweep_expires_what_nobody_confirmed_and_keeps_the_gauge(
    rt: Runtime, clock: Clock, counters: Counters
) -> None:
    first = ask_ok(rt, "U0ALICE", f"incr {counters.key('l')}")
    clock.advance(minutes=5)
    second = ask_ok(rt, "U0BOB", f"incr {counters.key('l')}")
    assert metrics.PENDING_ACTIONS._value.get() == 2
    clock.advance(minutes=6)
    expired: list[ActionResult] = rt.guard.expire_due(clock())
    assert [r.action.id for r in expired if r.action] == [first.action_id]
    assert expired[0].kind is ActionResultKind.EXPIRED
    assert stored(rt, first.action_id).status is Status.EXPIRED
    assert stored(rt, second.action_id).status is Status.PENDING
    assert metrics.PENDING_ACTIONS._value.get() == 1
    assert rt.guard.expire_due(clock()) == []  # once only


def test_an_action_cut_off_by_a_restart_is_marked_failed_never_rerun(
    rt: Runtime, clock: Clock, counters: Counters
) -> None:
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('m')}")
    # The state a process leaves behind when it dies between claiming the action and finishing.
    with rt.store.engine.begin() as conn:
        conn.execute(
            update(pending_actions)
            .where(pending_actions.c.id == asked.action_id)
            .values(status="confirmed", confirmed_by="U0ALICE", confirmed_at=clock())
        )
    clock.advance(minutes=2)
    rt.guard.expire_due(clock())
    row = stored(rt, asked.action_id)
    assert row.status is Status.FAILED
    assert "outcome is unknown" in (row.result or "")
    assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.ALREADY
    assert counters.value("m") == 0


def test_a_confirmed_action_in_an_incident_channel_goes_on_its_timeline(
    rt: Runtime, clock: Clock, counters: Counters
) -> None:
    with rt.store.engine.begin() as conn:
        incident_id = conn.execute(
            insert(incidents)
            .values(
                title="checkout errors",
                severity="P1",
                status="open",
                declared_by="U0ALICE",
                declared_at=clock(),
                channel_id="C0INCIDENT",
            )
            .returning(incidents.c.id)
        ).scalar_one()
    asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('n')} 3", channel="C0INCIDENT")
    rt.guard.confirm(asked.action_id, "U0ALICE")
    with rt.store.engine.connect() as conn:
        rows = conn.execute(
            select(incident_events.c.kind, incident_events.c.author, incident_events.c.text).where(
                incident_events.c.incident_id == incident_id
            )
        ).all()
    assert len(rows) == 1
    kind, author, text = rows[0]
    assert (kind, author) == ("action", "U0ALICE")
    assert f"gt.incr on redis stage (counter {counters.key('n')}: 0 → 3) ran" in text
    assert stored(rt, asked.action_id).incident_id == incident_id


def test_a_handler_removed_before_confirmation_fails_cleanly(
    store: Store, clock: Clock, counters: Counters
) -> None:
    from handlers import Registry

    first = make_runtime(store.url, clock)
    asked = ask_ok(first, "U0ALICE", f"incr {counters.key('o')}")
    close_runtime(first)
    second = make_runtime(store.url, clock, registry=Registry())  # the next version dropped gt.*
    try:
        res = second.guard.confirm(asked.action_id, "U0ALICE")
        assert res.kind is ActionResultKind.FAILED
        assert "no longer available" in res.message
        assert counters.value("o") == 0
    finally:
        close_runtime(second)
