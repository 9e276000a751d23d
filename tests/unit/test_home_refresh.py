"""HomeRefresher: a change requests a publish; requests fold; at most one publish per interval."""

from __future__ import annotations

from collections.abc import Callable

from bot.slack.home_refresh import HomeRefresher


class Timers:
    """The refresher's clock and timers, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.now

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        self.due.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        """Move the clock on, running each timer at the moment it is due."""
        target = self.now + seconds
        while True:
            ready = sorted((d for d in self.due if d[0] <= target), key=lambda d: d[0])
            if not ready:
                break
            at, fn = ready[0]
            self.due.remove(ready[0])
            self.now = max(self.now, at)
            fn()
        self.now = target


def make(changes: dict[str, int]) -> tuple[HomeRefresher, Timers, list[tuple[float, str]]]:
    timers = Timers()
    sent: list[tuple[float, str]] = []

    def publish(user: str) -> bool:
        # "changed" counts what differs since the last publish, as the view's fingerprint does.
        if changes.get(user, 1) <= 0:
            return False
        changes[user] = 0
        sent.append((timers.now, user))
        return True

    refresher = HomeRefresher(
        publish, min_interval=3.0, settle=0.3, monotonic=timers.monotonic, schedule=timers.schedule
    )
    return refresher, timers, sent


def test_opening_publishes_at_once_and_a_burst_of_changes_folds_into_one_publish() -> None:
    changes: dict[str, int] = {}
    refresher, timers, sent = make(changes)
    refresher.opened("U1")
    timers.advance(0)
    assert sent == [(100.0, "U1")]

    for _ in range(12):  # a declaration writes the incident row a dozen times
        changes["U1"] = 1
        refresher.changed()
        timers.advance(0.1)
    assert len(timers.due) == 1  # one publish scheduled for all of them
    timers.advance(3.0)
    assert [(round(t, 6), u) for t, u in sent] == [
        (100.0, "U1"),
        (103.0, "U1"),
    ]  # not before the interval since the last one
    assert timers.due == []  # nothing runs while nothing changes


def test_a_change_after_a_quiet_spell_is_published_after_settling() -> None:
    changes: dict[str, int] = {}
    refresher, timers, sent = make(changes)
    refresher.opened("U1")
    timers.advance(10)
    changes["U1"] = 1
    refresher.changed(["U1"])
    timers.advance(0.2)
    assert len(sent) == 1
    timers.advance(0.1)
    assert (round(sent[-1][0], 6), sent[-1][1]) == (110.3, "U1")


def test_unchanged_views_are_not_published_and_do_not_hold_back_the_next_change() -> None:
    changes: dict[str, int] = {}
    refresher, timers, sent = make(changes)
    refresher.opened("U1")
    timers.advance(5)
    refresher.changed()  # nothing this user sees changed
    timers.advance(0.3)
    assert len(sent) == 1
    changes["U1"] = 1
    refresher.changed()
    timers.advance(0.3)
    assert len(sent) == 2  # the skipped publish did not restart the interval


def test_only_users_who_opened_their_home_are_refreshed_and_the_oldest_are_forgotten() -> None:
    refresher, timers, sent = make({})
    refresher.max_users = 2
    refresher.changed(["U9"])
    timers.advance(1)
    assert sent == []
    for user in ("U1", "U2", "U3"):
        refresher.opened(user)
    assert refresher.users == ["U2", "U3"]


def test_one_failing_publish_does_not_stop_the_others() -> None:
    timers = Timers()
    sent: list[str] = []

    def publish(user: str) -> bool:
        if user == "U1":
            raise RuntimeError("boom")
        sent.append(user)
        return True

    refresher = HomeRefresher(publish, monotonic=timers.monotonic, schedule=timers.schedule)
    refresher.opened("U1")
    refresher.opened("U2")
    timers.advance(0)
    assert sent == ["U2"]
    refresher.changed(["U1"])  # the failed one is retried on the next change, without waiting
    timers.advance(refresher.settle)
    assert timers.due == []
