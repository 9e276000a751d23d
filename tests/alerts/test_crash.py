"""A replica SIGKILLed mid-storm loses nothing it accepted: what it answered 200 to is stored,
and the other replica's sweep finishes the Slack work it left behind."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.alerts import store as astore
from bot.alerts.tables import alert_occurrences
from bot.store import utcnow
from tests.alerts.conftest import count_occurrences, pipeline_of
from tests.alerts.payloads import T0, alert, config, group, post
from tests.alerts.served import serve
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack

GROUPS = 40
PER_GROUP = 10


def _body(g: int) -> dict[str, Any]:
    return group(
        [
            alert(
                f"Storm{g}",
                labels={"instance": f"h{i}:80", "severity": "warning"},
                starts=T0 + timedelta(seconds=i),
            )
            for i in range(PER_GROUP)
        ]
    )


def test_sigkill_mid_storm_loses_nothing_accepted(
    make_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.latency = 0.02  # Slack at 20 ms a call, so the kill lands while work is pending
    cfg = config()
    a = serve(fake_slack, tmp_path / "a", cfg, database_url=pg_url)
    accepted: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def send(g: int) -> None:
        body = _body(g)
        try:
            r = post(a.url, body)
        except httpx.TransportError:
            return  # the replica died before answering: Alertmanager would retry elsewhere
        if r.status_code == 200:
            with lock:
                accepted[g] = body
                if len(accepted) == GROUPS // 2 and not killed.is_set():
                    killed.set()
                    a.proc.send_signal(signal.SIGKILL)

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(send, range(GROUPS)))
        assert killed.is_set()
        assert a.proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        a.stop()
    assert GROUPS // 2 <= len(accepted) < GROUPS
    # Everything answered 200 is in the store.
    b = make_bot(
        cfg, database_url=pg_url, clock=lambda: utcnow() + timedelta(minutes=5)
    )  # A's leases are stale
    engine = b.runtime.store.engine
    with engine.connect() as conn:
        stored = {(r.fingerprint, r.starts_at.isoformat()) for r in conn.execute(select(alert_occurrences))}
    want = {
        (x["fingerprint"], x["startsAt"].replace("Z", "+00:00"))
        for body in accepted.values()
        for x in body["alerts"]
    }
    assert want <= stored
    assert count_occurrences(engine) >= len(accepted) * PER_GROUP
    # The survivor finishes what A left: every accepted group ends up in Slack, showing all its alerts.
    left = astore.due_groups(engine, b.runtime.clock())
    assert left, "the kill should land while A still had Slack work queued"
    pipe = pipeline_of(b)
    pipe.sweep(b.runtime.clock())
    assert pipe.wait_idle(60)
    assert astore.due_groups(engine, b.runtime.clock()) == []
    ops = fake_slack.channel_named("ops")
    assert ops is not None
    shown = [m.get("text", "") for m in fake_slack.messages.get(ops.id, [])]
    shown += [c.args.get("text", "") for c in fake_slack.calls_to("chat.update")]
    for g in accepted:
        assert any(t.startswith(f"FIRING ({PER_GROUP}) Storm{g} ") for t in shown), (
            f"Storm{g} never reached Slack"
        )
