"""/runbook through the real HTTP endpoint: the live progress message, thread outputs, buttons."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import insert, select

from bot.slack.ids import ActionId
from bot.store import utcnow
from bot.store.audit import latest
from bot.store.tables import incident_events, incidents
from tests.conftest import REDIS_URL, RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.runbooks.fakehttp import SlowHealth

CHECK = """
name: web-check
title: Web check
description: Checks the API's database, cache and health endpoints.
source: [{file: 000_49c97668c4c58451.txt, section: High Response Time}]
params:
  service: {type: service, default: api}
  pid: {type: int, default: null}
diagnostics:
  - {id: ping, title: Database answers, handler: db.ping, args: {service: "{{service}}"}}
  - {id: conns, title: Connections, handler: db.connections, args: {service: "{{service}}"}}
  - {id: redis, title: Redis, handler: redis.ping, args: {service: "{{service}}"}}
  - {id: health, title: Health endpoints, handler: health.check, args: {service: "{{service}}"}}
  - {id: broken, title: Broken endpoint, handler: health.check, args: {urls: ["BROKEN/health"]}}
  - {id: look, kind: manual, title: Look around, text: "Check the dashboards for {{service}}."}
checks:
  - {step: conns, value: used_pct, warn: "> 80", crit: "> 95"}
resolution:
  - {id: activity, title: Show sessions, handler: db.activity, args: {service: "{{service}}"}}
  - id: cancel
    title: "Cancel query {{pid}}"
    handler: db.cancel
    args: {service: "{{service}}", pid: "{{pid}}"}
  - {id: notes, kind: checklist, title: Afterwards, items: [Write it down]}
"""


def config(pg_url: str, ok_url: str, runbooks: Path) -> str:
    return f"""
runbooks_dir: "{runbooks}"
databases:
  rb: {{dsn: "{pg_url}"}}
redis:
  cache: {{url: "{REDIS_URL}"}}
services:
  api: {{database: rb, redis: cache, health: ["{ok_url}/health"]}}
# The test servers are on loopback; the broken one is named by the runbook, not a service.
health: {{allow: ["http://127.0.0.1:*/health"], allow_private: true}}
access:
  operators: [U0ALICE]
"""


@pytest.fixture
def sites() -> Iterator[tuple[SlowHealth, SlowHealth]]:
    with SlowHealth(delay=0.2) as ok, SlowHealth(status=503, body={"status": "down"}) as broken:
        yield ok, broken


@pytest.fixture
def rbot(
    fake_slack: FakeSlack, tmp_path: Path, pg_url: str, sites: tuple[SlowHealth, SlowHealth]
) -> Iterator[RunningBot]:
    ok, broken = sites
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "web-check.yaml").write_text(CHECK.replace("BROKEN", broken.url))
    running = start_bot(fake_slack, tmp_path, config(pg_url, ok.url, books))
    yield running
    stop_bot(running)


def texts(blocks: Any) -> str:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    out = []
    for b in blocks or []:
        if isinstance(b.get("text"), dict):
            out.append(b["text"].get("text", ""))
        for e in b.get("elements", []) or []:
            if isinstance(e, dict) and "text" in e:
                out.append(e["text"] if isinstance(e["text"], str) else e["text"].get("text", ""))
    return "\n".join(out)


def buttons(blocks: Any) -> list[dict[str, Any]]:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [b["accessory"] for b in blocks if isinstance(b.get("accessory"), dict)]


def calls(bot: RunningBot, method: str) -> list[Any]:
    """Calls so far; safe inside `wait_for` predicates (which hold the fake's lock)."""
    return [c for c in bot.slack.calls if c.method == method]


def run_and_finish(bot: RunningBot, text: str, channel: str = "C00000001") -> tuple[Any, list[Any]]:
    """Type `/runbook run …`; return the progress post and every chat.update once the verdict shows."""
    posts = len(calls(bot, "chat.postMessage"))
    assert bot.client.command("/runbook", text, channel=channel).status_code == 200
    first = bot.slack.wait_for(lambda: calls(bot, "chat.postMessage")[posts:])[0]

    def finished() -> list[Any] | None:
        updates = calls(bot, "chat.update")
        if updates and "Verdict" in texts(updates[-1].args["blocks"]):
            return updates
        return None

    updates = bot.slack.wait_for(finished, timeout=30)
    return first, updates


def test_run_posts_one_message_and_updates_it_as_steps_finish(rbot: RunningBot) -> None:
    first, updates = run_and_finish(rbot, "run web-check")
    start = texts(first.args["blocks"])
    assert "Runbook: Web check" in start
    assert start.count(":white_circle:") == 5  # every check pending before anything runs
    assert "Look around" in start
    assert "Check the dashboards for api." in start
    # Updated as steps started and finished, in the same message.
    assert len(updates) >= 2
    assert all(u.args["channel"] == first.args["channel"] for u in updates)
    last = texts(updates[-1].args["blocks"])
    assert ":red_circle: *Verdict:* CRIT" in last
    assert "1 critical" in last
    assert "4 ok" in last
    assert ":large_green_circle: *Database answers* `db.ping` — ok" in last
    assert ":red_circle: *Broken endpoint* `health.check` — crit" in last
    assert "used_pct = " in last
    assert " ms" in last  # durations
    # Somewhere along the way a step showed as running while others were done or pending.
    middle = [texts(u.args["blocks"]) for u in updates[:-1]]
    assert any(":hourglass_flowing_sand:" in m for m in middle)


def test_each_steps_output_goes_in_the_thread(rbot: RunningBot) -> None:
    _, updates = run_and_finish(rbot, "run web-check")
    ts = updates[-1].args["ts"]
    replies = rbot.slack.wait_for(
        lambda: (
            (r := [c for c in calls(rbot, "chat.postMessage") if c.args.get("thread_ts") == ts])
            and len(r) >= 5
            and r
        )
    )
    assert len(replies) == 5  # one per handler step, none for the manual step
    body = "\n".join(texts(r.args["blocks"]) for r in replies)
    assert "Connections on database rb" in body
    assert "redis cache is up" in body


def test_resolution_steps_are_buttons_and_a_click_runs_a_read_only_one(rbot: RunningBot) -> None:
    _, updates = run_and_finish(rbot, "run web-check")
    blocks = updates[-1].args["blocks"]
    found = buttons(blocks)
    assert [b["action_id"] for b in found] == [ActionId.RUNBOOK_STEP.value]
    assert json.loads(found[0]["value"]) == {"r": "web-check", "s": "activity", "p": {"service": "api"}}
    assert "Cancel query &lt;pid&gt;" in texts(blocks)  # shown as <pid> in Slack
    assert "run the runbook with pid=… to offer it" in texts(blocks)
    assert "☐ Write it down" in texts(blocks)
    before = len(rbot.slack.responses)
    r = rbot.client.action(ActionId.RUNBOOK_STEP.value, found[0]["value"], user="U0BOB")
    assert r.status_code == 200
    [answer] = rbot.slack.wait_responses(before + 1)[before:]
    assert "Activity on database rb" in texts(answer["blocks"])
    assert "sessions:" in texts(answer["blocks"])
    entries = latest(rbot.runtime.store.engine, handler_glob="db.activity")
    assert entries[0].user_id == "U0BOB"


@pytest.fixture
def sleeper(pg_url: str) -> Iterator[int]:
    """A backend running pg_sleep in our database: something real to cancel."""
    conn = psycopg.connect(pg_url, autocommit=True)
    pid = int(conn.info.backend_pid)
    worker = threading.Thread(target=lambda: _sleep(conn), daemon=True)
    worker.start()
    with psycopg.connect(pg_url, autocommit=True) as probe:
        for _ in range(100):
            row = probe.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if row and row[0] == "active":
                break
            threading.Event().wait(0.05)
    yield pid
    with psycopg.connect(pg_url, autocommit=True) as probe:
        probe.execute("SELECT pg_cancel_backend(%s)", (pid,))
    worker.join(5)


def _sleep(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.execute("SELECT pg_sleep(60)")
    except psycopg.Error:
        pass
    finally:
        conn.close()


def test_a_destructive_step_goes_through_the_guards_confirmation(
    rbot: RunningBot, sleeper: int, pg_url: str
) -> None:
    _, updates = run_and_finish(rbot, f"run web-check pid={sleeper}")
    cancel = next(b for b in buttons(updates[-1].args["blocks"]) if json.loads(b["value"])["s"] == "cancel")
    assert cancel["style"] == "danger"
    assert "confirm" in cancel  # Slack's own dialog first
    rbot.client.action(ActionId.RUNBOOK_STEP.value, cancel["value"], user="U0ALICE")

    def guarded() -> Any:
        return next(
            (
                c
                for c in calls(rbot, "chat.postMessage")
                if any(
                    e.get("action_id") == ActionId.CONFIRM.value
                    for e in _elements(c.args.get("blocks") or [])
                )
            ),
            None,
        )

    preview = rbot.slack.wait_for(guarded)
    assert str(sleeper) in texts(preview.args["blocks"])
    with psycopg.connect(pg_url, autocommit=True) as probe:  # nothing ran yet
        row = probe.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (sleeper,)).fetchone()
    assert row is not None
    assert row[0] == "active"


def _elements(blocks: Any) -> list[dict[str, Any]]:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    out: list[dict[str, Any]] = []
    for b in blocks:
        out += [e for e in b.get("elements", []) or [] if isinstance(e, dict)]
        if isinstance(b.get("accessory"), dict):
            out.append(b["accessory"])
    return out


def test_someone_without_the_operator_role_is_refused(rbot: RunningBot, sleeper: int) -> None:
    _, updates = run_and_finish(rbot, f"run web-check pid={sleeper}")
    cancel = next(b for b in buttons(updates[-1].args["blocks"]) if json.loads(b["value"])["s"] == "cancel")
    before = len(rbot.slack.responses)
    rbot.client.action(ActionId.RUNBOOK_STEP.value, cancel["value"], user="U0MALLORY")
    [answer] = rbot.slack.wait_responses(before + 1)[before:]
    assert answer["response_type"] == "ephemeral"
    assert "operator role" in answer["text"]


def test_a_run_in_an_incident_channel_goes_on_its_timeline(rbot: RunningBot) -> None:
    channel = rbot.slack.add_channel("incident-2026-03-02-p1-api").id
    engine = rbot.runtime.store.engine
    with engine.begin() as conn:
        key = conn.execute(
            insert(incidents).values(
                title="API slow",
                severity="P1",
                status="open",
                declared_by="U0ALICE",
                declared_at=utcnow(),
                channel_id=channel,
            )
        ).inserted_primary_key
        assert key is not None
        incident_id = key[0]
    run_and_finish(rbot, "run web-check", channel=channel)

    def recorded() -> list[Any]:
        with engine.connect() as conn:
            return list(
                conn.execute(select(incident_events).where(incident_events.c.incident_id == incident_id))
            )

    [event] = rbot.slack.wait_for(recorded)
    assert event.kind == "runbook"
    assert event.author == "U0ALICE"
    assert "ran runbook `web-check` (Web check): CRIT" in event.text


def test_every_step_is_audited_under_one_request_id(rbot: RunningBot) -> None:
    run_and_finish(rbot, "run web-check")
    engine = rbot.runtime.store.engine
    rows = rbot.slack.wait_for(
        lambda: (
            (e := [x for x in latest(engine, limit=50) if x.command.startswith("/runbook run web-check")])
            and len(e) >= 6
            and e
        )
    )
    assert len({r.request_id for r in rows}) == 1
    assert {r.handler for r in rows} == {"db.ping", "db.connections", "redis.ping", "health.check", None}
    assert any(r.detail.startswith("runbook web-check: CRIT") for r in rows)


def test_unknown_names_and_params_are_explained(rbot: RunningBot) -> None:
    rbot.client.command("/runbook", "run web-chek")
    [a] = rbot.slack.wait_responses(1)
    # The built-in runbooks are there too (slo-check is close as well).
    assert "No runbook named `web-chek`. Did you mean `web-check`" in a["text"]
    rbot.client.command("/runbook", "run web-check servce=api")
    b = rbot.slack.wait_responses(2)[1]
    assert "unknown param 'servce'" in b["text"]
    assert "Did you mean service?" in b["text"]
    assert rbot.slack.calls_to("chat.postMessage") == []  # nothing ran


def test_list_show_and_validate(rbot: RunningBot, tmp_path: Path) -> None:
    rbot.client.command("/runbook", "list")
    [listing] = rbot.slack.wait_responses(1)
    assert "web-check" in texts(listing["blocks"])
    rbot.client.command("/runbook", "show web-check")
    shown = rbot.slack.wait_responses(2)[1]
    assert "*Web check* (`web-check`)" in shown["text"]
    assert "`cancel` Cancel query {{pid}} — `db.cancel service={{service}} pid={{pid}}`" in shown["text"]
    assert "000_49c97668c4c58451.txt › High Response Time" in shown["text"]
    (tmp_path / "runbooks" / "bad.yaml").write_text(
        "name: bad\ntitle: Bad\ndiagnostics:\n  - {id: x, title: X, handler: db.nope}\n"
    )
    rbot.client.command("/runbook", "validate")
    checked = rbot.slack.wait_responses(3)[2]
    assert "bad.yaml:4: diagnostics[0] (x).handler: unknown handler 'db.nope'" in checked["text"]
    rbot.client.command("/runbook", "list")
    relisted = rbot.slack.wait_responses(4)[3]
    assert "1 file(s) did not load" in texts(relisted["blocks"])


def test_where_the_bot_cannot_post_the_verdict_comes_as_a_reply(rbot: RunningBot) -> None:
    rbot.client.command("/runbook", "run web-check", channel="C09999999")
    answers = rbot.slack.wait_responses(2)
    assert "I cannot post in this channel (channel_not_found)" in answers[0]["text"]
    assert answers[0]["response_type"] == "ephemeral"
    assert "Runbook Web check: CRIT" in answers[1]["text"]
    assert rbot.slack.calls_to("chat.update") == []
