"""Who may run what (access), and destructive actions held until confirmed (and approved).

    guard.check(user_id, spec, target) -> Decision
    guard.request(req, spec, params, target, preview) -> NeedsConfirmation | Refused | Failed
    guard.confirm / cancel / approve / reject(action_id, user_id, where=MessageRef) -> ActionResult

Front ends (the Slack listeners, the console) render the `ActionResult`; nothing in this
package talks to Slack.
"""

from __future__ import annotations

from bot.guard.access import Access, Decision, GroupResolver
from bot.guard.actions import Guard
from bot.guard.outcome import ActionResult, Kind, mention
from bot.guard.pending import MessageRef, PendingAction, Status

__all__ = [
    "Access",
    "ActionResult",
    "Decision",
    "GroupResolver",
    "Guard",
    "Kind",
    "MessageRef",
    "PendingAction",
    "Status",
    "mention",
]
