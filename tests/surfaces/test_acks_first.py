"""Answers let acks in flight go first (bot.acks), and never wait longer than max_defer."""

from __future__ import annotations

import threading
import time

from bot.acks import AcksInFlight
from tests.conftest import RunningBot
from tests.support import command_body, sign


def test_an_answer_waits_for_an_ack_being_written_then_goes(bot: RunningBot) -> None:
    acks = bot.runtime.acks
    acks.max_defer = 30.0
    acks.enter()  # another request's ack, not yet written
    try:
        r = bot.client.command("/chatops", "whoami", user="U0WAIT")
        assert r.status_code == 200  # this command's own ack is not held back
        time.sleep(0.5)
        assert bot.slack.responses == []  # its answer lets the other ack go first
    finally:
        acks.leave()
    answers = bot.slack.wait_responses(1, timeout=5)
    assert "U0WAIT" in answers[0]["text"]


def test_an_ack_that_never_ends_holds_answers_back_only_max_defer(bot: RunningBot) -> None:
    acks = bot.runtime.acks
    acks.max_defer = 0.5
    acks.enter()  # an ack whose end is never seen
    try:
        started = time.monotonic()
        body = command_body("/chatops", "whoami", user="U0LOST", response_url=bot.slack.response_url())
        assert bot.client.post(body, headers=sign(body)).status_code == 200
        answers = bot.slack.wait_responses(1, timeout=10)
        assert "U0LOST" in answers[0]["text"]
        assert time.monotonic() - started >= 0.5
    finally:
        acks.leave()


def _quiet_within(acks: AcksInFlight, seconds: float) -> bool:
    """Whether wait_quiet returns within `seconds` (max_defer set far above it)."""
    acks.max_defer = 60.0
    done = threading.Event()

    def waiter() -> None:
        acks.wait_quiet()
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    return done.wait(seconds)


def test_no_ack_is_left_counted_after_the_requests(bot: RunningBot) -> None:
    for i in range(5):
        assert bot.client.command("/chatops", "help", user=f"U0C{i}").status_code == 200
        assert bot.client.command("/chatops", "whoami", user=f"U0C{i}").status_code == 200
    bot.slack.wait_responses(5)
    assert _quiet_within(bot.runtime.acks, 5)  # a leaked count would hold answers back


def test_a_body_dropped_without_close_still_ends_its_ack() -> None:
    # cheroot skips close() when it cannot send an empty body's headers (client gone).
    acks = AcksInFlight()
    body = acks.owing(lambda: [b""])
    assert not _quiet_within(acks, 0.3)
    del body
    assert _quiet_within(acks, 5)


def test_group_work_waits_for_a_lull_in_a_storm_but_not_forever() -> None:
    # bot.alerts.pipeline waits with `settle`: while posts keep coming, it waits for a gap.
    acks = AcksInFlight(max_defer=5.0)
    acks.enter()
    acks.leave()
    started = time.monotonic()
    acks.wait_quiet(settle=0.3)
    assert 0.25 <= time.monotonic() - started < 4  # the lull, not max_defer, ended the wait
    acks = AcksInFlight(max_defer=1.0)
    stop = threading.Event()

    def storm() -> None:
        while not stop.is_set():
            acks.enter()
            time.sleep(0.01)
            acks.leave()

    threading.Thread(target=storm, daemon=True).start()
    try:
        started = time.monotonic()
        acks.wait_quiet(settle=0.3)  # the storm never pauses for 0.3 s: max_defer ends the wait
        assert 0.9 <= time.monotonic() - started < 4
    finally:
        stop.set()
