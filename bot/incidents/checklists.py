"""The seeds' response checklist for each severity, posted in the incident channel.

Drawn from the seed runbooks: the severity table (response times and escalation, seeds 001,
002, 003), "P1 Critical Incident Response" (immediate actions, investigation, resolution,
post-incident: seed 001), the communication protocol and escalation matrix (seed 002), and
the response process (detection → assessment → communication → mitigation → resolution →
post-mortem: seeds 000 and 003). Commands are shown under their configured slash names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Checklist:
    severity: str
    response: str  # how fast someone must be on it
    escalation: str  # the seeds' escalation line for this severity
    sections: tuple[tuple[str, tuple[str, ...]], ...]


_ACK = "Acknowledge the incident (the *Acknowledge* button): it stops the escalation ladder"
_ROLES = "Name the roles: `{incident} assign commander|tech-lead|comms-lead|db-lead @user`"
_ASSESS = (
    "Assess: `{health} SERVICE`, `{k8s} pods -n NAMESPACE`, `{k8s} events -n NAMESPACE`; "
    "which systems and how many users are affected"
)
_LOGS = "Check the logs for errors: `{k8s} logs DEPLOYMENT -n NAMESPACE`"
_METRICS = "Check metrics: CPU, memory, error rate, request latency (`{k8s} top`, dashboards)"
_CHANGES = "Check recent changes: deployments and config changes in the last 2 hours"
_DATA = "Check the database and cache: `{db} activity`, `{db} locks`, `{redis} info`"
_UPDATES = "Post `{incident} update TEXT` every {every} (the bot reminds the commander)"
_FIX = "Mitigate: roll back the last deployment, apply a hotfix, scale up, or degrade gracefully"
_VERIFY = "Verify the fix: health checks and critical endpoints, then monitor for 30 minutes"
_RESOLVE = "`{incident} resolve SUMMARY` when service is restored"
_PM = "Within 24–48 hours: `{incident} postmortem` (timeline, root cause, impact, action items)"
_RUNBOOKS = "Update the runbooks and add the monitoring, alerts and tests that would have caught it"

CHECKLISTS: dict[str, Checklist] = {
    "P0": Checklist(
        "P0",
        response="5 minutes",
        escalation="immediately to on-call; senior engineer at 5m, manager at 15m, CTO at 30m",
        sections=(
            (
                "Immediate (0–5 minutes)",
                (
                    _ACK,
                    _ROLES,
                    _ASSESS,
                    "Update the status page and notify stakeholders and affected customers",
                    "Page the on-call engineers; open a call if the channel is not enough",
                ),
            ),
            ("Investigation", (_LOGS, _METRICS, _CHANGES, _DATA)),
            ("Mitigation and resolution", (_FIX, _VERIFY, _UPDATES, _RESOLVE)),
            ("After", (_PM, _RUNBOOKS)),
        ),
    ),
    "P1": Checklist(
        "P1",
        response="15 minutes",
        escalation="on-call at 15m, senior engineer at 30m, manager at 1h",
        sections=(
            (
                "Immediate (0–15 minutes)",
                (
                    _ACK,
                    _ROLES,
                    _ASSESS,
                    "Update the status page; notify affected customers if they notice",
                ),
            ),
            ("Investigation (15–60 minutes)", (_LOGS, _METRICS, _CHANGES, _DATA)),
            ("Resolution", (_FIX, _VERIFY, _UPDATES, _RESOLVE)),
            ("After", (_PM, _RUNBOOKS)),
        ),
    ),
    "P2": Checklist(
        "P2",
        response="1 hour",
        escalation="on-call at 1h, senior engineer at 2h, manager at 4h",
        sections=(
            ("First hour", (_ACK, "Name an incident commander", _ASSESS)),
            ("Investigation", (_LOGS, _METRICS, _CHANGES)),
            ("Resolution", (_FIX, _VERIFY, _UPDATES, _RESOLVE)),
            ("After", (_PM,)),
        ),
    ),
    "P3": Checklist(
        "P3",
        response="24 hours",
        escalation="on-call at 24h, senior engineer at 48h",
        sections=(
            ("Within a day", (_ACK, _ASSESS, "Decide whether it needs a fix now or a ticket")),
            ("Resolution", (_FIX, _UPDATES, _RESOLVE)),
        ),
    ),
}


def for_severity(severity: str) -> Checklist:
    """The checklist for a severity; a custom severity (P4…) gets the lowest one's."""
    return CHECKLISTS.get(severity) or CHECKLISTS["P3"]


def checklist_text(severity: str, label: str, every: str, command: Callable[[str], str]) -> str:
    """The checklist as Slack mrkdwn with `[ ]` boxes."""
    cl = for_severity(severity)
    names = {k: command(k) for k in ("incident", "health", "k8s", "db", "redis")}
    lines = [
        f"*{severity} ({label}) response checklist* — respond within {cl.response}; "
        f"escalation: {cl.escalation}."
    ]
    for title, items in cl.sections:
        lines.append(f"\n*{title}*")
        lines += [f"☐ {item.format(every=every, **names)}" for item in items]
    return "\n".join(lines)
