"""The public status page, loaded in a real headless Chromium from the bot's HTTP server.

CI needs Debian's `chromium` package (/usr/bin/chromium) and the `playwright` Python package;
Playwright drives the system browser, it never downloads one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from bot.store import utcnow
from bot.store.tables import incidents
from bot.store.timeline import add_event
from tests.conftest import RunningBot, drop_pg_database, make_pg_database, start_bot, stop_bot
from tests.fakes.slack import FakeSlack

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def running(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[RunningBot]:
    url = make_pg_database("chatops_ops")
    bot = start_bot(fake_slack, tmp_path, database_url=url)
    yield bot
    stop_bot(bot)
    drop_pg_database(url)


def _incident(
    bot: RunningBot, title: str, severity: str, status: str, declared: datetime, **more: Any
) -> int:
    with bot.runtime.store.engine.begin() as conn:
        row = conn.execute(
            insert(incidents)
            .values(
                title=title,
                severity=severity,
                status=status,
                declared_by="U0IC",
                declared_at=declared,
                **more,
            )
            .returning(incidents.c.id)
        ).one()
    return int(row[0])


def _update(bot: RunningBot, incident_id: int, text: str, at: datetime, *, public: bool) -> None:
    add_event(
        bot.runtime.store.engine, incident_id, kind="update", author="U0IC", text=text, at=at, public=public
    )


def test_status_page_shows_open_incidents_with_their_latest_public_update(
    running: RunningBot, browser: Any
) -> None:
    now = utcnow()
    checkout = _incident(
        running, "Checkout errors for EU customers", "P1", "investigating", now - timedelta(hours=1)
    )
    _update(
        running, checkout, "We are investigating failed payments.", now - timedelta(minutes=50), public=True
    )
    _update(
        running,
        checkout,
        "Primary DB at 100% CPU; suspect the report query from U0ALICE.",
        now - timedelta(minutes=30),
        public=False,
    )
    _update(
        running,
        checkout,
        "A fix is rolling out; payments are recovering.",
        now - timedelta(minutes=20),
        public=True,
    )
    _update(
        running,
        checkout,
        "Rollback of backend v2.3.1 in prod namespace done.",
        now - timedelta(minutes=10),
        public=False,
    )
    sneaky = _incident(
        running, "<img src=x onerror=alert(1)> login page", "P3", "identified", now - timedelta(minutes=5)
    )
    _update(running, sneaky, "<b>not bold</b> & friends", now - timedelta(minutes=4), public=True)
    search = _incident(
        running,
        "Search was slow",
        "P2",
        "resolved",
        now - timedelta(days=2, hours=3),
        resolved_at=now - timedelta(days=2),
    )
    _update(running, search, "Search is back to normal speed.", now - timedelta(days=2), public=True)
    _incident(
        running,
        "Ancient outage",
        "P0",
        "resolved",
        now - timedelta(days=10, hours=1),
        resolved_at=now - timedelta(days=10),
    )

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    resp = page.goto(running.url + "/status")
    assert resp is not None
    assert resp.status == 200
    assert "text/html" in resp.headers["content-type"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)

    assert page.title() == "Service status"
    assert page.inner_text("#banner").strip() == "2 ongoing incidents"
    ongoing = page.inner_text("#open")
    # The declared incident with its severity, status, start and its LATEST public update.
    card = page.locator(f'#open [data-incident="{checkout}"]')
    text = card.inner_text()
    assert "Checkout errors for EU customers" in text
    assert "P1" in text
    assert "investigating" in text.lower()
    assert (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M UTC") in text
    assert "A fix is rolling out; payments are recovering." in text
    assert "We are investigating failed payments." not in text  # older public update
    # Private updates never reach the page.
    html = page.content()
    for private in ("Primary DB at 100% CPU", "U0ALICE", "Rollback of backend v2.3.1"):
        assert private not in html
    # Titles and updates are text, never markup.
    assert "<img src=x onerror=alert(1)> login page" in ongoing
    assert page.locator("#open img").count() == 0
    assert page.locator("#open b").count() == 0
    assert "<b>not bold</b> & friends" in ongoing
    # P1 is listed before P3.
    assert ongoing.index("Checkout errors") < ongoing.index("login page")
    # Resolved in the last 7 days, but not older.
    resolved = page.inner_text("#resolved")
    assert "Search was slow" in resolved
    assert "Search is back to normal speed." in resolved
    assert "Ancient outage" not in page.inner_text("body")
    assert "Ancient outage" not in ongoing


def test_incidents_declared_and_updated_in_slack_show_on_the_page(running: RunningBot, browser: Any) -> None:
    """End to end: /incident declare, update --public, a private update, resolve; then the page."""
    answers = 0

    def command(text: str) -> str:
        nonlocal answers
        running.client.command("/incident", text, user="U0IC")
        answers += 1
        return str(running.slack.wait_responses(answers)[answers - 1].get("text", ""))

    assert "Incident #1 declared" in command("declare P1 Payments failing for card users")
    assert "Update recorded" in command("update #1 --public Card payments fail for some users; we are on it.")
    assert "Update recorded" in command("update #1 The acquirer TLS cert expired at 09:12, renewing")
    assert "Incident #2 declared" in command("declare P3 Slow avatar uploads")
    command("resolve #2 CDN cache purged")

    page = browser.new_page(viewport={"width": 1000, "height": 800})
    resp = page.goto(running.url + "/status")
    assert resp is not None
    assert resp.status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-from-slack.png"), full_page=True)
    card = page.locator('#open [data-incident="1"]').inner_text()
    assert "Payments failing for card users" in card
    assert "P1" in card
    assert "Card payments fail for some users; we are on it." in card
    assert "acquirer" not in page.content()
    assert "Slow avatar uploads" in page.inner_text("#resolved")
    assert "Slow avatar uploads" not in page.inner_text("#open")
    assert page.inner_text("#banner").strip() == "1 ongoing incident"


def test_status_page_with_nothing_open_says_all_is_well(running: RunningBot, browser: Any) -> None:
    page = browser.new_page()
    resp = page.goto(running.url + "/status")
    assert resp is not None
    assert resp.status == 200
    assert page.inner_text("#banner").strip() == "All systems operational"
    assert "No ongoing incidents." in page.inner_text("#open")
    assert "No incidents resolved in the last 7 days." in page.inner_text("#resolved")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-empty.png"), full_page=True)


def test_status_page_loads_nothing_from_elsewhere_and_refuses_posts(running: RunningBot) -> None:
    resp = httpx.get(running.url + "/status", timeout=10)
    assert resp.status_code == 200
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    assert "<script" not in resp.text
    assert httpx.post(running.url + "/status", timeout=10).status_code == 405
