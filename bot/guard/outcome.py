"""What a click (or a console command) on a pending action did: a value every front end renders."""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.guard.pending import PendingAction
from handlers.results import Result


class ActionResultKind(StrEnum):
    EXECUTED = "executed"  # it ran; `result` holds what the handler returned
    FAILED = "failed"  # it ran (or could not start) and failed; `error` says why
    RUNNING = "running"  # confirmed and still running; `later` resolves to how it ended
    AWAITING_APPROVAL = "awaiting_approval"  # confirmed; an approver must approve it now
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"  # nothing ran; it was not confirmed (or approved) in time
    REFUSED = "refused"  # this person may not do this; nothing changed
    ALREADY = "already"  # decided before (a double click, someone else was faster)
    UNKNOWN = "unknown"  # no such pending action
    ERROR = "error"  # the state store could not be reached; nothing ran


# Outcomes after which the message that offered the action should show the outcome instead.
FINAL = frozenset(
    {
        ActionResultKind.EXECUTED,
        ActionResultKind.FAILED,
        ActionResultKind.CANCELLED,
        ActionResultKind.REJECTED,
        ActionResultKind.EXPIRED,
    }
)
_MENTION = re.compile(r"<[@!](?:subteam\^)?([A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class ActionResult:
    """What a click (or a console command) on a pending action did.

    `message` is one or two sentences of Slack mrkdwn (mentions as `<@U…>`); `text` is the
    same for a terminal. `action` is the stored action as it is now (None when unknown).
    """

    kind: ActionResultKind
    message: str
    action: PendingAction | None = None
    result: Result | None = None
    error: str = ""
    actor: str = ""
    # RUNNING only: the final outcome, once the action ends (recorded and audited by then).
    later: Future[ActionResult] | None = None

    @property
    def ok(self) -> bool:
        """The person's click did what they asked (it ran, or was cancelled, rejected, passed on)."""
        return self.kind in (
            ActionResultKind.EXECUTED,
            ActionResultKind.RUNNING,
            ActionResultKind.AWAITING_APPROVAL,
            ActionResultKind.CANCELLED,
            ActionResultKind.REJECTED,
        )

    @property
    def final(self) -> bool:
        """The action is over: its message should be replaced by this outcome."""
        return self.kind in FINAL

    @property
    def text(self) -> str:
        return _MENTION.sub(r"@\1", self.message).replace("*", "").replace("`", "")


def mention(entry: str) -> str:
    """A Slack mention for a user id (U…/W…) or a user group id (S…)."""
    return f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>"


def hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


def minutes(delta: timedelta) -> str:
    mins = round(delta.total_seconds() / 60)
    return f"{mins} minute{'s' if mins != 1 else ''}" if mins else f"{int(delta.total_seconds())} seconds"
