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
    UserMultiSelectElement,
    UserSelectElement,
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
COMMANDER, RESPONDERS, INCIDENT = "commander", "responders", "incident"
MAX_RESPONDERS = 30  # people picked in the form; groups and contacts come from chatops.yaml
DESCRIPTION_MAX = 2000


def _select(options: list[tuple[str, str]], initial: str | None, placeholder: str) -> StaticSelectElement:
    opts = [Option(value=v, label=text) for v, text in options[:MAX_OPTIONS]]
    first = next((o for o in opts if o.value == initial), None)
    return StaticSelectElement(action_id="value", options=opts, initial_option=first, placeholder=placeholder)


def _what_blocks(config: ChatopsConfig, severity: str | None, title: str, service: str | None) -> list[Block]:
    """Severity, title and (when there are services) the service of the declare form."""
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
    return blocks


def _description_block(description: str) -> Block:
    return InputBlock(
        block_id=DESCRIPTION,
        label="Description",
        optional=True,
        element=PlainTextInputElement(
            action_id="value",
            multiline=True,
            max_length=DESCRIPTION_MAX,
            initial_value=description[:DESCRIPTION_MAX] or None,
        ),
    )


def _people_blocks(user: str | None) -> list[Block]:
    """Commander (`user` by default) and responders of the declare form."""
    return [
        InputBlock(
            block_id=COMMANDER,
            label="Incident commander",
            optional=True,
            hint="Leave empty to take the role yourself.",
            element=UserSelectElement(action_id="value", initial_user=user or None, placeholder="Who leads?"),
        ),
        InputBlock(
            block_id=RESPONDERS,
            label="Responders",
            optional=True,
            hint="Invited to the channel with the on-call contacts and the service's contacts.",
            element=UserMultiSelectElement(
                action_id="value", placeholder="Who else?", max_selected_items=MAX_RESPONDERS
            ),
        ),
    ]


def declare(
    config: ChatopsConfig,
    *,
    severity: str | None = None,
    title: str = "",
    service: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    user: str | None = None,
    description: str = "",
    source: str = "",
) -> View:
    """The declare form; `user` is the default commander, `source` a line about the message
    it was opened from (that message goes on the timeline)."""
    blocks = [
        *_what_blocks(config, severity, title, service),
        _description_block(description),
        *_people_blocks(user),
    ]
    if source:
        blocks.append(context(source))
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


def timeline_add(
    config: ChatopsConfig, open_incidents: list[Incident], *, preview: str, metadata: Mapping[str, Any]
) -> View:
    """Pick the open incident whose timeline gets the message (newest first)."""
    options = [(str(i.id), f"#{i.id} {headline(config, i)}"[:75]) for i in reversed(open_incidents)]
    return View(
        type="modal",
        callback_id=CallbackId.TIMELINE_ADD.value,
        title="Add to incident timeline",
        submit="Add",
        close="Cancel",
        blocks=[
            context(preview),
            InputBlock(
                block_id=INCIDENT, label="Incident", element=_select(options, None, "Which incident?")
            ),
        ],
        private_metadata=json.dumps(dict(metadata)),
    )


def notice(title: str, text: str) -> View:
    """A modal that only says something (nothing to submit)."""
    return View(type="modal", title=title[:24], close="Close", blocks=[context(text)])


def values(view: Mapping[str, Any]) -> dict[str, Any]:
    """{block_id: text | selected value | [checked values] | None} from a submitted view's state."""
    out: dict[str, Any] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, elements in state.items():
        element = (elements or {}).get("value") or {}
        kind = element.get("type")
        if kind == "static_select":
            out[block_id] = (element.get("selected_option") or {}).get("value")
        elif kind == "users_select":
            out[block_id] = element.get("selected_user")
        elif kind == "multi_users_select":
            out[block_id] = [str(u) for u in element.get("selected_users") or []]
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
