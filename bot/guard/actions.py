"""The Guard: destructive requests held as pending actions until confirmed (and approved).

`request` stores what would run and returns `NeedsConfirmation`; `confirm`, `cancel`,
`approve` and `reject` move the stored action on with one compare-and-set update each, run it
through the executor when it may run, and return an `ActionResult` that the Slack listener and
the console both render. Nothing here talks to Slack.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.commands.target import Target
from bot.executor import Done, Failed, NeedsConfirmation, Refused, Request, new_request_id
from bot.guard import pending
from bot.guard.access import Decision
from bot.guard.base import ACTION_ID, RATE_WINDOW, RESULT_LIMIT, GuardBase
from bot.guard.outcome import ActionResult, Kind, hhmm, mention
from bot.guard.pending import OPEN, MessageRef, PendingAction, Status
from bot.render.text import to_text
from bot.store.audit import Event, Outcome
from bot.store.timeline import incident_for_channel, record_for_channel
from handlers import HandlerSpec
from handlers.params import Params
from handlers.redact import redact
from handlers.results import Preview

if TYPE_CHECKING:
    from bot.executor import Executor

log = logging.getLogger(__name__)


class Guard(GuardBase):
    """Access checks, pending actions, confirmation, two-person approval, and their audit."""

    # -- access -------------------------------------------------------------------------

    def check(self, user_id: str, spec: HandlerSpec, target: Target) -> Decision:
        return self.access.check(user_id, spec, target)

    # -- request ------------------------------------------------------------------------

    def request(
        self, req: Request, spec: HandlerSpec, params: Params, target: Target, preview: Preview
    ) -> NeedsConfirmation | Refused | Failed:
        """Store a destructive request as a pending action; the front end asks to confirm it."""
        where = target.describe() or "its target"
        decision = self.check(req.user_id, spec, target)
        if not decision.allowed:
            self._audit_req(req, spec, params, target, Event.REFUSE, Outcome.REFUSED, decision.reason)
            return Refused(decision.reason)
        if decision.needs_approval and not self.approvers:
            msg = (
                f"{spec.name} on {where} needs a second person's approval, but no approvers are "
                "configured (access.approvers in chatops.yaml). Nothing was run."
            )
            self._audit_req(req, spec, params, target, Event.REFUSE, Outcome.REFUSED, msg)
            return Refused(msg)
        try:
            stored = pending.encode_params(params)
            if spec.params.model_validate_json(stored) != params:
                raise ValueError("the parameters do not read back the same")
        except (TypeError, ValueError) as exc:
            msg = f"{spec.name}: cannot hold this request for confirmation ({exc}). Nothing was run."
            self._audit_req(req, spec, params, target, Event.PREVIEW, Outcome.ERROR, msg)
            return Failed(msg, spec)
        now = self._now()
        action_id = secrets.token_urlsafe(24)  # the only thing a button carries
        limit = self.config.access.destructive_per_minute
        try:
            incident_id = incident_for_channel(self._engine(), req.channel_id)
            with self._engine().begin() as conn:
                pending.lock_requester(conn, req.user_id)
                recent = pending.count_recent(conn, req.user_id, now - RATE_WINDOW)
                if recent < limit:
                    pending.add(
                        conn,
                        id=action_id,
                        requester=req.user_id,
                        handler=spec.name,
                        params=stored,
                        target=target.describe(),
                        preview=pending.encode_preview(preview),
                        channel_id=req.channel_id,
                        created_at=now,
                        expires_at=now + self.expiry,
                        status=Status.PENDING.value,
                        needs_approval=decision.needs_approval,
                        incident_id=incident_id,
                        request_id=req.request_id[:32],
                        command=req.command[:64],
                        text=req.text,
                    )
        except SQLAlchemyError as exc:
            log.error("guard: cannot store a pending action: %s", redact(str(exc)))
            msg = (
                f"{spec.name} on {where}: the state store is unreachable, so it cannot be held for "
                "confirmation. Nothing was run."
            )
            return Failed(msg, spec)
        if recent >= limit:
            msg = (
                f"You asked for {recent} changes in the last minute; the limit is {limit} a minute "
                f"per person (access.destructive_per_minute). {spec.name} on {where} was not "
                "stored or run; ask again in a minute."
            )
            self._audit_req(req, spec, params, target, Event.REFUSE, Outcome.REFUSED, msg)
            return Refused(msg)
        detail = preview.summary + (
            " (needs an approver after confirmation)" if decision.needs_approval else ""
        )
        self._audit_req(req, spec, params, target, Event.PREVIEW, Outcome.PENDING, detail)
        self._gauge()
        return NeedsConfirmation(
            action_id=action_id,
            spec=spec,
            params=params,
            target=target,
            preview=preview,
            needs_approval=decision.needs_approval,
            expires_in=self.expiry.total_seconds(),
        )

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

    def _safely(
        self,
        fn: Callable[[str, str, MessageRef | None], ActionResult],
        action_id: str,
        user_id: str,
        where: MessageRef | None,
    ) -> ActionResult:
        try:
            return fn(action_id, user_id, where)
        except SQLAlchemyError as exc:
            log.error("guard: state store error: %s", redact(str(exc)))
            return ActionResult(
                Kind.ERROR,
                "The state store is unreachable, so this click could not be checked. Nothing was run; "
                "try again in a moment.",
                actor=user_id,
            )

    def _confirm(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self._now()
        found = self._find(action_id, user_id, "confirm", where, approval=False)
        if isinstance(found, ActionResult):
            return found
        action = found
        if action.status is not Status.PENDING:
            return self._not_open(action, user_id, now, "confirm")
        if action.expires_at <= now:
            return self._expire(action, user_id, now)
        if user_id != action.requester:
            return self._refuse(
                action,
                user_id,
                f"Only {mention(action.requester)}, who asked for it, can confirm "
                f"`{action.handler}` on {action.where}.",
            )
        ready = self._ready(action, user_id, action.requester, now)
        if isinstance(ready, ActionResult):
            return ready
        spec, params = ready
        engine = self._engine()
        until = now + self.expiry  # with an approver to come, they get a full window of their own
        won = pending.transition(
            engine,
            action.id,
            Status.PENDING,
            Status.AWAITING_APPROVAL if action.needs_approval else Status.CONFIRMED,
            live_at=now,
            confirmed_by=user_id,
            confirmed_at=now,
            **({"expires_at": until} if action.needs_approval else {}),
        )
        if not won:
            return self._lost(action.id, user_id, now, "confirm")
        if action.needs_approval:
            self._audit(action, user_id, Event.CONFIRM, Outcome.PENDING, "confirmed; waiting for an approver")
            self._gauge()
            who = ", ".join(mention(a) for a in self.approvers)
            return ActionResult(
                Kind.AWAITING_APPROVAL,
                f"Confirmed. `{action.handler}` on {action.where} needs a second person: an approver "
                f"({who}) must approve it by {hhmm(until)} before it runs.",
                pending.get(engine, action.id),
                actor=user_id,
            )
        self._audit(action, user_id, Event.CONFIRM, Outcome.OK, "confirmed by the requester")
        return self._execute(action.id, spec, params, user_id)

    def _cancel(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self._now()
        found = self._find(action_id, user_id, "cancel", where, approval=False)
        if isinstance(found, ActionResult):
            return found
        action = found
        if not action.status.open:
            return self._not_open(action, user_id, now, "cancel")
        if action.expires_at <= now:
            return self._expire(action, user_id, now)
        if user_id != action.requester and not self.access.is_approver(user_id):
            return self._refuse(
                action,
                user_id,
                f"Only {mention(action.requester)}, who asked for it, or an approver (access.approvers) "
                f"can cancel `{action.handler}` on {action.where}.",
            )
        won = pending.transition(
            self._engine(), action.id, OPEN, Status.CANCELLED, live_at=now, decided_by=user_id, decided_at=now
        )
        if not won:
            return self._lost(action.id, user_id, now, "cancel")
        self._audit(action, user_id, Event.CANCEL, Outcome.OK, "cancelled; nothing was run")
        self._gauge()
        return ActionResult(
            Kind.CANCELLED,
            f"Cancelled by {mention(user_id)}: `{action.handler}` on {action.where}. Nothing was run.",
            pending.get(self._engine(), action.id),
            actor=user_id,
        )

    def _approve(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self._now()
        checked = self._check_decider(action_id, user_id, where, "approve", now)
        if isinstance(checked, ActionResult):
            return checked
        action = checked
        ready = self._ready(action, user_id, action.requester, now)
        if isinstance(ready, ActionResult):
            return ready
        spec, params = ready
        won = pending.transition(
            self._engine(),
            action.id,
            Status.AWAITING_APPROVAL,
            Status.CONFIRMED,
            live_at=now,
            approved_by=user_id,
            decided_by=user_id,
            decided_at=now,
        )
        if not won:
            return self._lost(action.id, user_id, now, "approve")
        self._audit(action, user_id, Event.APPROVE, Outcome.OK, f"approved; requested by {action.requester}")
        return self._execute(action.id, spec, params, user_id)

    def _reject(self, action_id: str, user_id: str, where: MessageRef | None) -> ActionResult:
        now = self._now()
        existing = pending.get(self._engine(), action_id) if ACTION_ID.match(action_id) else None
        if existing is not None and existing.requester == user_id and existing.status.open:
            # The requester pressing Reject on their own request means: withdraw it. (The click
            # came from the approval request, so it must not be remembered as the preview.)
            return self._cancel(action_id, user_id, None)
        checked = self._check_decider(action_id, user_id, where, "reject", now)
        if isinstance(checked, ActionResult):
            return checked
        action = checked
        won = pending.transition(
            self._engine(),
            action.id,
            Status.AWAITING_APPROVAL,
            Status.REJECTED,
            live_at=now,
            decided_by=user_id,
            decided_at=now,
            finished_at=now,
        )
        if not won:
            return self._lost(action.id, user_id, now, "reject")
        self._audit(action, user_id, Event.REJECT, Outcome.OK, "rejected; nothing was run")
        self._gauge()
        return ActionResult(
            Kind.REJECTED,
            f"Rejected by {mention(user_id)}: `{action.handler}` on {action.where}, requested by "
            f"{mention(action.requester)}. Nothing was run.",
            pending.get(self._engine(), action.id),
            actor=user_id,
        )

    def _check_decider(
        self, action_id: str, user_id: str, where: MessageRef | None, verb: str, now: datetime
    ) -> PendingAction | ActionResult:
        """The checks approve and reject share: awaiting, in time, an approver, not the requester."""
        found = self._find(action_id, user_id, verb, where, approval=True)
        if isinstance(found, ActionResult):
            return found
        action = found
        if action.status is Status.PENDING and action.expires_at > now:
            return self._refuse(
                action,
                user_id,
                f"{mention(action.requester)} has not confirmed `{action.handler}` on {action.where} yet; "
                f"it can be {verb}d once they have.",
                verb=verb,
            )
        if action.status is not Status.AWAITING_APPROVAL:
            return self._not_open(action, user_id, now, verb)
        if action.expires_at <= now:
            return self._expire(action, user_id, now)
        if user_id == action.requester:
            who = ", ".join(mention(a) for a in self.approvers)
            return self._refuse(
                action,
                user_id,
                f"You asked for `{action.handler}` on {action.where}, so you cannot {verb} it yourself: "
                f"another approver ({who}) must.",
                verb=verb,
            )
        decision = self.access.check_approver(user_id, action.handler, action.target)
        if not decision.allowed:
            return self._refuse(action, user_id, decision.reason, verb=verb)
        return action

    # -- running ------------------------------------------------------------------------

    def _ready(
        self, action: PendingAction, actor: str, requester: str, now: datetime
    ) -> tuple[HandlerSpec, Params] | ActionResult:
        """The handler and re-validated params, and the requester still allowed to run it."""
        executor = self._executor()
        spec = executor.registry.get(action.handler)
        if spec is None:
            return self._fail_before_run(
                action, actor, now, f"`{action.handler}` is no longer available in this bot; nothing was run."
            )
        try:
            params = spec.params.model_validate(dict(action.params))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return self._fail_before_run(
                action,
                actor,
                now,
                f"the stored parameters are no longer valid ({problems}); nothing was run.",
            )
        decision = self.check(requester, spec, Target.of(params))
        if not decision.allowed:
            return self._refuse(
                action, actor, f"{mention(requester)} may no longer run this: {decision.reason}"
            )
        return spec, params

    def _execute(self, action_id: str, spec: HandlerSpec, params: Params, actor: str) -> ActionResult:
        engine = self._engine()
        action = pending.get(engine, action_id)
        assert action is not None
        req = Request(
            user_id=action.requester,
            command=action.command or f"/{spec.command}",
            text=action.text,
            channel_id=action.channel_id,
            request_id=action.request_id or new_request_id(),
        )
        outcome = self._executor().run(req, spec, params, Target.of(params))
        now = self._now()
        if isinstance(outcome, Done):
            status, stored = Status.EXECUTED, to_text(outcome.result)[:RESULT_LIMIT]
        else:
            status, stored = Status.FAILED, outcome.message
        try:
            finished = pending.transition(
                engine, action_id, Status.CONFIRMED, status, result=stored, finished_at=now
            )
            if not finished:
                log.warning("guard: action %s was marked stuck before it finished", action_id[:8])
            self._timeline(action, status, stored, now)
            self._gauge()
            action = pending.get(engine, action_id) or action
        except SQLAlchemyError as exc:  # it ran: report what happened even if the store hiccups
            log.error("guard: could not record the outcome of %s: %s", action.handler, redact(str(exc)))
        people = self._people(action)
        if isinstance(outcome, Done):
            return ActionResult(
                Kind.EXECUTED,
                f"`{spec.name}` on {action.where} ran: {action.preview.summary}. {people}",
                action,
                result=outcome.result,
                actor=actor,
            )
        return ActionResult(
            Kind.FAILED,
            f"`{spec.name}` on {action.where} failed: {outcome.message.rstrip('.')}. {people}",
            action,
            error=outcome.message,
            actor=actor,
        )

    def _executor(self) -> Executor:
        if self.executor is None:
            raise RuntimeError("Guard.attach(executor) was not called: confirmed actions cannot run")
        return self.executor

    def _people(self, action: PendingAction) -> str:
        text = f"Requested by {mention(action.requester)}"
        if action.approved_by:
            text += f", approved by {mention(action.approved_by)}"
        return text + "."

    def _timeline(self, action: PendingAction, status: Status, stored: str, now: datetime) -> None:
        if not action.channel_id:
            return
        how = "ran" if status is Status.EXECUTED else f"failed: {stored}"
        record_for_channel(
            self._engine(),
            action.channel_id,
            kind="action",
            author=action.requester,
            text=f"{action.handler} on {action.where} ({action.preview.summary}) {how}. "
            + self._people(action),
            at=now,
            data={
                "handler": action.handler,
                "target": action.target,
                "status": status.value,
                "requested_by": action.requester,
                "approved_by": action.approved_by,
            },
        )
