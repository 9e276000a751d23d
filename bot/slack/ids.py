"""Every action_id and callback_id the bot uses: enum values, never string literals in listeners."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    CONFIRM = "guard.confirm"
    CANCEL = "guard.cancel"
    APPROVE = "guard.approve"
    REJECT = "guard.reject"
    INCIDENT_ACK = "incident.ack"
    INCIDENT_UPDATE = "incident.update"
    INCIDENT_RUNBOOK = "incident.runbook"
    INCIDENT_RESOLVE = "incident.resolve"
    INCIDENT_SNOOZE = "incident.snooze"
    RUNBOOK_STEP = "runbook.step"


class CallbackId(StrEnum):
    INCIDENT_DECLARE = "incident.declare"
    INCIDENT_UPDATE = "incident.update"
    INCIDENT_RESOLVE = "incident.resolve"
