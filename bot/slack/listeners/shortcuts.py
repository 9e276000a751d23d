"""Shortcuts: "Declare incident" (global), "Declare incident from this message" and "Add to
incident timeline" (message shortcuts).

Each opens its modal with `views.open` first: the trigger_id expires 3 s after the click, so
nothing slow (a Slack call, the permalink) happens before. The message's permalink is fetched
afterwards and put in the open form with `views.update`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from functools import partial
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import records
from bot.incidents import views as incident_views
from bot.incidents.deps import IncidentDeps
from bot.incidents.lifecycle import MessageSource
from bot.incidents.slackapi import SlackStepError, call, mention
from bot.runtime import Runtime
from bot.slack.ids import CallbackId
from bot.slack.listeners.incidents import ListenerDeps, Payload

log = logging.getLogger(__name__)

TITLE_FROM_MESSAGE = 120  # characters of the message's first line offered as the title
METADATA_TEXT = 1500  # of the message text kept in private_metadata
METADATA_LIMIT = 2800  # Slack allows 3,000 characters of private_metadata in all


def message_source(body: dict[str, Any], permalink: str = "") -> MessageSource:
    message = body.get("message") or {}
    return MessageSource(
        channel=str((body.get("channel") or {}).get("id") or ""),
        ts=str(message.get("ts") or ""),
        author=str(message.get("user") or message.get("bot_id") or ""),
        text=str(message.get("text") or ""),
        permalink=permalink,
    )


def source_line(src: MessageSource) -> str:
    what = f"<{src.permalink}|this message>" if src.permalink else "this message"
    who = f" by {mention(src.author)}" if src.author else ""
    where = f" in <#{src.channel}>" if src.channel else ""
    return f":link: Declared from {what}{who}{where}; it goes on the incident's timeline."


def _metadata(src: MessageSource) -> dict[str, Any]:
    """The message for the submission, within private_metadata's 3,000 characters (as JSON,
    where one emoji takes 12): the text is shortened until it fits."""
    data = asdict(src)
    keep = METADATA_TEXT
    while True:
        data["text"] = src.text[:keep]
        meta = {"channel": src.channel, "source": data}
        if len(json.dumps(meta)) <= METADATA_LIMIT or keep == 0:
            return meta
        keep //= 2


def permalink(desk: IncidentDeps, channel: str, ts: str) -> str:
    """The message's permalink; empty (logged) when Slack will not say."""
    try:
        return str(call(desk.web.chat_getPermalink, channel=channel, message_ts=ts).get("permalink") or "")
    except SlackStepError as exc:
        log.info("no permalink for %s/%s: %s", channel, ts, exc)
        return ""


def _user_of(body: Payload) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _open_view(deps: ListenerDeps, body: Payload, view: Payload) -> Payload | None:
    """views.open with the shortcut's trigger; a refusal is told where the shortcut was used."""
    try:
        return call(deps.desk.web.views_open, trigger_id=body.get("trigger_id", ""), view=view)
    except SlackStepError as exc:
        _tell(deps.desk, body, f":warning: Could not open the form: {exc}")
        return None


def on_declare(deps: ListenerDeps, ack: Ack, body: Payload) -> None:
    """Global shortcut: the declare form, with the clicker as commander."""
    ack()
    user = _user_of(body)
    _open_view(
        deps, body, incident_views.declare(deps.desk.config, user=user, metadata={"channel": ""}).to_dict()
    )


def _declare_view(desk: IncidentDeps, user: str, src: MessageSource, shown: MessageSource) -> Payload:
    """The declare form prefilled from `src`; `shown` is the same message, with its link once known."""
    first_line = next((ln.strip() for ln in src.text.splitlines() if ln.strip()), "")
    return incident_views.declare(
        desk.config,
        user=user,
        title=first_line[:TITLE_FROM_MESSAGE],
        description=src.text,
        source=source_line(shown),
        metadata=_metadata(shown),
    ).to_dict()


def on_declare_from_message(deps: ListenerDeps, ack: Ack, body: Payload) -> None:
    """The form prefilled from the message; its link follows once Slack gives it."""
    ack()
    d, user = deps.desk, _user_of(body)
    src = message_source(body)
    opened = _open_view(deps, body, _declare_view(d, user, src, src))
    if opened is None or not src.ts:
        return
    link = permalink(d, src.channel, src.ts)
    if not link:
        return
    opened_view = opened.get("view") or {}
    try:
        call(
            d.web.views_update,
            view_id=opened_view.get("id"),
            hash=opened_view.get("hash"),
            view=_declare_view(d, user, src, MessageSource(**{**asdict(src), "permalink": link})),
        )
    except SlackStepError as exc:
        # Edited meanwhile (hash_conflict) or closed: the link is fetched again on submit.
        log.info("declare form not updated with the permalink: %s", exc)


def on_add_to_timeline(deps: ListenerDeps, ack: Ack, body: Payload) -> None:
    """Pick an open incident; the message, its author and its link go on its timeline."""
    ack()
    d = deps.desk
    src = message_source(body)
    open_incidents = records.list_open(d.engine)
    if not open_incidents:
        view = incident_views.notice(
            "No open incident",
            f"There is no open incident to add this to. `{d.command('incident')} declare` starts one.",
        )
        _open_view(deps, body, view.to_dict())
        return
    preview = src.text.strip()[:280] + ("…" if len(src.text.strip()) > 280 else "")
    who = f"{mention(src.author)}: " if src.author else ""
    meta = _metadata(src)
    view = incident_views.timeline_add(
        d.config, open_incidents, preview=f"{who}{preview or '(no text)'}", metadata=meta
    )
    _open_view(deps, body, view.to_dict())


def register(app: App, runtime: Runtime) -> None:
    deps = ListenerDeps(runtime)
    app.shortcut(CallbackId.SHORTCUT_DECLARE.value)(partial(on_declare, deps))
    app.shortcut(CallbackId.SHORTCUT_DECLARE_FROM_MESSAGE.value)(partial(on_declare_from_message, deps))
    app.shortcut(CallbackId.SHORTCUT_ADD_TO_TIMELINE.value)(partial(on_add_to_timeline, deps))


def _tell(desk: IncidentDeps, body: dict[str, Any], text: str) -> None:
    """A failure before any form was open: an ephemeral note where the shortcut was used, else a DM."""
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "")
    try:
        if channel:
            call(desk.web.chat_postEphemeral, channel=channel, user=user, text=text)
            return
    except SlackStepError as exc:
        log.info("could not answer %s in %s: %s", user, channel, exc)
    try:
        call(desk.web.chat_postMessage, channel=user, text=text)
    except SlackStepError as exc:
        log.error("could not tell %s that the form did not open: %s", user, exc)
