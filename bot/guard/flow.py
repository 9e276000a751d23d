"""The confirm flow: confirm, cancel, approve and reject a held action, and run it once.

Each decision moves the stored action on with one compare-and-set update (bot/guard/pending.py),
runs it through the `RunConfirmed` it was given when it may run, and returns an `ActionResult`
that the Slack listener and the console both render. Nothing here talks to Slack, and nothing
here knows the executor: it only calls the runner.

An action still running when the runner stops waiting is reported as running, never as
failed; its real outcome is recorded (and audited by the runner) when it ends, and handed to
the front end through `ActionResult.later`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.commands.target import Target
from bot.guard import pending
from bot.guard.access import Access, Decision
from bot.guard.outcome import ActionResult, ActionResultKind, hhmm, mention
from bot.guard.pending import OPEN, MessageRef, PendingAction, Status
from bot.guard.settle import Settle
from bot.guard.store import ACTION_ID, RESULT_LIMIT, ActionStore
from bot.render.text import to_text
from bot.request import Done, Failed, Request, Running, new_request_id
from bot.store.audit import Event, Outcome
from bot.store.timeline import record_for_channel
from handlers import HandlerSpec, Registry
from handlers.params import Params
from handlers.redact import redact
from handlers.results import Pin

log = logging.getLogger(__name__)

# A claimed action that has not finished this long after its handler's own time limit was
# cut off by a restart: it is marked failed (never run again: destructive runs at most once).
STUCK_GRACE = timedelta(seconds=60)
DELAYED = (
    " The audit record is delayed: the state store is unreachable, so the record is kept on "
    "this host and written when the store is back."
)


class RunConfirmed(Protocol):
    """Runs a confirmed action once (the executor does): its outcome, or `Running` if slow."""

    def __call__(
        self, req: Request, spec: HandlerSpec, params: Params, target: Target, pin: Pin
    ) -> Done | Failed | Running: ...


Step = Callable[[str, str, MessageRef | None], ActionResult]


class Guard:
    """Confirmation, two-person approval, expiry, and running the action exactly once."""

    def __init__(self, access: Access, actions: ActionStore, registry: Registry, run: RunConfirmed) -> None:
        self.access = access
        self.actions = actions
        self.registry = registry
        self.run = run
        self.settle = Settle(actions)
        self._running: set[str] = set()  # actions running in this process right now
        self._lock = threading.Lock()

    # -- what front ends read -----------------------------------------------------------

    @property
    def approvers(self) -> list[str]:
        return self.actions.approvers

    def check(self, user_id: str, spec: HandlerSpec, target: Target) -> Decision:
        return self.access.check(user_id, spec, target)

    def get(self, action_id: str) -> PendingAction | None:
        return self.actions.get(action_id)

    def open_actions(self, requester: str | None = None) -> list[PendingAction]:
        return self.actions.open_actions(requester)

    def attach_message(self, action_id: str, ref: MessageRef) -> None:
        self.actions.attach_message(action_id, ref)

    def attach_approval(self, action_id: str, ts: str) -> None:
        self.actions.attach_approval(action_id, ts)

    # -- decisions ----------------------------------------------------------------------

    def confirm(self, action_id: str, user_id: str, *, where: MessageRef | None = None) -> ActionResult:
        """The requester confirms: run it now, or pass it to an approver when a rule says so."""
        return self._safely(self._confirm, action_id, user_id, where)

    def cancel(self, action_id: str, user_id: str, *, where: MessageRef | None = None) -> ActionResult:
        """The requester (or an approver) cancels a pending or awaiting action; nothing runs."""
        return self._safely(self._cancel, action_id, user_id, where)

    def approve(self, action_id: str, user_id: str, *, where: MessageRef | None = None) -> ActionResult:
        """An approver other than the requester approves a confirmed action: it runs now."""
        return self._safely(self._approve, action_id, user_id, where)

    def reject(self, action_id: str, user_id: str, *, where: MessageRef | None = None) -> ActionResult:
        """An approver rejects a confirmed action (the requester rejecting it withdraws it)."""
        return self._safely(self._reject, action_id, user_id, where)

    def _safely(self, fn: Step, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        try:
            return fn(action_id, user_id, where)
        except SQLAlchemyError as exc:
            # Every path that gets here failed before the handler was called (a run's own
            # store trouble is spooled, never raised): "nothing was run" is the truth.
            log.error("guard: state store error: %s", redact(str(exc)))
            return ActionResult(
                ActionResultKind.ERROR,
                "The state store is unreachable, so this click could not be checked. Nothing was run; "
                "try again in a moment.",
                actor=user_id,
            )

    def _confirm(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self.actions.now()
        found = self.settle.find(action_id, user_id, "confirm", where, approval=False)
        if isinstance(found, ActionResult):
            return found
        action = found
        if action.status is not Status.PENDING:
            return self.settle.not_open(action, user_id, now, "confirm")
        if action.expires_at <= now:
            return self.settle.expire(action, user_id, now)
        if user_id != action.requester:
            return self.settle.refuse(
                action,
                user_id,
                f"Only {mention(action.requester)}, who asked for it, can confirm "
                f"`{action.handler}` on {action.where}.",
            )
        ready = self._ready(action, user_id, action.requester, now)
        if isinstance(ready, ActionResult):
            return ready
        spec, params = ready
        until = now + self.actions.expiry  # an approver to come gets a full window of their own
        won = pending.transition(
            self.actions.engine,
            action.id,
            Status.PENDING,
            Status.AWAITING_APPROVAL if action.needs_approval else Status.CONFIRMED,
            live_at=now,
            confirmed_by=user_id,
            confirmed_at=now,
            **({"expires_at": until} if action.needs_approval else {}),
        )
        if not won:
            return self.settle.lost(action.id, user_id, now, "confirm")
        if action.needs_approval:
            self.actions.audit(
                action, user_id, Event.CONFIRM, Outcome.PENDING, "confirmed; waiting for an approver"
            )
            self.actions.gauge()
            who = ", ".join(mention(a) for a in self.approvers)
            return ActionResult(
                ActionResultKind.AWAITING_APPROVAL,
                f"Confirmed. `{action.handler}` on {action.where} needs a second person: an approver "
                f"({who}) must approve it by {hhmm(until)} before it runs.",
                self.actions.get(action.id),
                actor=user_id,
            )
        self.actions.audit(action, user_id, Event.CONFIRM, Outcome.OK, "confirmed by the requester")
        return self._execute(action, spec, params, user_id)

    def _cancel(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self.actions.now()
        found = self.settle.find(action_id, user_id, "cancel", where, approval=False)
        if isinstance(found, ActionResult):
            return found
        action = found
        if not action.status.open:
            return self.settle.not_open(action, user_id, now, "cancel")
        if action.expires_at <= now:
            return self.settle.expire(action, user_id, now)
        if user_id != action.requester and not self.access.is_approver(user_id):
            return self.settle.refuse(
                action,
                user_id,
                f"Only {mention(action.requester)}, who asked for it, or an approver (access.approvers) "
                f"can cancel `{action.handler}` on {action.where}.",
            )
        won = pending.transition(
            self.actions.engine,
            action.id,
            OPEN,
            Status.CANCELLED,
            live_at=now,
            decided_by=user_id,
            decided_at=now,
        )
        if not won:
            return self.settle.lost(action.id, user_id, now, "cancel")
        self.actions.audit(action, user_id, Event.CANCEL, Outcome.OK, "cancelled; nothing was run")
        self.actions.gauge()
        return ActionResult(
            ActionResultKind.CANCELLED,
            f"Cancelled by {mention(user_id)}: `{action.handler}` on {action.where}. Nothing was run.",
            self.actions.get(action.id),
            actor=user_id,
        )

    def _approve(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self.actions.now()
        checked = self._check_decider(action_id, user_id, where, "approve", now)
        if isinstance(checked, ActionResult):
            return checked
        action = checked
        ready = self._ready(action, user_id, action.requester, now)
        if isinstance(ready, ActionResult):
            return ready
        spec, params = ready
        won = pending.transition(
            self.actions.engine,
            action.id,
            Status.AWAITING_APPROVAL,
            Status.CONFIRMED,
            live_at=now,
            approved_by=user_id,
            decided_by=user_id,
            decided_at=now,
        )
        if not won:
            return self.settle.lost(action.id, user_id, now, "approve")
        self.actions.audit(
            action, user_id, Event.APPROVE, Outcome.OK, f"approved; requested by {action.requester}"
        )
        return self._execute(action, spec, params, user_id, approved_by=user_id)

    def _reject(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self.actions.now()
        existing = self.actions.get(action_id)
        if existing is not None and existing.requester == user_id and existing.status.open:
            # The requester pressing Reject on their own request means: withdraw it. (The click
            # came from the approval request, so it must not be remembered as the preview.)
            return self._cancel(action_id, user_id, None)
        checked = self._check_decider(action_id, user_id, where, "reject", now)
        if isinstance(checked, ActionResult):
            return checked
        action = checked
        won = pending.transition(
            self.actions.engine,
            action.id,
            Status.AWAITING_APPROVAL,
            Status.REJECTED,
            live_at=now,
            decided_by=user_id,
            decided_at=now,
            finished_at=now,
        )
        if not won:
            return self.settle.lost(action.id, user_id, now, "reject")
        self.actions.audit(action, user_id, Event.REJECT, Outcome.OK, "rejected; nothing was run")
        self.actions.gauge()
        return ActionResult(
            ActionResultKind.REJECTED,
            f"Rejected by {mention(user_id)}: `{action.handler}` on {action.where}, requested by "
            f"{mention(action.requester)}. Nothing was run.",
            self.actions.get(action.id),
            actor=user_id,
        )

    def _check_decider(
        self, action_id: str, user_id: str, where: MessageRef | None, verb: str, now: datetime
    ) -> PendingAction | ActionResult:
        """The checks approve and reject share: awaiting, in time, an approver, not the requester."""
        found = self.settle.find(action_id, user_id, verb, where, approval=True)
        if isinstance(found, ActionResult):
            return found
        action = found
        if action.status is Status.PENDING and action.expires_at > now:
            return self.settle.refuse(
                action,
                user_id,
                f"{mention(action.requester)} has not confirmed `{action.handler}` on {action.where} yet; "
                f"it can be {verb}d once they have.",
                verb=verb,
            )
        if action.status is not Status.AWAITING_APPROVAL:
            return self.settle.not_open(action, user_id, now, verb)
        if action.expires_at <= now:
            return self.settle.expire(action, user_id, now)
        if user_id == action.requester:
            who = ", ".join(mention(a) for a in self.approvers)
            return self.settle.refuse(
                action,
                user_id,
                f"You asked for `{action.handler}` on {action.where}, so you cannot {verb} it yourself: "
                f"another approver ({who}) must.",
                verb=verb,
            )
        decision = self.access.check_approver(user_id, action.handler, action.target)
        if not decision.allowed:
            return self.settle.refuse(action, user_id, decision.reason, verb=verb)
        return action

    # -- running ------------------------------------------------------------------------

    def _ready(
        self, action: PendingAction, actor: str, requester: str, now: datetime
    ) -> tuple[HandlerSpec, Params] | ActionResult:
        """The handler and re-validated params, and the requester still allowed to run it."""
        spec = self.registry.get(action.handler)
        if spec is None:
            return self.settle.fail_before_run(
                action, actor, now, f"`{action.handler}` is no longer available in this bot; nothing was run."
            )
        try:
            params = spec.params.model_validate(dict(action.params))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return self.settle.fail_before_run(
                action,
                actor,
                now,
                f"the stored parameters are no longer valid ({problems}); nothing was run.",
            )
        decision = self.check(requester, spec, Target.of(params))
        if not decision.allowed:
            return self.settle.refuse(
                action, actor, f"{mention(requester)} may no longer run this: {decision.reason}"
            )
        return spec, params

    def _execute(
        self,
        action: PendingAction,
        spec: HandlerSpec,
        params: Params,
        actor: str,
        approved_by: str | None = None,
    ) -> ActionResult:
        """Run the claimed action once. From here on nothing may raise: it may have run."""
        req = Request(
            user_id=action.requester,
            command=action.command or f"/{spec.command}",
            text=action.text,
            channel_id=action.channel_id,
            request_id=action.request_id or new_request_id(),
        )
        with self._lock:
            self._running.add(action.id)
        outcome = self.run(req, spec, params, Target.of(params), action.preview.pin)
        if not isinstance(outcome, Running):
            return self._finished(action, spec, outcome, actor, approved_by)
        later: Future[ActionResult] = Future()

        def ended(future: Future[Done | Failed]) -> None:
            try:
                final: Done | Failed = future.result()
            except BaseException as exc:  # the runner never raises; if it did, say so
                final = Failed(f"{spec.name} on {action.where} stopped: {type(exc).__name__}", spec)
            later.set_result(self._finished(action, spec, final, actor, approved_by))

        outcome.future.add_done_callback(ended)
        return ActionResult(
            ActionResultKind.RUNNING,
            f"`{spec.name}` on {action.where} is still running after {int(outcome.waited)} s "
            f"({action.preview.summary}). Its outcome will be posted here and audited when it ends; "
            f"do not run it again meanwhile. {self._people(action, approved_by)}",
            action,
            actor=actor,
            later=later,
        )

    def _finished(
        self,
        action: PendingAction,
        spec: HandlerSpec,
        outcome: Done | Failed,
        actor: str,
        approved_by: str | None,
    ) -> ActionResult:
        now = self.actions.now()
        if isinstance(outcome, Done):
            status, stored = Status.EXECUTED, to_text(outcome.result)[:RESULT_LIMIT]
        else:
            status, stored = Status.FAILED, outcome.message
        recorded = self.actions.finish(action.id, status, stored, now)
        with self._lock:
            self._running.discard(action.id)
        try:
            self._timeline(action, status, stored, now, approved_by)
            self.actions.gauge()
            action = self.actions.get(action.id) or action
        except SQLAlchemyError as exc:  # it ran: report what happened even if the store hiccups
            log.error("guard: could not record the outcome of %s: %s", action.handler, redact(str(exc)))
        people = self._people(action, approved_by)
        delayed = DELAYED if outcome.audit_delayed or not recorded else ""
        if isinstance(outcome, Done):
            return ActionResult(
                ActionResultKind.EXECUTED,
                f"`{spec.name}` on {action.where} ran: {action.preview.summary}. {people}{delayed}",
                action,
                result=outcome.result,
                actor=actor,
            )
        verb = "did not run" if outcome.moved else "failed"
        return ActionResult(
            ActionResultKind.FAILED,
            f"`{spec.name}` on {action.where} {verb}: {outcome.message.rstrip('.')}. {people}{delayed}",
            action,
            error=outcome.message,
            actor=actor,
        )

    def _people(self, action: PendingAction, approved_by: str | None = None) -> str:
        text = f"Requested by {mention(action.requester)}"
        approver = action.approved_by or approved_by
        if approver:
            text += f", approved by {mention(approver)}"
        return text + "."

    def _timeline(
        self, action: PendingAction, status: Status, stored: str, now: datetime, approved_by: str | None
    ) -> None:
        if not action.channel_id:
            return
        how = "ran" if status is Status.EXECUTED else f"failed: {stored}"
        record_for_channel(
            self.actions.engine,
            action.channel_id,
            kind="action",
            author=action.requester,
            text=f"{action.handler} on {action.where} ({action.preview.summary}) {how}. "
            + self._people(action, approved_by),
            at=now,
            data={
                "handler": action.handler,
                "target": action.target,
                "status": status.value,
                "requested_by": action.requester,
                "approved_by": action.approved_by or approved_by,
            },
        )

    # -- housekeeping ---------------------------------------------------------------------

    def expire_due(self, now: datetime | None = None) -> list[ActionResult]:
        """Mark actions nobody confirmed in time as expired (a scheduler participant).

        Also closes actions claimed for execution by a process that died mid-run: they are
        marked failed, never run again (an action still running in this process is left
        alone: its outcome comes when it ends). Returns an EXPIRED result for each action
        that expired in this call, so a front end can update the messages that offered them.
        """
        at = pending.utc(now or self.actions.clock())
        engine = self.actions.engine
        expired: list[ActionResult] = []
        for action_id in pending.due_to_expire(engine, at):
            if pending.transition(engine, action_id, OPEN, Status.EXPIRED, expired_at=at, finished_at=at):
                action = pending.get(engine, action_id)
                if action is not None:
                    self.actions.audit(
                        action, action.requester, Event.EXPIRE, Outcome.REFUSED, "expired; nothing was run"
                    )
                    expired.append(self.settle.expired_result(action, action.requester))
        limit = self.actions.config.limits.handler_timeout * 3 + timedelta(seconds=5) + STUCK_GRACE
        with self._lock:
            running = set(self._running)
        for action_id in pending.stuck_running(engine, at - limit):
            if action_id in running:
                continue
            why = (
                "the bot stopped while this ran, so its outcome is unknown: "
                "check the target before asking again"
            )
            if pending.transition(
                engine, action_id, Status.CONFIRMED, Status.FAILED, result=why, finished_at=at
            ):
                action = pending.get(engine, action_id)
                if action is not None:
                    self.actions.audit(action, action.requester, Event.EXECUTE, Outcome.ERROR, why)
        self.actions.gauge()
        return expired


__all__ = ["ACTION_ID", "DELAYED", "Guard", "RunConfirmed"]
