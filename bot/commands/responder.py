"""How a command answers: Slack and the console each implement this."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from slack_sdk.models.blocks import Block

from handlers.results import Result

if TYPE_CHECKING:
    from bot.executor import NeedsConfirmation


class Responder(Protocol):
    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        """Answer with text (mrkdwn) and optional blocks; ephemeral = only the requester sees it."""

    def result(self, result: Result, *, heading: str = "") -> None:
        """Show a handler's result (the Slack responder uploads what does not fit)."""

    def error(self, text: str) -> None:
        """Tell the requester what went wrong (ephemeral)."""

    def ask_confirmation(self, outcome: NeedsConfirmation) -> None:
        """Show a destructive request's preview and let the requester confirm or cancel it."""


def preview_text(outcome: NeedsConfirmation) -> str:
    """A preview as plain mrkdwn, for answers that cannot carry Confirm / Cancel buttons."""
    lines = "\n".join(f"• {d}" for d in outcome.preview.details)
    return f"*Would change:* {outcome.preview.summary}\n{lines}\nNothing has been run.".strip()
