"""Block Kit for guarded actions: the preview to confirm, the approval request, the outcome.

Every button's value is the pending action's id and nothing else: who asked, what runs and
where are read back from the store when someone clicks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
)

from bot.guard import ActionResult, ActionResultKind, PendingAction, mention
from bot.render.slack import MAX_BLOCKS, TEXT_LIMIT, context, escape, result_blocks, section
from bot.slack.ids import ActionId
from handlers.results import Preview

MAX_DETAILS = 20  # preview detail lines shown; the rest are counted
# Mentions and dates the Guard's messages carry on purpose survive escaping; nothing else does.
_TOKEN = re.compile(r"&lt;((?:@|!subteam\^|!date\^)[^&\s]*?)&gt;")


def mrkdwn(text: str) -> str:
    """A Guard message made safe for mrkdwn: `<`, `>` and `&` escaped, mentions kept."""
    return _TOKEN.sub(r"<\1>", escape(text))


@dataclass(frozen=True)
class Offer:
    """What a preview shows, from a fresh request or from the stored action."""

    action_id: str
    requester: str
    handler: str
    where: str
    preview: Preview
    needs_approval: bool
    expires_at: datetime
    command_line: str = ""

    @staticmethod
    def of(action: PendingAction) -> Offer:
        return Offer(
            action_id=action.id,
            requester=action.requester,
            handler=action.handler,
            where=action.where,
            preview=action.preview,
            needs_approval=action.needs_approval,
            expires_at=action.expires_at,
            command_line=action.command_line,
        )


@dataclass
class Message:
    """A message to post or to put in place of another: text (notification), blocks, a file."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    file: str | None = None  # the whole result when the blocks had to cut it
    file_title: str = ""

    def as_dicts(self) -> list[dict[str, object]]:
        return [b.to_dict() for b in self.blocks]


def slack_time(at: datetime) -> str:
    """A time every reader sees in their own time zone (UTC as the fallback)."""
    return f"<!date^{int(at.timestamp())}^{{time}}|{at.strftime('%H:%M UTC')}>"


def approver_mentions(approvers: Sequence[str]) -> str:
    return ", ".join(mention(a) for a in approvers) or "an approver"


def _change(preview: Preview) -> str:
    """The preview as one section: the summary, then as many details as fit, then a count."""
    lines = [f"*Would change:* {escape(_clip(preview.summary, 1000))}"]
    details = list(preview.details)
    room = TEXT_LIMIT - len(lines[0]) - 40  # keep space for the "and N more" line
    shown = 0
    for detail in details[:MAX_DETAILS]:
        line = f"• {escape(_clip(detail, 300))}"
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
        shown += 1
    if shown < len(details):
        lines.append(f"… and {len(details) - shown} more")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dialog(title: str, text: str, yes: str, style: str | None = None) -> ConfirmObject:
    """Slack's "are you sure?" dialog on a button, clipped to its limits (title 100, text 300)."""
    return ConfirmObject(
        title=_clip(title, 100), text=_clip(text, 300), confirm=yes, deny="Go back", style=style
    )


def preview_message(offer: Offer, approvers: Sequence[str]) -> Message:
    """The preview with Confirm (and Slack's confirm dialog) and Cancel."""
    who = mention(offer.requester)
    intro = f":warning: {who} asks to run `{offer.handler}` on *{escape(offer.where)}*."
    notes = [f"Nothing has run yet. Only {who} can confirm, until {slack_time(offer.expires_at)}."]
    if offer.needs_approval:
        notes.append(f"After that, an approver ({approver_mentions(approvers)}) must approve it.")
    if offer.command_line:
        notes.append(f"`{escape(_clip(offer.command_line, 200))}`")
    confirm = ButtonElement(
        text="Confirm",
        action_id=ActionId.CONFIRM.value,
        value=offer.action_id,
        style="danger",
        confirm=_dialog(
            f"Run {offer.handler}?",
            f"{escape(offer.preview.summary)} ({escape(offer.where)})",
            "Yes, run it" if not offer.needs_approval else "Yes, confirm",
            style="danger",
        ),
    )
    cancel = ButtonElement(text="Cancel", action_id=ActionId.CANCEL.value, value=offer.action_id)
    return Message(
        text=f"{offer.handler} on {offer.where}: {offer.preview.summary} (confirm or cancel)",
        blocks=[
            section(intro),
            section(_change(offer.preview)),
            context(" ".join(notes)),
            ActionsBlock(block_id=f"guard.{offer.action_id[:8]}", elements=[confirm, cancel]),
        ],
    )


def awaiting_message(action: PendingAction, approvers: Sequence[str]) -> Message:
    """The preview once its requester confirmed: waiting for an approver; Cancel still works."""
    offer = Offer.of(action)
    cancel = ButtonElement(text="Cancel", action_id=ActionId.CANCEL.value, value=action.id)
    return Message(
        text=f"{action.handler} on {action.where}: confirmed, waiting for an approver",
        blocks=[
            section(
                f":hourglass_flowing_sand: {mention(action.requester)} confirmed `{action.handler}` on "
                f"*{escape(action.where)}*. Waiting for an approver ({approver_mentions(approvers)}) "
                f"until {slack_time(offer.expires_at)}."
            ),
            section(_change(action.preview)),
            ActionsBlock(block_id=f"guard.{action.id[:8]}", elements=[cancel]),
        ],
    )


def approval_message(action: PendingAction, approvers: Sequence[str]) -> Message:
    """Posted in the channel once the requester confirmed: Approve (with a dialog) or Reject."""
    approve = ButtonElement(
        text="Approve",
        action_id=ActionId.APPROVE.value,
        value=action.id,
        style="primary",
        confirm=_dialog(
            f"Approve {action.handler}?",
            f"It runs as soon as you approve: {escape(action.preview.summary)}",
            "Approve and run",
        ),
    )
    reject = ButtonElement(text="Reject", action_id=ActionId.REJECT.value, value=action.id, style="danger")
    return Message(
        text=f"Approval needed: {action.handler} on {action.where}, requested by {action.requester}",
        blocks=[
            section(
                f":raised_hand: *Approval needed.* {mention(action.requester)} confirmed "
                f"`{action.handler}` on "
                f"*{escape(action.where)}*. {approver_mentions(approvers)}: please approve or reject."
            ),
            section(_change(action.preview)),
            context(
                f"The requester cannot approve their own request. Expires {slack_time(action.expires_at)}."
            ),
            ActionsBlock(block_id=f"guard.approve.{action.id[:8]}", elements=[approve, reject]),
        ],
    )


_ICON = {
    ActionResultKind.RUNNING: ":hourglass_flowing_sand:",
    ActionResultKind.EXECUTED: ":white_check_mark:",
    ActionResultKind.FAILED: ":x:",
    ActionResultKind.CANCELLED: ":no_entry_sign:",
    ActionResultKind.REJECTED: ":no_entry:",
    ActionResultKind.EXPIRED: ":hourglass:",
}


def outcome_message(res: ActionResult) -> Message:
    """What replaces the preview (and the approval request) once the action is over."""
    action = res.action
    icon = _ICON.get(res.kind, ":information_source:")
    head = section(f"{icon} {mrkdwn(res.message)}")
    if action is None:
        return Message(text=res.text, blocks=[head])
    # The Guard's message names who asked (and approved) once the action ran; say it otherwise.
    named = (ActionResultKind.EXECUTED, ActionResultKind.FAILED, ActionResultKind.RUNNING)
    footer = "" if res.kind in named else f"Requested by {mention(action.requester)}. "
    if action.command_line:
        footer += f"`{escape(_clip(action.command_line, 200))}`"
    blocks: list[Block] = [head]
    msg = Message(text=_clip(res.text, 300), blocks=blocks)
    if res.kind is ActionResultKind.EXECUTED and res.result is not None:
        # Room for the heading, the divider and the footer around the handler's result.
        rendered = result_blocks(res.result, max_blocks=MAX_BLOCKS - 3)
        blocks.append(DividerBlock())
        blocks += rendered.blocks
        if rendered.file is not None:
            msg.file = rendered.file
            msg.file_title = res.result.title or action.handler
    elif res.kind is ActionResultKind.FAILED and action.preview.summary:
        blocks.append(context(f"It was to change: {escape(action.preview.summary)}"))
    if footer:
        blocks.append(context(footer.strip()))
    return msg


def notice_message(res: ActionResult) -> Message:
    """A reply only the clicker sees: refused, unknown, already decided, store trouble."""
    icon = {
        ActionResultKind.REFUSED: ":no_entry:",
        ActionResultKind.UNKNOWN: ":grey_question:",
        ActionResultKind.ERROR: ":warning:",
    }.get(res.kind, ":information_source:")
    return Message(text=_clip(res.text, 300), blocks=[section(f"{icon} {mrkdwn(res.message)}")])
