"""The ack of a slash command never waits on another command's answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.slack.listeners.commands import ANSWER_WORKERS
from tests.incidents.conftest import Harness

# More than Bolt's listener executor has threads (bot/app.py: 32).
BUSY = 40


def test_acks_come_back_while_earlier_answers_are_stuck_on_slack(surfaces: Harness) -> None:
    h = surfaces
    # Every `/incident declare` without a title answers by opening a form: views.open, held here.
    gate = h.slack.hold("views.open")
    try:
        with ThreadPoolExecutor(BUSY) as pool:
            stuck = list(
                pool.map(
                    lambda i: h.bot.client.command("/incident", "declare", user=f"U0S{i:04d}"), range(BUSY)
                )
            )
        assert [r.status_code for r in stuck] == [200] * BUSY
        h.slack.wait_calls("views.open", ANSWER_WORKERS)  # every answer worker is stuck on Slack
        # A new command is still acknowledged at once, and one answered in its ack (help)
        # gets its answer.
        r = h.bot.client.command("/chatops", "help", user="U0LATE")
        assert r.status_code == 200
        assert "/chatops" in r.json()["text"]
        r = h.bot.client.command("/chatops", "whoami", user="U0LATE")
        assert r.status_code == 200
    finally:
        gate.set()
    # Once Slack answers again, so do the answers that waited.
    h.slack.wait_for(lambda: any("U0LATE" in str(x.get("text")) for x in list(h.slack.responses)))
    h.slack.wait_calls("views.open", BUSY)
