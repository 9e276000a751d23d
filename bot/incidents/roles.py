"""The seeds' incident roles, how users are typed, and the channel topic that shows them."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.incidents.records import Incident, IncidentError

# Canonical role → (label in messages, short label in the topic). Seed 000 "Incident Response Team".
ROLES: dict[str, tuple[str, str]] = {
    "commander": ("Incident commander", "IC"),
    "tech-lead": ("Technical lead", "Tech"),
    "comms-lead": ("Communication lead", "Comms"),
    "db-lead": ("Database lead", "DB"),
}
_ALIASES = {
    "commander": "commander",
    "ic": "commander",
    "incident-commander": "commander",
    "tech-lead": "tech-lead",
    "tech": "tech-lead",
    "technical-lead": "tech-lead",
    "tl": "tech-lead",
    "comms-lead": "comms-lead",
    "comms": "comms-lead",
    "communication-lead": "comms-lead",
    "communications-lead": "comms-lead",
    "db-lead": "db-lead",
    "db": "db-lead",
    "database-lead": "db-lead",
    "dba": "db-lead",
}
TOPIC_LIMIT = 250  # Slack's limit for a channel topic

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")


def parse_role(word: str) -> str:
    role = _ALIASES.get(word.lower().replace("_", "-"))
    if role is None:
        raise IncidentError(
            f"Unknown role `{word}`. "
            "Roles: commander (ic), tech-lead (tech), comms-lead (comms), db-lead (db)."
        )
    return role


def parse_user(word: str) -> str:
    """A Slack user as typed: `<@U123|name>` (Slack's escaping), `<@U123>` or `U123`."""
    m = _USER.match(word.strip())
    if not m:
        raise IncidentError(
            f"`{word}` is not a Slack user: mention them with @ and pick them from the list "
            "(the command needs Slack's user mention, `<@U…>`)."
        )
    return m.group(1) or m.group(2)


def topic(incident: Incident, name: Callable[[str], str]) -> str:
    """`P1 | Investigating | IC: @alice | Tech: @bob`, within Slack's 250 characters."""
    parts = [incident.severity, incident.status.capitalize()]
    roles = dict(incident.roles)
    roles.setdefault("commander", incident.commander)
    for role, (_label, short) in ROLES.items():
        if roles.get(role):
            parts.append(f"{short}: @{name(roles[role])}")
    text = " | ".join(parts)
    return text if len(text) <= TOPIC_LIMIT else text[: TOPIC_LIMIT - 1] + "…"
