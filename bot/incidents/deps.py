"""What incident code works with: the store, the config, Slack and the clock.

Built once by `bot.app.build_runtime` (`runtime.part(IncidentDeps)`) or directly by a benchmark, so the
scheduler participants never need the whole bot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import ChatopsConfig
from bot.incidents.records import Incident
from bot.incidents.slackapi import Names

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Told of each change (event, incident, who, data): "declared", "severity", "acknowledged",
# "resolved", "escalated". Paging listens here (bot.oncall.paging); a hook must return at once.
IncidentHook = Callable[[str, Incident, str, dict[str, Any]], None]


@dataclass
class IncidentDeps:
    """The dependencies of every incident function (passed as `desk`, the incident desk)."""

    engine: Engine
    config: ChatopsConfig
    slack: WebClient | None  # None in the console without --slack
    clock: Callable[[], datetime]
    names: Names = field(init=False)
    hooks: list[IncidentHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = Names(self.slack)

    def emit(self, event: str, inc: Incident, user: str, **data: Any) -> None:
        """Tell the hooks; one failing never fails the change that was already stored."""
        for hook in self.hooks:
            try:
                hook(event, inc, user, data)
            except Exception:
                log.exception("incident #%s: %s hook failed", inc.id, event)

    @classmethod
    def of(cls, runtime: Runtime) -> IncidentDeps:
        """The runtime's incident dependencies (built once, by `bot.app.build_runtime`)."""
        return runtime.part(IncidentDeps)

    @property
    def web(self) -> WebClient:
        """The client to call (`call(desk.web.chat_postMessage, …)`); offline, it fails every call."""
        return self.names.web

    def command(self, key: str) -> str:
        """The slash command as configured (`/incident` may be renamed)."""
        return self.config.command_name(key)

    def announce_target(self) -> str:
        """slack.incidents_channel as chat.postMessage wants it: an id as is, a name with '#'."""
        ch = self.config.slack.incidents_channel
        return ch if re.fullmatch(r"[CG][A-Z0-9]{6,}", ch) else "#" + ch.lstrip("#")
