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
    # Three snooze buttons sit in one block, and Slack wants action_ids unique within a block.
    INCIDENT_SNOOZE_15 = "incident.snooze.15"
    INCIDENT_SNOOZE_30 = "incident.snooze.30"
    INCIDENT_SNOOZE_60 = "incident.snooze.60"
    INCIDENT_RUNBOOK_PICK = "incident.runbook.pick"
    RUNBOOK_STEP = "runbook.step"


class CallbackId(StrEnum):
    INCIDENT_DECLARE = "incident.declare"
    INCIDENT_UPDATE = "incident.update"
    INCIDENT_RESOLVE = "incident.resolve"
