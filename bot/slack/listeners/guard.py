"""Confirm / Cancel / Approve / Reject buttons: ack at once, let the Guard decide, show the outcome.

The button value is the pending action's id only. Outcomes that end the action replace the
message that offered it (and its sibling: the preview or the approval request); refusals,
unknown ids and late double clicks get an ephemeral reply that only the clicker sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.guard import ActionResult, ActionResultKind, Guard, MessageRef, PendingAction
from bot.runtime import Runtime
from bot.slack.confirm import Message, approval_message, awaiting_message, notice_message, outcome_message
from bot.slack.ids import ActionId

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10  # seconds, each response_url post

Decide = Callable[..., ActionResult]


@dataclass(frozen=True)
class Click:
    value: str  # the pending action's id
    user_id: str
    channel_id: str
    message_ts: str | None
    response_url: str | None

    @staticmethod
    def of(body: dict[str, Any], action: dict[str, Any]) -> Click:
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        return Click(
            value=str(action.get("value") or ""),
            user_id=str((body.get("user") or {}).get("id") or ""),
            channel_id=str(channel),
            message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
            response_url=body.get("response_url") or None,
        )

    @property
    def where(self) -> MessageRef:
        return MessageRef(self.channel_id, self.message_ts, self.response_url)


def register(app: App, runtime: Runtime) -> None:
    guard: Guard = runtime.guard
    verbs: dict[ActionId, Decide] = {
        ActionId.CONFIRM: guard.confirm,
        ActionId.CANCEL: guard.cancel,
        ActionId.APPROVE: guard.approve,
        ActionId.REJECT: guard.reject,
    }
    for action_id, decide in verbs.items():
        app.action(action_id.value)(partial(on_click, runtime, action_id, decide))
    if runtime.scheduler is not None:
        runtime.scheduler.add("guard.expire", lambda now: expire_and_update(runtime, now))


def on_click(
    runtime: Runtime,
    action_id: ActionId,
    decide: Decide,
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
) -> None:
    """A Confirm / Cancel / Approve / Reject click: ack, let the guard decide, show the outcome."""
    ack()
    click = Click.of(body, action)
    res = decide(click.value, click.user_id, where=click.where)
    try:
        show(
            runtime, client, click, res, on_approval_message=action_id in (ActionId.APPROVE, ActionId.REJECT)
        )
    except Exception as exc:  # Slack or the store failed while showing it: say what happened
        log.exception("could not show the outcome of a %s click", action_id.value)
        _ephemeral(client, click, notice_message(_unshown(res, exc)))


def show(
    runtime: Runtime, client: WebClient, click: Click, res: ActionResult, *, on_approval_message: bool
) -> None:
    """Render one decision in Slack; never raises (a Slack failure is logged and falls back)."""
    action = res.action
    if res.kind is ActionResultKind.RUNNING and action is not None and res.later is not None:
        # Said at once: it is running (the buttons go); the outcome replaces it when it ends.
        _replace(client, click, outcome_message(res))
        res.later.add_done_callback(lambda done: _show_late(client, click, done.result()))
    elif res.kind is ActionResultKind.AWAITING_APPROVAL and action is not None:
        _replace(client, click, awaiting_message(action, runtime.guard.approvers))
        _ask_approval(runtime, client, click, action)
    elif res.final and action is not None:
        msg = outcome_message(res)
        _replace(client, click, msg)
        # The other message about the same action shows the outcome too.
        if on_approval_message:
            _update_preview(client, action, msg)
        elif action.approval_ts:
            _update(client, action.channel_id, action.approval_ts, msg)
        if msg.file is not None:
            _upload(client, action.channel_id or click.channel_id, msg)
    else:
        _ephemeral(client, click, notice_message(res))


def _unshown(res: ActionResult, exc: Exception) -> ActionResult:
    """The decision, told to the clicker alone when its message could not be updated."""
    return ActionResult(
        ActionResultKind.ERROR,
        f"{res.message} (The message could not be updated: {type(exc).__name__}.)",
        res.action,
        actor=res.actor,
    )


def _show_late(client: WebClient, click: Click, res: ActionResult) -> None:
    """The outcome of an action that outlasted its wait: in place of its preview (and approval)."""
    action = res.action
    if action is None:
        return
    try:
        msg = outcome_message(res)
        if not _update(client, action.channel_id or click.channel_id, action.message_ts, msg):
            _webhook(
                click.response_url, {"text": msg.text, "blocks": msg.as_dicts(), "replace_original": True}
            )
        if action.approval_ts:
            _update(client, action.channel_id, action.approval_ts, msg)
        if msg.file is not None:
            _upload(client, action.channel_id or click.channel_id, msg)
    except Exception:  # a worker thread: log, never raise into the pool
        log.exception("could not post the late outcome of %s", action.handler)


def expire_and_update(runtime: Runtime, now: datetime) -> None:
    """Scheduler participant: expire what nobody confirmed, and take the buttons off its messages."""
    for res in runtime.guard.expire_due(now):
        if runtime.slack is None or res.action is None:
            continue
        msg = outcome_message(res)
        _update_preview(runtime.slack, res.action, msg)
        if res.action.approval_ts:
            _update(runtime.slack, res.action.channel_id, res.action.approval_ts, msg)


# -- Slack calls ------------------------------------------------------------------------


def _webhook(url: str | None, payload: dict[str, Any]) -> bool:
    if not url:
        return False
    try:
        resp = WebhookClient(url=url, timeout=WEBHOOK_TIMEOUT).send_dict(payload)
    except Exception as exc:  # network trouble: the caller falls back to the Web API
        log.warning("response_url post failed: %s", type(exc).__name__)
        return False
    if resp.status_code != 200:
        log.warning("response_url answered %s: %s", resp.status_code, resp.body[:200])
        return False
    return True


def _update(client: WebClient | None, channel: str, ts: str | None, msg: Message) -> bool:
    if client is None or not channel or not ts:
        return False
    try:
        client.chat_update(channel=channel, ts=ts, text=msg.text, blocks=msg.as_dicts())
    except SlackApiError as exc:
        log.warning("chat.update %s/%s failed: %s", channel, ts, _error(exc))
        return False
    return True


def _replace(client: WebClient, click: Click, msg: Message) -> None:
    """Put `msg` in place of the clicked message (response_url first, chat.update second)."""
    payload = {"text": msg.text, "blocks": msg.as_dicts(), "replace_original": True}
    if not _webhook(click.response_url, payload):
        _update(client, click.channel_id, click.message_ts, msg)


def _update_preview(client: WebClient, action: PendingAction, msg: Message) -> None:
    """The preview message of an action decided elsewhere (approval message, expiry, console)."""
    if _update(client, action.channel_id, action.message_ts, msg):
        return
    _webhook(action.response_url, {"text": msg.text, "blocks": msg.as_dicts(), "replace_original": True})


def _ask_approval(runtime: Runtime, client: WebClient, click: Click, action: PendingAction) -> None:
    msg = approval_message(action, runtime.guard.approvers)
    channel = action.channel_id or click.channel_id
    try:
        resp = client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.as_dicts())
        runtime.guard.attach_approval(action.id, str(resp["ts"]))
        return
    except SlackApiError as exc:
        # Not a member of the channel, say: the click's response_url can still post there.
        log.info("approval request via chat.postMessage failed (%s); using response_url", _error(exc))
    payload = {
        "text": msg.text,
        "blocks": msg.as_dicts(),
        "response_type": "in_channel",
        "replace_original": False,
    }
    if not _webhook(click.response_url, payload):
        log.error("could not ask for approval of %s in %s", action.handler, channel)


def _ephemeral(client: WebClient, click: Click, msg: Message) -> None:
    payload = {
        "text": msg.text,
        "blocks": msg.as_dicts(),
        "response_type": "ephemeral",
        "replace_original": False,
    }
    if _webhook(click.response_url, payload):
        return
    try:
        client.chat_postEphemeral(
            channel=click.channel_id, user=click.user_id, text=msg.text, blocks=msg.as_dicts()
        )
    except SlackApiError as exc:
        log.error("could not answer %s in %s: %s", click.user_id, click.channel_id, _error(exc))


def _upload(client: WebClient, channel: str, msg: Message) -> None:
    title = msg.file_title or "output"
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in title.lower())[:60] or "output"
    try:
        client.files_upload_v2(channel=channel, content=msg.file, filename=f"{name}.txt", title=title)
    except SlackApiError as exc:
        log.warning("could not upload the whole output to %s: %s", channel, _error(exc))


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown error")) if exc.response is not None else str(exc)
