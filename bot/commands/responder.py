"""How a command answers: Slack and the console each implement this."""

from __future__ import annotations

from typing import Protocol

from slack_sdk.models.blocks import Block

from handlers.results import Result


class Responder(Protocol):
    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        """Answer with text (mrkdwn) and optional blocks; ephemeral = only the requester sees it."""

    def result(self, result: Result, *, heading: str = "") -> None:
        """Show a handler's result (the Slack responder uploads what does not fit)."""

    def error(self, text: str) -> None:
        """Tell the requester what went wrong (ephemeral)."""
