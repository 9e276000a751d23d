"""The Run runbook modal (App Home's button) and reading it back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.runbooks.model import Runbook
from bot.slack.ids import CallbackId

MAX_OPTIONS = 100  # Slack's limit for a static select
PARAMS_MAX = 500
RUNBOOK, PARAMS, CHANNEL = "runbook", "params", "channel"


def run_runbook(runbooks: Mapping[str, Runbook], *, metadata: Mapping[str, Any] | None = None) -> View:
    names = sorted(runbooks)[:MAX_OPTIONS]
    options = [Option(value=n, label=f"{n} — {runbooks[n].title}"[:75]) for n in names]
    blocks: list[Any] = [
        InputBlock(
            block_id=RUNBOOK,
            label="Runbook",
            element=StaticSelectElement(action_id="value", options=options, placeholder="Which runbook?"),
        ),
        InputBlock(
            block_id=PARAMS,
            label="Parameters",
            optional=True,
            hint="key=value, space separated, as after `/runbook run NAME`.",
            element=PlainTextInputElement(action_id="value", max_length=PARAMS_MAX),
        ),
        InputBlock(
            block_id=CHANNEL,
            label="Post the progress in",
            element=ConversationSelectElement(
                action_id="value",
                placeholder="A channel the bot is in",
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
    ]
    if len(runbooks) > MAX_OPTIONS:
        more = len(runbooks) - MAX_OPTIONS
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=f"{more} more runbooks: run them with `/runbook run NAME`.")
                ]
            )
        )
    return View(
        type="modal",
        callback_id=CallbackId.RUNBOOK_RUN.value,
        title="Run a runbook",
        submit="Run",
        close="Cancel",
        blocks=blocks,
        private_metadata=json.dumps(dict(metadata or {})),
    )


def values(view: Mapping[str, Any]) -> dict[str, str]:
    """{runbook, params, channel} from a submitted Run runbook form."""
    state = (view.get("state") or {}).get("values") or {}

    def element(block: str) -> Mapping[str, Any]:
        return (state.get(block) or {}).get("value") or {}

    return {
        RUNBOOK: str((element(RUNBOOK).get("selected_option") or {}).get("value") or ""),
        PARAMS: " ".join(str(element(PARAMS).get("value") or "").split())[:PARAMS_MAX],
        CHANNEL: str(element(CHANNEL).get("selected_conversation") or ""),
    }
