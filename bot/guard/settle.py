"""Outcomes of a click that run nothing: unknown ids, actions already decided, expiries,
refusals, and actions that cannot start. Each is audited and explained to the clicker."""

from __future__ import annotations

from datetime import datetime

from bot.guard import pending
from bot.guard.outcome import ActionResult, ActionResultKind, hhmm, mention, minutes
from bot.guard.pending import OPEN, MessageRef, PendingAction, Status
from bot.guard.store import ActionStore
from bot.store.audit import Event, Outcome


class Settle:
    """Closes or explains an action that will not run (bot.guard.flow.Guard asks it)."""

    def __init__(self, actions: ActionStore) -> None:
        self.actions = actions

    def find(
        self, action_id: str, user_id: str, verb: str, where: MessageRef | None, *, approval: bool
    ) -> PendingAction | ActionResult:
        action = self.actions.get(action_id)
        if action is None:
            self.actions.audit_unknown(user_id, verb, where.channel_id if where else "")
            return ActionResult(
                ActionResultKind.UNKNOWN,
                "This action is unknown here: it was never requested from this bot, or it was removed. "
                "Nothing was run.",
                actor=user_id,
            )
        if where is not None:
            if approval:
                if where.ts:
                    self.actions.attach_approval(action.id, where.ts)
            else:
                self.actions.attach_message(action.id, where)
        return action

    def not_open(self, action: PendingAction, user_id: str, now: datetime, verb: str) -> ActionResult:
        """Explain why a click on an action that is no longer waiting does nothing."""
        if action.status.open and action.expires_at <= now:
            return self.expire(action, user_id, now)
        at = action.finished_at or action.decided_at or action.confirmed_at
        when = f" at {hhmm(at)}" if at else ""
        status = action.status
        if status is Status.EXPIRED:
            return self.expire(action, user_id, now)
        if status is Status.CONFIRMED:
            msg = (
                f"Already confirmed by {mention(action.confirmed_by or action.requester)}: it is running now."
            )
        elif status is Status.EXECUTED:
            msg = f"Already done: `{action.handler}` on {action.where} ran{when}."
        elif status is Status.FAILED:
            msg = f"Already run: `{action.handler}` on {action.where} failed{when}: {action.result or ''}"
        elif status is Status.CANCELLED:
            msg = (
                f"This action was cancelled by {mention(action.decided_by or action.requester)}{when}; "
                "nothing was run. Ask again for a fresh preview."
            )
        elif status is Status.REJECTED:
            msg = f"This action was rejected by {mention(action.decided_by or '')}{when}; nothing was run."
        else:  # awaiting approval, and the click was a confirm or cancel race
            msg = "Already confirmed: it is waiting for an approver."
        self.actions.audit(action, user_id, Event.REFUSE, Outcome.REFUSED, f"{verb}: already {status.label}")
        return ActionResult(ActionResultKind.ALREADY, msg.strip(), action, actor=user_id)

    def expire(self, action: PendingAction, user_id: str, now: datetime) -> ActionResult:
        engine = self.actions.engine
        if pending.transition(engine, action.id, OPEN, Status.EXPIRED, expired_at=now, finished_at=now):
            self.actions.audit(
                action, user_id, Event.EXPIRE, Outcome.REFUSED, "expired before it was confirmed"
            )
            self.actions.gauge()
        else:
            self.actions.audit(action, user_id, Event.REFUSE, Outcome.REFUSED, "expired")
        return self.expired_result(pending.get(engine, action.id) or action, user_id)

    def expired_result(self, action: PendingAction, actor: str) -> ActionResult:
        lasted = minutes(action.expires_at - (action.confirmed_at or action.created_at))
        step = "approved" if action.confirmed_at and action.needs_approval else "confirmed"
        return ActionResult(
            ActionResultKind.EXPIRED,
            f"This action expired at {hhmm(action.expires_at)}: `{action.handler}` on {action.where} was "
            f"not {step} within {lasted}. Nothing was run; ask again for a fresh preview.",
            action,
            actor=actor,
        )

    def lost(self, action_id: str, user_id: str, now: datetime, verb: str) -> ActionResult:
        """Our compare-and-set lost: say what the winner did."""
        action = self.actions.get(action_id)
        if action is None:
            return ActionResult(
                ActionResultKind.UNKNOWN, "This action is unknown here. Nothing was run.", actor=user_id
            )
        return self.not_open(action, user_id, now, verb)

    def refuse(self, action: PendingAction, user_id: str, message: str, *, verb: str = "") -> ActionResult:
        self.actions.audit(
            action, user_id, Event.REFUSE, Outcome.REFUSED, f"{verb}: {message}" if verb else message
        )
        return ActionResult(ActionResultKind.REFUSED, message, action, actor=user_id)

    def fail_before_run(self, action: PendingAction, user_id: str, now: datetime, why: str) -> ActionResult:
        pending.transition(
            self.actions.engine,
            action.id,
            OPEN,
            Status.FAILED,
            result=why,
            finished_at=now,
            decided_by=user_id,
        )
        self.actions.audit(action, user_id, Event.EXECUTE, Outcome.ERROR, why)
        self.actions.gauge()
        return ActionResult(
            ActionResultKind.FAILED,
            f"`{action.handler}` on {action.where}: {why}",
            action,
            error=why,
            actor=user_id,
        )
