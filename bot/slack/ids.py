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
    # Shortcuts (their callback ids are also in deploy/slack-app-manifest.yaml).
    SHORTCUT_DECLARE = "declare_incident"
    SHORTCUT_DECLARE_FROM_MESSAGE = "declare_incident_from_message"
    SHORTCUT_ADD_TO_TIMELINE = "add_to_incident_timeline"
    # Modals opened from them and from App Home.
    TIMELINE_ADD = "incident.timeline.add"
    RUNBOOK_RUN = "runbook.run"
    INCIDENT_SNOOZE = "incident.snooze"
    # Three snooze buttons sit in one block, and Slack wants action_ids unique within a block.
    INCIDENT_SNOOZE_15 = "incident.snooze.15"
    INCIDENT_SNOOZE_30 = "incident.snooze.30"
    INCIDENT_SNOOZE_60 = "incident.snooze.60"
    INCIDENT_RUNBOOK_PICK = "incident.runbook.pick"
    RUNBOOK_STEP = "runbook.step"
    HOME_DECLARE = "home.declare"
    HOME_RUNBOOK = "home.runbook"
    # Confirm / Cancel / Approve / Reject shown in App Home (the value is the pending action id).
    HOME_CONFIRM = "home.confirm"
    HOME_CANCEL = "home.cancel"
    HOME_APPROVE = "home.approve"
    HOME_REJECT = "home.reject"


class CallbackId(StrEnum):
    INCIDENT_DECLARE = "incident.declare"
    INCIDENT_UPDATE = "incident.update"
    INCIDENT_RESOLVE = "incident.resolve"
    # Shortcuts (their callback ids are also in deploy/slack-app-manifest.yaml).
    SHORTCUT_DECLARE = "declare_incident"
    SHORTCUT_DECLARE_FROM_MESSAGE = "declare_incident_from_message"
    SHORTCUT_ADD_TO_TIMELINE = "add_to_incident_timeline"
    # Modals opened from them and from App Home.
    TIMELINE_ADD = "incident.timeline.add"
    RUNBOOK_RUN = "runbook.run"
