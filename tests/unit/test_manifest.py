"""The Slack app manifest matches what the bot registers and calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.app import BUILTIN_MODULES
from bot.commands.builtin import builtins
from bot.config import ChatopsConfig
from bot.slack.ids import CallbackId
from handlers import load_all

ROOT = Path(__file__).parents[2]
MANIFEST = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())

# Web API method → the bot scopes that allow it (any one suffices).
METHOD_SCOPES: dict[str, set[str]] = {
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_getPermalink": set(),
    "conversations_create": {"channels:manage", "groups:write"},
    "conversations_invite": {"channels:manage", "groups:write"},
    "conversations_setTopic": {"channels:manage", "groups:write"},
    "conversations_setPurpose": {"channels:manage", "groups:write"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_join": {"channels:join"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_archive": {"channels:manage", "groups:write"},
    "pins_add": {"pins:write"},
    "bookmarks_add": {"bookmarks:write"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
    "files_upload_v2": {"files:write"},
    "files_getUploadURLExternal": {"files:write"},
    "files_completeUploadExternal": {"files:write"},
    "views_open": set(),
    "views_update": set(),
    "views_push": set(),
    "views_publish": set(),
    "reactions_add": {"reactions:write"},
    "auth_test": set(),
}
# A call (`client.chat_postMessage(`) or a typed method handed to a wrapper (`call(desk.web.pins_add, `).
CALL = re.compile(
    r"\.((?:chat|conversations|pins|bookmarks|users|usergroups|files|views|reactions|auth)_[A-Za-z0-9_]+)[(,]"
)


def _methods_called() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found |= set(CALL.findall(path.read_text()))
    return found


def test_slash_commands_match_the_registry() -> None:
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    config = ChatopsConfig()
    commands = set(load_all().commands()) | {c for c, _ in builtins()}
    expected = {config.command_name(c) for c in commands}
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert declared == expected


def test_scopes_cover_every_method_the_bot_calls() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = _methods_called()
    assert "files_upload_v2" in called  # the scan finds calls at all
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these Web API methods and their scopes to this test and the manifest: {unknown}"
    missing = {m: s for m in called if (s := METHOD_SCOPES[m]) and not (s & scopes)}
    assert not missing, f"the manifest lacks scopes for: {missing}"
    assert "commands" in scopes


def test_interactivity_and_socket_mode_are_on() -> None:
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")


class Registrations:
    """Stands in for Bolt's App while the real `listeners.register` runs: records what it
    registers (events, shortcuts) instead of routing requests."""

    def __init__(self) -> None:
        self.events: set[str] = set()
        self.shortcuts: set[str] = set()

    def _record(self, into: set[str] | None) -> Any:
        def decorator_factory(key: object, *_a: object, **_kw: object) -> Any:
            if into is not None and isinstance(key, str):
                into.add(key)
            return lambda fn: fn

        return decorator_factory

    def __getattr__(self, name: str) -> Any:
        if name == "event":
            return self._record(self.events)
        if name == "shortcut":
            return self._record(self.shortcuts)
        if name in ("command", "action", "view", "options"):
            return self._record(None)
        if name == "middleware":
            return lambda fn: fn
        raise AttributeError(name)


def _registered(tmp_path: Path) -> Registrations:
    from bot.app import build_runtime
    from bot.config import Settings
    from bot.services import Clients, Services
    from bot.slack import listeners
    from bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.upgrade()
    config = ChatopsConfig()
    services = Services(config=config, store=store, clients=Clients(config), registry=load_all())
    settings = Settings.model_validate(
        {"DATABASE_URL": store.url, "CHATOPS_CONFIG": str(tmp_path / "none.yaml")}
    )
    runtime = build_runtime(settings, services)
    app = Registrations()
    try:
        listeners.register(app, runtime)  # type: ignore[arg-type]  # records, does not route
    finally:
        runtime.pool.shutdown(wait=False)
        services.close()
    return app


def test_events_shortcuts_and_app_home_match_what_the_app_registers(tmp_path: Path) -> None:
    registered = _registered(tmp_path)
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == registered.events
    shortcuts = {s["callback_id"]: s for s in MANIFEST["features"]["shortcuts"]}
    assert set(shortcuts) == registered.shortcuts
    assert shortcuts[CallbackId.SHORTCUT_DECLARE]["type"] == "global"
    assert shortcuts[CallbackId.SHORTCUT_DECLARE]["name"] == "Declare incident"
    assert {shortcuts[c]["type"] for c in registered.shortcuts - {CallbackId.SHORTCUT_DECLARE.value}} == {
        "message"
    }
    assert all(s["name"] and s["description"] for s in shortcuts.values())
    # app_home_opened is only sent to apps with the Home tab on.
    assert ("app_home_opened" in registered.events) == MANIFEST["features"]["app_home"]["home_tab_enabled"]
