"""A click is accepted once: 20 simultaneous confirmations, two replicas, and a restart in between."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence

from bot.guard import ActionResult, ActionResultKind, Status
from bot.store import Store
from bot.store.audit import latest
from tests.guard.conftest import Clock, Counters, ask_ok, close_runtime, make_runtime, stored

# A button handler as the listeners call it: (action_id, user_id) -> what happened.
Click = Callable[[str, str], ActionResult]

CLICKS = 20


def _click_all_at_once(fns: Sequence[Click], action_id: str, user: str) -> list[ActionResult]:
    start = threading.Barrier(len(fns))
    results: list[ActionResult] = []
    lock = threading.Lock()

    def click(fn: Click) -> None:
        start.wait()
        res = fn(action_id, user)
        with lock:
            results.append(res)

    threads = [threading.Thread(target=click, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_twenty_confirm_clicks_on_two_replicas_run_it_once(
    store: Store, clock: Clock, counters: Counters
) -> None:
    one, two = make_runtime(store.url, clock), make_runtime(store.url, clock)
    try:
        asked = ask_ok(one, "U0ALICE", f"incr {counters.key('race')} 7")
        fns = [(one if i % 2 else two).guard.confirm for i in range(CLICKS)]

        results = _click_all_at_once(fns, asked.action_id, "U0ALICE")

        kinds = Counter(r.kind for r in results)
        assert kinds == {ActionResultKind.EXECUTED: 1, ActionResultKind.ALREADY: CLICKS - 1}, kinds
        assert counters.value("race") == 7  # ran exactly once
        assert stored(one, asked.action_id).status is Status.EXECUTED
        audit = latest(store.engine, handler_glob="gt.incr", limit=100)
        assert [e.outcome for e in audit if e.event == "execute"] == ["ok"]
        assert len([e for e in audit if e.event == "confirm"]) == 1
    finally:
        close_runtime(one)
        close_runtime(two)


def test_twenty_approve_clicks_by_two_approvers_run_it_once(
    store: Store, clock: Clock, counters: Counters
) -> None:
    rt = make_runtime(store.url, clock)
    try:
        asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('appr')} --instance prod-cache")
        assert rt.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.AWAITING_APPROVAL
        start = threading.Barrier(CLICKS)
        results: list[ActionResult] = []

        def click(user: str) -> None:
            start.wait()
            results.append(rt.guard.approve(asked.action_id, user))

        threads = [
            threading.Thread(target=click, args=("U0LEAD" if i % 2 else "U0BOB",)) for i in range(CLICKS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        assert Counter(r.kind for r in results) == {
            ActionResultKind.EXECUTED: 1,
            ActionResultKind.ALREADY: CLICKS - 1,
        }
        assert counters.value("appr") == 1
    finally:
        close_runtime(rt)


def test_confirm_and_cancel_racing_do_one_or_the_other(
    store: Store, clock: Clock, counters: Counters
) -> None:
    rt = make_runtime(store.url, clock)
    try:
        asked = ask_ok(rt, "U0ALICE", f"incr {counters.key('mix')}")
        fns = [rt.guard.confirm if i % 2 else rt.guard.cancel for i in range(CLICKS)]
        results = _click_all_at_once(fns, asked.action_id, "U0ALICE")
        winners = [r for r in results if r.kind is not ActionResultKind.ALREADY]
        assert len(winners) == 1
        ran = winners[0].kind is ActionResultKind.EXECUTED
        assert counters.value("mix") == (1 if ran else 0)
        assert stored(rt, asked.action_id).status is (Status.EXECUTED if ran else Status.CANCELLED)
    finally:
        close_runtime(rt)


def test_a_restart_between_request_and_confirmation_loses_nothing(
    store: Store, clock: Clock, counters: Counters
) -> None:
    before = make_runtime(store.url, clock)
    asked = ask_ok(before, "U0ALICE", f"incr {counters.key('restart')} 4 --instance prod-cache")
    close_runtime(before)  # the process goes away with the action still pending

    after = make_runtime(store.url, clock)
    try:
        assert after.guard.confirm(asked.action_id, "U0ALICE").kind is ActionResultKind.AWAITING_APPROVAL
        close_runtime(after)
        after = make_runtime(store.url, clock)  # and once more before the approval
        res = after.guard.approve(asked.action_id, "U0LEAD")
        assert res.kind is ActionResultKind.EXECUTED
        assert counters.value("restart") == 4
    finally:
        close_runtime(after)
