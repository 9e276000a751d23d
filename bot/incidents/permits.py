"""Who may change an incident: the command-level policy (bot/guard/commands.py) for /incident,
its buttons and its forms alike. A refusal is an `IncidentNotAllowed`, audited as refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.guard.commands import CommandPolicy
from bot.incidents.records import Incident, IncidentError

if TYPE_CHECKING:
    from bot.runtime import Runtime


class IncidentNotAllowed(IncidentError):
    """The user may not do this to this incident; the message names who may."""


def permit(
    runtime: Runtime, user: str, name: str, *, incident: Incident | None = None, severity: str | None = None
) -> None:
    """Raise IncidentNotAllowed unless `user` may run `name` (`incident.resolve`…) on `incident`."""
    owners = {incident.commander, *incident.roles.values()} if incident is not None else set()
    decision = CommandPolicy(runtime.access).check(
        user, name, severity=severity, owners=owners, ref=incident.ref if incident is not None else ""
    )
    if not decision.allowed:
        raise IncidentNotAllowed(f":no_entry: {decision.reason}")
