"""The audit spool: what waits on disk while the state store is down is written, in order, once
it is back: on the scheduler tick and when a bot starts (a restart loses nothing)."""

from __future__ import annotations

from bot.executor import Done
from bot.store import Store
from bot.store.audit import latest
from tests.guard.conftest import Clock, Counters, ask, close_runtime, make_runtime
from tests.trust.storekit import StoreSwitch


def test_rows_spooled_while_down_are_written_by_the_next_bot_to_start(
    pg_store_url: str, clock: Clock, counters: Counters
) -> None:
    Store(pg_store_url).upgrade()
    switch = StoreSwitch(pg_store_url)
    first = make_runtime(pg_store_url, clock)
    spool = first.actions.spool
    try:
        switch.down()
        for n in range(3):
            outcome = ask(first, "U0GUEST", f"peek {counters.key(f'p{n}')}")
            assert isinstance(outcome, Done)  # answered although the store is down
            assert outcome.audit_delayed
        assert spool.pending() == 3
        first.actions.drain_spool()  # a tick while still down keeps everything
        assert spool.pending() == 3
    finally:
        switch.up()
        close_runtime(first)
    # The process died; a new one starts with the same spool and writes it at once.
    second = make_runtime(pg_store_url, clock)
    try:
        assert second.actions.spool.path == spool.path
        assert spool.pending() == 0
        rows = latest(second.store.engine, handler_glob="gt.peek")
        assert [r.command for r in reversed(rows)] == [f"/gt peek {counters.key(f'p{n}')}" for n in range(3)]
        assert all(r.outcome == "ok" and r.user_id == "U0GUEST" for r in rows)
    finally:
        close_runtime(second)


def test_a_torn_last_line_is_skipped_and_the_rest_written(
    pg_store_url: str, clock: Clock, counters: Counters
) -> None:
    Store(pg_store_url).upgrade()
    switch = StoreSwitch(pg_store_url)
    rt = make_runtime(pg_store_url, clock)
    try:
        switch.down()
        ask(rt, "U0GUEST", f"peek {counters.key('t')}")
        with open(rt.actions.spool.path, "a", encoding="utf-8") as f:
            f.write('{"kind": "audit", "data": {"req')  # the process died mid-write
        switch.up()
        rt.actions.drain_spool()
        assert rt.actions.spool.pending() == 0
        assert [r.command for r in latest(rt.store.engine, handler_glob="gt.peek")] == [
            f"/gt peek {counters.key('t')}"
        ]
    finally:
        switch.up()
        close_runtime(rt)
