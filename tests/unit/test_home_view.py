"""The App Home view: its on-call section takes a provider (contacts.oncall by default)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.config import parse_config
from bot.guard import Access
from bot.slack import home
from bot.slack.home import OnCall
from bot.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG = parse_config("contacts:\n  oncall: [U0ONCALL, S0SRE, oncall-team]\n")


def text(view: object) -> str:
    return json.dumps(view.to_dict()["blocks"], ensure_ascii=False)  # type: ignore[attr-defined]


def test_contacts_oncall_is_the_default_provider(store: Store) -> None:
    data = home.gather(store.engine, Access(CONFIG), home.contacts_oncall(CONFIG), "U0ALICE", NOW)
    assert data.oncall == [OnCall("U0ONCALL", "contacts.oncall"), OnCall("S0SRE", "contacts.oncall")]
    shown = text(home.build(CONFIG, data))
    assert "<@U0ONCALL> (contacts.oncall)\\n<!subteam^S0SRE> (contacts.oncall)" in shown


def test_a_rotation_provider_plugs_into_the_same_section(store: Store) -> None:
    asked: list[datetime] = []

    def rotation(now: datetime) -> list[OnCall]:
        asked.append(now)
        return [OnCall("U0ANA", "rotation primary", until=now + timedelta(days=2))]

    data = home.gather(store.engine, Access(CONFIG), rotation, "U0ALICE", NOW)
    assert asked == [NOW]
    shown = text(home.build(CONFIG, data))
    assert "<@U0ANA> (rotation primary, until Wed 09:00 UTC)" in shown
    assert "U0ONCALL" not in shown


def test_nobody_on_call_says_what_to_configure(store: Store) -> None:
    data = home.gather(store.engine, Access(CONFIG), lambda _now: [], "U0ALICE", NOW)
    assert "Nobody: add `contacts.oncall` to chatops.yaml." in text(home.build(CONFIG, data))
