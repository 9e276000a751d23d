"""App Home's "who is on call" shows the rotations, overrides included."""

from __future__ import annotations

import uuid

from tests.oncall.conftest import OncallHarness
from tests.surfaces.conftest import blocks_text, deliver


def test_app_home_shows_who_is_on_each_rotation(oncall: OncallHarness) -> None:
    oncall.oncall("override <@U0CAT> --from now --to +2h --rotation primary", user="U0BEN")
    deliver(
        oncall,
        {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0HOME", "tab": "home"},
        uuid.uuid4().hex,
    )

    def shown() -> str | None:
        view = oncall.slack.homes.get("U0ALICE")
        text = blocks_text(view) if view else ""
        return text if "rotation secondary" in text else None

    text = oncall.slack.wait_for(shown)
    assert "<@U0CAT> (rotation primary, override #1, until Tue 11:00 UTC)" in text
    assert "<@U0DAN> (rotation secondary, until Fri 16:00 UTC)" in text
