"""The Slack implementation of `Responder`: response_url for answers, files for long output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.charts.upload import upload_charts
from bot.executor import NeedsConfirmation
from bot.guard import Guard, MessageRef
from bot.render.slack import result_blocks, section
from bot.slack.confirm import Offer, preview_message
from bot.store import utcnow
from handlers.redact import redact
from handlers.results import Result

log = logging.getLogger(__name__)


class SlackResponder:
    def __init__(
        self,
        *,
        respond: Callable[..., object],  # Bolt's Respond, a ResponseUrl, or the ack itself
        client: WebClient,
        channel_id: str,
        user_id: str,
        guard: Guard | None = None,
    ) -> None:
        self._respond = respond
        self.client = client
        self.channel_id = channel_id
        self.user_id = user_id
        # Lets a preview remember where it was posted (optional).
        self.guard = guard

    def _send(self, **kwargs: Any) -> None:
        try:
            self._respond(**kwargs)
        except Exception as exc:
            # response_url expired or unreachable: fall back to an ephemeral message.
            log.warning("response_url failed (%s); falling back to chat.postEphemeral", exc)
            try:
                self.client.chat_postEphemeral(
                    channel=self.channel_id,
                    user=self.user_id,
                    text=kwargs.get("text", ""),
                    blocks=kwargs.get("blocks"),
                )
            except SlackApiError as exc2:
                log.error("could not answer %s in %s: %s", self.user_id, self.channel_id, exc2)

    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        self._send(
            text=text,
            blocks=[b.to_dict() for b in blocks] if blocks else [section(text).to_dict()],
            response_type="ephemeral" if ephemeral else "in_channel",
            replace_original=False,
        )

    def error(self, text: str) -> None:
        text = redact(text)
        shown = text if text.startswith(":") else f":warning: {text}"
        self.say(shown, ephemeral=True)

    def result(self, result: Result, *, heading: str = "") -> None:
        rendered = result_blocks(result)
        self._send(
            text=rendered.text or heading,
            blocks=rendered.as_dicts(),
            response_type="in_channel",
            replace_original=False,
        )
        if rendered.file is not None:
            self.upload(rendered.file, title=result.title or heading or "output")
        if self.client is not None:
            for problem in upload_charts(self.client, self.channel_id, result):
                self.say(f":warning: {problem}", ephemeral=True)

    def upload(self, content: str, *, title: str) -> None:
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in title.lower())[:60] or "output"
        try:
            self.client.files_upload_v2(
                channel=self.channel_id, content=content, filename=f"{name}.txt", title=title
            )
        except SlackApiError as exc:
            err = exc.response.get("error", "unknown error") if exc.response is not None else str(exc)
            self.say(
                f":warning: The whole output could not be uploaded as a file ({err}); "
                "invite the bot to this channel to get long output as files.",
                ephemeral=True,
            )

    def ask_confirmation(self, outcome: NeedsConfirmation) -> None:
        """Show a destructive request's preview with Confirm / Cancel in the channel.

        Posted with chat.postMessage so that its outcome, its expiry or a decision taken
        elsewhere can replace it later; where the bot may not post (not a member of the
        channel), it answers through the command's response_url instead.
        """
        action = self.guard.get(outcome.action_id) if self.guard is not None else None
        offer = (
            Offer.of(action)
            if action is not None
            else Offer(
                action_id=outcome.action_id,
                requester=self.user_id,
                handler=outcome.spec.name,
                where=outcome.target.describe() or "its target",
                preview=outcome.preview,
                needs_approval=outcome.needs_approval,
                expires_at=utcnow() + timedelta(seconds=outcome.expires_in),
            )
        )
        approvers = self.guard.approvers if self.guard is not None else []
        msg = preview_message(offer, approvers)
        if self.client is not None:
            try:
                resp = self.client.chat_postMessage(
                    channel=self.channel_id, text=msg.text, blocks=msg.as_dicts()
                )
                if self.guard is not None:
                    ref = MessageRef(str(resp.get("channel") or self.channel_id), str(resp["ts"]))
                    self.guard.attach_message(outcome.action_id, ref)
                return
            except SlackApiError as exc:
                err = exc.response.get("error", "") if exc.response is not None else str(exc)
                log.info("preview not posted with chat.postMessage (%s); using response_url", err)
        self._send(text=msg.text, blocks=msg.as_dicts(), response_type="in_channel", replace_original=False)
