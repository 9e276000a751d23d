"""The status-update reminder: a scheduler participant that posts what is due, exactly once.

Once `update_every` (per severity, default 30m) has passed since the last update (or the
declaration), the commander is reminded in the incident channel with buttons to post an
update or snooze. The claim moves the next due time to now + interval; see `claims`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.incidents import messages
from bot.incidents.claims import Claim, Slot
from bot.incidents.deps import IncidentDeps
from bot.incidents.escalation import Escalations
from bot.incidents.poster import ExactlyOncePoster
from bot.incidents.records import Incident
from bot.incidents.slack_setup import post
from bot.store.tables import incidents

if TYPE_CHECKING:
    from bot.runtime import Runtime


class Reminders(ExactlyOncePoster):
    kind = "reminder"
    slot = Slot(due=incidents.c.next_update_due, lease=incidents.c.reminder_claimed_at)

    def plan(self, inc: Incident, now: datetime) -> tuple[datetime | None, Any]:
        return now + self.desk.config.update_every(inc.severity), True

    def send(self, claim: Claim, now: datetime) -> None:
        text, blocks = messages.reminder(self.desk.config, claim.incident, now)
        post(self.desk, claim.incident, text, blocks)


def register(runtime: Runtime) -> None:
    """Add the reminder and escalation participants to the runtime's scheduler tick."""
    if runtime.scheduler is None:
        return
    desk = IncidentDeps.of(runtime)
    reminders = Reminders(desk)
    escalations = Escalations(desk)
    runtime.provide(reminders)
    runtime.provide(escalations)
    runtime.scheduler.add("incident-reminders", reminders)
    runtime.scheduler.add("incident-escalation", escalations)
