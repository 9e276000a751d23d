"""App Home: published when a user opens it and whenever what it shows changes.

What it shows lives in three tables: incidents, pending actions and the audit log (a runbook
run ends with an audit row). A change to one of them, by any code path (a slash command, a
button, the scheduler, an alert), is seen where it is written, on the store's engine, and
becomes a refresh request: `HomeRefresher` folds requests per user and publishes at most once
per few seconds, only when the view differs from the last one published.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy import Delete, Insert, Update, event

from bot.guard import ActionResult, ActionResultKind
from bot.incidents import views as incident_views
from bot.incidents.deps import IncidentDeps
from bot.incidents.slackapi import SlackStepError, call
from bot.runbooks.commands import catalog_of
from bot.runtime import Runtime
from bot.slack import forms, home
from bot.slack.home import OncallProvider
from bot.slack.home_refresh import HomeRefresher
from bot.slack.ids import ActionId
from bot.slack.listeners import guard as guard_listeners
from bot.slack.listeners.incidents import Payload

log = logging.getLogger(__name__)

WATCHED = frozenset({"incidents", "pending_actions"})  # every user's home shows these


class Homes:
    """Builds and publishes homes; remembers the last view published and a notice per user."""

    def __init__(self, runtime: Runtime, oncall: OncallProvider) -> None:
        self.runtime = runtime
        self.oncall = oncall
        self._published: dict[str, str] = {}
        self._notices: dict[str, str] = {}
        self._hashes: dict[str, str] = {}  # Slack's hash of the view this process last published
        self._lock = threading.Lock()
        self.refresher = HomeRefresher(self.publish)

    def shown(self, user: str, shown_hash: str) -> None:
        """The home Slack shows is not the one published here last (another replica published
        since): the next publish goes out even if this process's view did not change."""
        with self._lock:
            if shown_hash and self._hashes.get(user) != shown_hash:
                self._published.pop(user, None)

    def notice(self, user: str, text: str) -> None:
        with self._lock:
            self._notices[user] = text

    def publish(self, user: str) -> bool:
        rt = self.runtime
        with self._lock:
            notice = self._notices.get(user, "")
        data = home.gather(rt.store.engine, rt.access, self.oncall, user, rt.clock(), notice)
        view = home.build(rt.config, data)
        mark = home.fingerprint(view)
        with self._lock:
            if self._published.get(user) == mark:
                return False
        try:
            sent = call(IncidentDeps.of(rt).web.views_publish, user_id=user, view=view.to_dict())
        except SlackStepError as exc:
            log.warning("App Home of %s not published: %s", user, exc)
            return False
        with self._lock:
            self._published[user] = mark
            self._hashes[user] = str((sent.get("view") or {}).get("hash") or "")
        return True


def on_home_opened(homes: Homes, event: Payload) -> None:
    if event.get("tab", "home") != "home" or homes.runtime.slack is None:
        return
    user = str(event.get("user") or "")
    homes.shown(user, str((event.get("view") or {}).get("hash") or ""))
    homes.refresher.opened(user)


def on_declare(homes: Homes, ack: Ack, body: Payload) -> None:
    ack()
    user = str((body.get("user") or {}).get("id") or "")
    view = incident_views.declare(homes.runtime.config, user=user, metadata={"channel": ""})
    _open(homes.runtime, homes, user, body, view.to_dict())


def on_runbook(homes: Homes, ack: Ack, body: Payload) -> None:
    ack()
    user = str((body.get("user") or {}).get("id") or "")
    loaded = catalog_of(homes.runtime).current()
    if not loaded.runbooks:
        homes.notice(user, ":warning: No runbooks are loaded (runbooks_dir in chatops.yaml).")
        homes.refresher.changed([user])
        return
    _open(homes.runtime, homes, user, body, forms.run_runbook(loaded.runbooks).to_dict())


def register(app: App, runtime: Runtime, *, oncall: OncallProvider | None = None) -> HomeRefresher:
    """App Home's listeners; `oncall` says who is on call (default: contacts.oncall)."""
    homes = Homes(runtime, oncall or home.contacts_oncall(runtime.config))
    refresher = homes.refresher
    runtime.provide(refresher)
    _watch(runtime, refresher)

    app.event("app_home_opened")(partial(on_home_opened, homes))
    app.action(ActionId.HOME_DECLARE.value)(partial(on_declare, homes))
    app.action(ActionId.HOME_RUNBOOK.value)(partial(on_runbook, homes))

    guard = runtime.guard
    decisions = {
        ActionId.HOME_CONFIRM: (guard.confirm, False),
        ActionId.HOME_CANCEL: (guard.cancel, False),
        ActionId.HOME_APPROVE: (guard.approve, True),
        ActionId.HOME_REJECT: (guard.reject, True),
    }
    for action_id, (decide, approval) in decisions.items():
        app.action(action_id.value)(_decision(runtime, homes, decide, approval))
    return refresher


def _open(runtime: Runtime, homes: Homes, user: str, body: dict[str, Any], view: dict[str, Any]) -> None:
    """views.open first (the trigger expires in 3 s); a refusal is shown on the home itself."""
    try:
        call(IncidentDeps.of(runtime).web.views_open, trigger_id=body.get("trigger_id", ""), view=view)
    except SlackStepError as exc:
        homes.notice(user, f":warning: Could not open the form: {exc}")
        homes.refresher.changed([user])


def _decision(runtime: Runtime, homes: Homes, decide: Any, approval: bool) -> Any:
    """A Confirm/Cancel/Approve/Reject click in App Home: the Guard decides as for the message's
    buttons; the message that offered the action shows the outcome, and so does the home."""

    def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        user = str((body.get("user") or {}).get("id") or "")
        action_id = str(action.get("value") or "")
        stored = runtime.guard.get(action_id)
        click = guard_listeners.Click(
            value=action_id,
            user_id=user,
            channel_id=stored.channel_id if stored else "",
            message_ts=(stored.approval_ts if approval else stored.message_ts) if stored else None,
            response_url=None if approval or stored is None else stored.response_url,
        )
        res: ActionResult = decide(action_id, user, where=click.where)
        guard_listeners.show(runtime, client, click, res, on_approval_message=approval)
        homes.notice(user, _outcome_line(res))
        homes.refresher.changed([user])

    return on_click


def _outcome_line(res: ActionResult) -> str:
    icon = ":white_check_mark:" if res.ok else ":warning:" if res.kind in _BAD else ":information_source:"
    return f"{icon} {res.message}"[:500]


_BAD = frozenset(
    {ActionResultKind.FAILED, ActionResultKind.REFUSED, ActionResultKind.ERROR, ActionResultKind.EXPIRED}
)


def _watch(runtime: Runtime, refresher: HomeRefresher) -> None:
    """Request refreshes from the writes themselves (whoever makes them)."""

    def after_execute(_conn: Any, clause: Any, *_args: Any) -> None:
        if not isinstance(clause, Insert | Update | Delete):
            return
        table = getattr(clause.table, "name", "")
        if table in WATCHED:
            refresher.changed()
        elif table == "audit" and isinstance(clause, Insert):
            result = _args[-1]
            params = getattr(getattr(result, "context", None), "compiled_parameters", None) or [{}]
            row = params[0]
            if str(row.get("detail") or "").startswith("runbook ") and row.get("handler") is None:
                refresher.changed([str(row.get("user_id") or "")])

    event.listen(runtime.store.engine, "after_execute", after_execute)
