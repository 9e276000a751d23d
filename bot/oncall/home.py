"""Who is on call, for App Home: the rotations (overrides included), then contacts.oncall's ids.

App Home (`bot.slack.home`) takes a provider; `bot.slack.listeners` plugs this one in.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.oncall.roster import on_call_now
from bot.slack.home import OnCall, OncallProvider

if TYPE_CHECKING:
    from bot.runtime import Runtime


def provider(runtime: Runtime) -> OncallProvider:
    def on_call(now: datetime) -> list[OnCall]:
        config = runtime.config
        out = [
            OnCall(
                s.user,
                f"rotation {s.rotation}" + (f", override #{s.override_id}" if s.is_override else ""),
                s.end,
            )
            for s in on_call_now(config, runtime.store, now)
        ]
        seen = {o.who for o in out}
        # Plain ids in contacts.oncall too (its rotation:NAME entries are the rotations above).
        out += [
            OnCall(e, "contacts.oncall")
            for e in config.contacts.get("oncall", [])
            if e[:1] in ("U", "W", "S") and e not in seen
        ]
        return out

    return on_call
