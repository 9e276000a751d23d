"""The Guard's plumbing: the store, the clock, audit, metrics, and the outcomes that run nothing.

Unknown ids, clicks on actions already decided, expiries and refusals all end here; so does
the housekeeping a scheduler tick does (expiring actions nobody confirmed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.commands.target import Target
from bot.config import ChatopsConfig
from bot.executor import Request, new_request_id
from bot.guard import pending
from bot.guard.access import Access
from bot.guard.outcome import ActionResult, Kind, hhmm, mention, minutes
from bot.guard.pending import OPEN, MessageRef, PendingAction, Status
from bot.store import Store, utcnow
from bot.store.audit import Event, Outcome, record
from handlers import HandlerSpec
from handlers.params import Params
from handlers.redact import redact

if TYPE_CHECKING:
    from bot.executor import Executor

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
# A claimed action that has not finished this long after its handler's own time limit was
# cut off by a restart: it is marked failed (never run again: destructive runs at most once).
STUCK_GRACE = timedelta(seconds=60)
RESULT_LIMIT = 20_000  # characters of a result kept on the row
ACTION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class GuardBase:
    """State and helpers shared by the Guard's request and decision paths."""

    def __init__(
        self,
        access: Access,
        *,
        store: Store,
        config: ChatopsConfig,
        clock: Callable[[], datetime] = utcnow,
        executor: Executor | None = None,
        **_: Any,
    ) -> None:
        self.access = access
        self.store = store
        self.config = config
        self.clock = clock
        self.executor = executor

    def attach(self, executor: Executor) -> None:
        """The executor runs confirmed actions; it is built after the guard (it holds the guard)."""
        self.executor = executor

    @property
    def expiry(self) -> timedelta:
        return self.config.access.confirm_expiry

    @property
    def approvers(self) -> list[str]:
        return list(self.config.access.approvers)

    def _now(self) -> datetime:
        return pending.utc(self.clock())

    def _engine(self) -> Any:
        return self.store.engine

    # -- outcomes that change nothing (or only close the action) --------------------------

    def _find(
        self, action_id: str, user_id: str, verb: str, where: MessageRef | None, *, approval: bool
    ) -> PendingAction | ActionResult:
        engine = self._engine()
        action = pending.get(engine, action_id) if ACTION_ID.match(action_id or "") else None
        if action is None:
            record(
                engine,
                request_id=new_request_id(),
                user_id=user_id,
                command=f"{verb} (button)",
                event=Event.REFUSE,
                outcome=Outcome.REFUSED,
                channel_id=where.channel_id if where else "",
                detail=f"{verb}: unknown pending action",
            )
            return ActionResult(
                Kind.UNKNOWN,
                "This action is unknown here: it was never requested from this bot, or it was removed. "
                "Nothing was run.",
                actor=user_id,
            )
        if where is not None:
            if approval:
                if where.ts:
                    pending.attach_approval(engine, action.id, where.ts)
            else:
                pending.attach_message(engine, action.id, where)
        return action

    def _not_open(self, action: PendingAction, user_id: str, now: datetime, verb: str) -> ActionResult:
        """Explain why a click on an action that is no longer waiting does nothing."""
        if action.status.open and action.expires_at <= now:
            return self._expire(action, user_id, now)
        at = action.finished_at or action.decided_at or action.confirmed_at
        when = f" at {hhmm(at)}" if at else ""
        status = action.status
        if status is Status.EXPIRED:
            return self._expire(action, user_id, now)
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
        self._audit(action, user_id, Event.REFUSE, Outcome.REFUSED, f"{verb}: already {status.label}")
        return ActionResult(Kind.ALREADY, msg.strip(), action, actor=user_id)

    def _expire(self, action: PendingAction, user_id: str, now: datetime) -> ActionResult:
        engine = self._engine()
        if pending.transition(engine, action.id, OPEN, Status.EXPIRED, expired_at=now, finished_at=now):
            self._audit(action, user_id, Event.EXPIRE, Outcome.REFUSED, "expired before it was confirmed")
            self._gauge()
        else:
            self._audit(action, user_id, Event.REFUSE, Outcome.REFUSED, "expired")
        return self._expired_result(pending.get(engine, action.id) or action, user_id)

    def _expired_result(self, action: PendingAction, actor: str) -> ActionResult:
        lasted = minutes(action.expires_at - (action.confirmed_at or action.created_at))
        step = "approved" if action.confirmed_at and action.needs_approval else "confirmed"
        return ActionResult(
            Kind.EXPIRED,
            f"This action expired at {hhmm(action.expires_at)}: `{action.handler}` on {action.where} was "
            f"not {step} within {lasted}. Nothing was run; ask again for a fresh preview.",
            action,
            actor=actor,
        )

    def _lost(self, action_id: str, user_id: str, now: datetime, verb: str) -> ActionResult:
        """Our compare-and-set lost: say what the winner did."""
        action = pending.get(self._engine(), action_id)
        if action is None:
            return ActionResult(Kind.UNKNOWN, "This action is unknown here. Nothing was run.", actor=user_id)
        return self._not_open(action, user_id, now, verb)

    def _refuse(self, action: PendingAction, user_id: str, message: str, *, verb: str = "") -> ActionResult:
        self._audit(action, user_id, Event.REFUSE, Outcome.REFUSED, f"{verb}: {message}" if verb else message)
        return ActionResult(Kind.REFUSED, message, action, actor=user_id)

    def _fail_before_run(self, action: PendingAction, user_id: str, now: datetime, why: str) -> ActionResult:
        pending.transition(
            self._engine(), action.id, OPEN, Status.FAILED, result=why, finished_at=now, decided_by=user_id
        )
        self._audit(action, user_id, Event.EXECUTE, Outcome.ERROR, why)
        self._gauge()
        return ActionResult(
            Kind.FAILED, f"`{action.handler}` on {action.where}: {why}", action, error=why, actor=user_id
        )

    # -- housekeeping ---------------------------------------------------------------------

    def expire_due(self, now: datetime | None = None) -> list[ActionResult]:
        """Mark actions nobody confirmed in time as expired (a scheduler participant).

        Also closes actions claimed for execution by a process that died mid-run: they are
        marked failed, never run again. Returns an EXPIRED result for each action that expired
        in this call, so a front end can update the messages that offered them.
        """
        at = pending.utc(now or self.clock())
        engine = self._engine()
        expired: list[ActionResult] = []
        for action_id in pending.due_to_expire(engine, at):
            if pending.transition(engine, action_id, OPEN, Status.EXPIRED, expired_at=at, finished_at=at):
                action = pending.get(engine, action_id)
                if action is not None:
                    self._audit(
                        action, action.requester, Event.EXPIRE, Outcome.REFUSED, "expired; nothing was run"
                    )
                    expired.append(self._expired_result(action, action.requester))
        limit = self.config.limits.handler_timeout * 3 + timedelta(seconds=5) + STUCK_GRACE
        for action_id in pending.stuck_running(engine, at - limit):
            why = (
                "the bot stopped while this ran, so its outcome is unknown: "
                "check the target before asking again"
            )
            if pending.transition(
                engine, action_id, Status.CONFIRMED, Status.FAILED, result=why, finished_at=at
            ):
                action = pending.get(engine, action_id)
                if action is not None:
                    self._audit(action, action.requester, Event.EXECUTE, Outcome.ERROR, why)
        self._gauge()
        return expired

    def get(self, action_id: str) -> PendingAction | None:
        return pending.get(self._engine(), action_id) if ACTION_ID.match(action_id or "") else None

    def open_actions(self, requester: str | None = None) -> list[PendingAction]:
        """Actions waiting for a confirmation or an approval, newest first."""
        return pending.list_actions(self._engine(), requester=requester)

    def attach_message(self, action_id: str, ref: MessageRef) -> None:
        """Remember where the preview is shown, so later outcomes can replace it."""
        pending.attach_message(self._engine(), action_id, ref)

    def attach_approval(self, action_id: str, ts: str) -> None:
        pending.attach_approval(self._engine(), action_id, ts)

    # -- audit and metrics --------------------------------------------------------------

    def _audit(
        self, action: PendingAction, user_id: str, event: Event, outcome: Outcome, detail: str
    ) -> None:
        record(
            self._engine(),
            request_id=action.request_id or new_request_id(),
            user_id=user_id,
            command=action.command_line or action.handler,
            event=event,
            outcome=outcome,
            channel_id=action.channel_id,
            handler=action.handler,
            args=action.params,
            target=action.target,
            detail=detail,
        )

    def _audit_req(
        self,
        req: Request,
        spec: HandlerSpec,
        params: Params,
        target: Target,
        event: Event,
        outcome: Outcome,
        detail: str,
    ) -> None:
        record(
            self._engine(),
            request_id=req.request_id,
            user_id=req.user_id,
            command=f"{req.command} {req.text}".strip(),
            event=event,
            outcome=outcome,
            channel_id=req.channel_id,
            handler=spec.name,
            args=params.model_dump(mode="json"),
            target=target.describe(),
            detail=detail,
        )

    def _gauge(self) -> None:
        try:
            metrics.PENDING_ACTIONS.set(pending.count_open(self._engine(), self._now()))
        except SQLAlchemyError as exc:
            log.warning("guard: cannot count pending actions: %s", redact(str(exc)))
