"""Modals: declare an incident, post an update, resolve. Their state is read back by `values`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.config import ChatopsConfig
from bot.incidents.messages import headline
from bot.incidents.records import RESOLVED, STATUSES, Incident
from bot.render.slack import context
from bot.slack.ids import CallbackId

MAX_OPTIONS = 100  # Slack's limit for a static select

# block ids (the keys of `ack(response_action="errors", errors=...)`); every element is "value".
SEVERITY, TITLE, SERVICE, DESCRIPTION = "severity", "title", "service", "description"
TEXT, STATUS, PUBLIC, SUMMARY = "text", "status", "public", "summary"


def _select(options: list[tuple[str, str]], initial: str | None, placeholder: str) -> StaticSelectElement:
    opts = [Option(value=v, label=text) for v, text in options[:MAX_OPTIONS]]
    first = next((o for o in opts if o.value == initial), None)
    return StaticSelectElement(action_id="value", options=opts, initial_option=first, placeholder=placeholder)


def declare(
    config: ChatopsConfig,
    *,
    severity: str | None = None,
    title: str = "",
    service: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> View:
    sevs = [(s, f"{s} — {c.label}") for s, c in sorted(config.severities.items())]
    blocks: list[Block] = [
        InputBlock(block_id=SEVERITY, label="Severity", element=_select(sevs, severity, "P0 … P3")),
        InputBlock(
            block_id=TITLE,
            label="Title",
            hint="What is broken, for whom: it names the channel.",
            element=PlainTextInputElement(action_id="value", initial_value=title or None, max_length=200),
        ),
    ]
    if config.services:
        services = [(s, s) for s in sorted(config.services)]
        blocks.append(
            InputBlock(
                block_id=SERVICE,
                label="Service",
                optional=True,
                element=_select(services, service, "Which service?"),
            )
        )
    blocks.append(
        InputBlock(
            block_id=DESCRIPTION,
            label="Description",
            optional=True,
            element=PlainTextInputElement(action_id="value", multiline=True, max_length=2000),
        )
    )
    return View(
        type="modal",
        callback_id=CallbackId.INCIDENT_DECLARE.value,
        title="Declare an incident",
        submit="Declare",
        close="Cancel",
        blocks=blocks,
        private_metadata=json.dumps(dict(metadata or {})),
    )


def update(config: ChatopsConfig, inc: Incident, *, metadata: Mapping[str, Any] | None = None) -> View:
    statuses = [(s, s.capitalize()) for s in STATUSES if s != RESOLVED]
    return View(
        type="modal",
        callback_id=CallbackId.INCIDENT_UPDATE.value,
        title=f"Update incident #{inc.id}"[:24],
        submit="Post update",
        close="Cancel",
        blocks=[
            context(headline(config, inc)),
            InputBlock(
                block_id=TEXT,
                label="What changed, what is next?",
                element=PlainTextInputElement(action_id="value", multiline=True, max_length=3000),
            ),
            InputBlock(block_id=STATUS, label="Status", element=_select(statuses, inc.status, "Status")),
            InputBlock(
                block_id=PUBLIC,
                label="Visibility",
                optional=True,
                element=CheckboxesElement(
                    action_id="value", options=[Option(value="public", label="Show on the status page")]
                ),
            ),
        ],
        private_metadata=json.dumps({"incident": inc.id, **dict(metadata or {})}),
    )


def resolve(config: ChatopsConfig, inc: Incident, *, metadata: Mapping[str, Any] | None = None) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.INCIDENT_RESOLVE.value,
        title=f"Resolve incident #{inc.id}"[:24],
        submit="Resolve",
        close="Cancel",
        blocks=[
            context(headline(config, inc) + " — resolving stops reminders and escalation."),
            InputBlock(
                block_id=SUMMARY,
                label="Summary: what fixed it?",
                optional=True,
                element=PlainTextInputElement(action_id="value", multiline=True, max_length=2000),
            ),
        ],
        private_metadata=json.dumps({"incident": inc.id, **dict(metadata or {})}),
    )


def values(view: Mapping[str, Any]) -> dict[str, Any]:
    """{block_id: text | selected value | [checked values] | None} from a submitted view's state."""
    out: dict[str, Any] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, elements in state.items():
        element = (elements or {}).get("value") or {}
        kind = element.get("type")
        if kind == "static_select":
            out[block_id] = (element.get("selected_option") or {}).get("value")
        elif kind == "checkboxes":
            out[block_id] = [o.get("value") for o in element.get("selected_options") or []]
        else:
            out[block_id] = element.get("value")
    return out


def metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
