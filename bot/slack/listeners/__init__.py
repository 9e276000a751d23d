"""Slack listeners. `register(app, runtime)` is called by `bot.app.build_app` only."""

from __future__ import annotations

from slack_bolt import App

from bot.oncall import home as oncall_home
from bot.runtime import Runtime
from bot.slack import once
from bot.slack.listeners import alerts, commands, guard, home, incidents, modals, runbooks, shortcuts


def register(app: App, runtime: Runtime) -> None:
    # First: a copy of an Events API callback already handled is acknowledged and dropped.
    app.middleware(once.middleware(once.EventClaims(runtime.store.engine, runtime.clock)))
    commands.register(app, runtime)
    guard.register(app, runtime)
    # Before incidents: Bolt runs the first listener that matches, and modals' declare form
    # supersedes the one registered there.
    modals.register(app, runtime)
    incidents.register(app, runtime)
    runbooks.register(app, runtime)
    home.register(app, runtime, oncall=oncall_home.provider(runtime))  # rotations (bot.oncall)
    shortcuts.register(app, runtime)
    alerts.register(app, runtime)
