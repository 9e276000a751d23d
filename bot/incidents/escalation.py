"""The escalation ladder: while an incident is unacknowledged, notify each step's contacts.

The ladder is `severities[SEV].escalate` (default: the seeds' escalation matrix). Each step
is `after` (from the declaration) and `notify` (a contacts key or a Slack user/group id).
Steps that came due together (say, the bot was down) go out as one message naming everyone.
`escalation_step` counts the steps already notified; acknowledging the incident stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import ChatopsConfig, EscalationStep
from bot.incidents import messages
from bot.incidents.claims import Claim, Slot
from bot.incidents.poster import ExactlyOncePoster
from bot.incidents.records import Incident
from bot.incidents.slack_setup import contact_entities, invite, on_call_snapshot, post
from bot.incidents.slackapi import SlackStepError, mention
from bot.store.tables import incidents
from bot.store.timeline import add_event


def ladder(config: ChatopsConfig, severity: str) -> list[EscalationStep]:
    sev = config.severities.get(severity)
    return sorted(sev.escalate, key=lambda s: s.after) if sev else []


def due_at(config: ChatopsConfig, severity: str, declared_at: datetime, step: int) -> datetime | None:
    """When step number `step` (0-based) is due; None past the ladder's end."""
    steps = ladder(config, severity)
    return declared_at + steps[step].after if step < len(steps) else None


@dataclass(frozen=True)
class Plan:
    first: int  # 0-based index of the first step to notify now
    next_step: int  # escalation_step once posted
    steps: tuple[tuple[int, str, tuple[str, ...]], ...]  # (1-based number, notify, ids)
    total: int


class Escalations(ExactlyOncePoster):
    kind = "escalation"
    slot = Slot(
        due=incidents.c.next_escalation_due,
        lease=incidents.c.escalation_claimed_at,
        only=(incidents.c.acknowledged_at.is_(None),),
    )

    on_call: dict[str, list[str]] | None = None

    def run(self, now: datetime) -> int:
        # rotation:NAME contacts are read now: `plan` runs inside the claim transaction.
        self.on_call = on_call_snapshot(self.desk, now)
        return super().run(now)

    def plan(self, inc: Incident, now: datetime) -> tuple[datetime | None, Any]:
        steps = ladder(self.desk.config, inc.severity)
        k = inc.escalation_step
        due_now = []
        while k < len(steps) and inc.declared_at + steps[k].after <= now:
            notify = steps[k].notify
            due_now.append((k + 1, notify, tuple(contact_entities(self.desk, [notify], self.on_call))))
            k += 1
        new_due = due_at(self.desk.config, inc.severity, inc.declared_at, k)
        if not due_now:
            return new_due, None
        return new_due, Plan(inc.escalation_step, k, tuple(due_now), len(steps))

    def send(self, claim: Claim, now: datetime) -> None:
        plan: Plan = claim.plan
        inc = claim.incident
        notes: list[str] = []
        everyone = [e for _, _, ids in plan.steps for e in ids]
        if inc.channel_id and everyone:
            # Mentioning people outside a channel does not notify them: bring them in first.
            try:
                invite(self.desk, inc.channel_id, everyone)
            except SlackStepError as exc:
                notes.append(f"Could not invite everyone to the channel: {exc}")
        text, blocks = messages.escalation(
            self.desk.config,
            inc,
            now,
            steps=[(n, who, list(ids)) for n, who, ids in plan.steps],
            total=plan.total,
            notes=notes,
        )
        post(self.desk, inc, text, blocks)

    def posted_values(self, claim: Claim) -> dict[str, Any] | None:
        plan: Plan = claim.plan
        return {"escalation_step": plan.next_step}

    def after_posted(self, claim: Claim, now: datetime) -> None:
        plan: Plan = claim.plan
        for number, who, ids in plan.steps:
            named = " ".join(mention(e) for e in ids) or "nobody configured"
            add_event(
                self.desk.engine,
                claim.incident.id,
                kind="escalation",
                author="chatops",
                text=f"Escalation step {number}/{plan.total} ({who}): {named}",
                at=now,
                data={"step": number, "notify": who, "ids": list(ids)},
            )
        steps = ladder(self.desk.config, claim.incident.severity)
        paged = [n for n, _, _ in plan.steps if n - 1 < len(steps) and steps[n - 1].page]
        if paged:  # an escalation step with `page: true` pages (bot.oncall.paging)
            self.desk.emit("escalated", claim.incident, "chatops", step=paged[0])
