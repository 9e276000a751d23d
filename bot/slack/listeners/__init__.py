"""Slack listeners. `register(app, runtime)` is called by `bot.app.build_app` only."""

from __future__ import annotations

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack.listeners import commands, guard, incidents, runbooks


def register(app: App, runtime: Runtime) -> None:
    commands.register(app, runtime)
    guard.register(app, runtime)
    incidents.register(app, runtime)
    runbooks.register(app, runtime)
