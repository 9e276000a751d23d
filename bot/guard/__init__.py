"""Who may run what (access), destructive actions held until confirmed (and approved).

    Access.check(user_id, spec, target) -> Decision                      (policy)
    ActionStore.hold(req, spec, params, target, preview, needs_approval)   (the pending-action store)
    Guard.confirm / cancel / approve / reject(action_id, user_id, where=MessageRef) -> ActionResult
                                                                           (the confirm flow)

The confirm flow runs a confirmed action through the `RunConfirmed` it is given (the
executor's `run_confirmed`); the executor holds requests through `ActionStore.hold`. Front
ends (the Slack listeners, the console) render the `ActionResult`; nothing in this package
talks to Slack.
"""

from __future__ import annotations

from bot.guard.access import Access, Decision, GroupResolver
from bot.guard.flow import Guard, RunConfirmed
from bot.guard.outcome import ActionResult, ActionResultKind, mention
from bot.guard.pending import MessageRef, PendingAction, Status
from bot.guard.store import ActionStore

__all__ = [
    "Access",
    "ActionResult",
    "ActionResultKind",
    "ActionStore",
    "Decision",
    "GroupResolver",
    "Guard",
    "MessageRef",
    "PendingAction",
    "RunConfirmed",
    "Status",
    "mention",
]
