"""The pending-action store: destructive requests held until confirmed, their audit, and the
outcomes written late when the state store was down.

`hold` is what the executor calls after a preview; the confirm flow (bot/guard/flow.py)
reads and moves the stored actions on. Neither needs the other: the executor gets `hold`,
the flow gets a runner.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.commands.target import Target
from bot.config import ChatopsConfig
from bot.guard import pending
from bot.guard.pending import OPEN, MessageRef, PendingAction, Status
from bot.request import Failed, NeedsConfirmation, Refused, Request, new_request_id
from bot.store import Store, utcnow
from bot.store.audit import Event, Outcome
from bot.store.auditlog import AUDIT, AuditLog
from bot.store.spool import Entry, Spool
from bot.store.timeline import incident_for_channel
from handlers import HandlerSpec
from handlers.params import Params
from handlers.redact import redact
from handlers.results import Preview

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
RESULT_LIMIT = 20_000  # characters of a result kept on the row
ACTION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FINISH = "action.finish"  # the spool entry kind of a pending action's final status


class ActionStore:
    """Pending actions in the state store, with their audit rows."""

    def __init__(
        self,
        store: Store,
        config: ChatopsConfig,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.audit_log = audit
        self.clock = clock

    @property
    def engine(self) -> Engine:
        return self.store.engine

    @property
    def spool(self) -> Spool:
        return self.audit_log.spool

    @property
    def expiry(self) -> timedelta:
        return self.config.access.confirm_expiry

    @property
    def approvers(self) -> list[str]:
        return list(self.config.access.approvers)

    def now(self) -> datetime:
        return pending.utc(self.clock())

    # -- holding a request ------------------------------------------------------------------

    def hold(
        self,
        req: Request,
        spec: HandlerSpec,
        params: Params,
        target: Target,
        preview: Preview,
        needs_approval: bool,
    ) -> NeedsConfirmation | Refused | Failed:
        """Store a destructive request as a pending action; the front end asks to confirm it."""
        where = target.describe() or "its target"
        if needs_approval and not self.approvers:
            msg = (
                f"{spec.name} on {where} needs a second person's approval, but no approvers are "
                "configured (access.approvers in chatops.yaml). Nothing was run."
            )
            self.audit_request(req, spec, params, target, Event.REFUSE, Outcome.REFUSED, msg)
            return Refused(msg)
        try:
            stored = pending.encode_params(params)
            if spec.params.model_validate_json(stored) != params:
                raise ValueError("the parameters do not read back the same")
        except (TypeError, ValueError) as exc:
            msg = f"{spec.name}: cannot hold this request for confirmation ({exc}). Nothing was run."
            self.audit_request(req, spec, params, target, Event.PREVIEW, Outcome.ERROR, msg)
            return Failed(msg, spec)
        action_id = secrets.token_urlsafe(24)  # the only thing a button carries
        limit = self.config.access.destructive_per_minute
        try:
            recent = self._add(action_id, req, spec, stored, target, preview, needs_approval, limit)
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
            self.audit_request(req, spec, params, target, Event.REFUSE, Outcome.REFUSED, msg)
            return Refused(msg)
        detail = preview.summary + (" (needs an approver after confirmation)" if needs_approval else "")
        self.audit_request(req, spec, params, target, Event.PREVIEW, Outcome.PENDING, detail)
        self.gauge()
        return NeedsConfirmation(
            action_id=action_id,
            spec=spec,
            params=params,
            target=target,
            preview=preview,
            needs_approval=needs_approval,
            expires_in=self.expiry.total_seconds(),
        )

    def _add(
        self,
        action_id: str,
        req: Request,
        spec: HandlerSpec,
        stored: str,
        target: Target,
        preview: Preview,
        needs_approval: bool,
        limit: int,
    ) -> int:
        """Insert the action unless its requester is over the rate limit; their recent count."""
        now = self.now()
        incident_id = incident_for_channel(self.engine, req.channel_id)
        with self.engine.begin() as conn:
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
                    needs_approval=needs_approval,
                    incident_id=incident_id,
                    request_id=req.request_id[:32],
                    command=req.command[:64],
                    text=req.text,
                )
        return recent

    # -- reading and annotating -----------------------------------------------------------

    def get(self, action_id: str) -> PendingAction | None:
        return pending.get(self.engine, action_id) if ACTION_ID.match(action_id or "") else None

    def open_actions(self, requester: str | None = None) -> list[PendingAction]:
        """Actions waiting for a confirmation or an approval, newest first."""
        return pending.list_actions(self.engine, requester=requester)

    def attach_message(self, action_id: str, ref: MessageRef) -> None:
        """Remember where the preview is shown, so later outcomes can replace it."""
        pending.attach_message(self.engine, action_id, ref)

    def attach_approval(self, action_id: str, ts: str) -> None:
        pending.attach_approval(self.engine, action_id, ts)

    # -- the end of a run -----------------------------------------------------------------

    def finish(self, action_id: str, status: Status, result: str, at: datetime) -> bool:
        """Record how a claimed action ended; False when the store was down and it is spooled."""
        values = {
            "id": action_id,
            "status": status.value,
            "result": result[:RESULT_LIMIT],
            "at": at.isoformat(),
        }
        try:
            self._apply_finish(values)
            return True
        except SQLAlchemyError as exc:
            log.error(
                "guard: could not record how %s ended; spooling it: %s", action_id[:8], redact(str(exc))
            )
        try:
            self.spool.append(FINISH, values)
        except OSError as exc:
            log.critical("guard: could not spool how %s ended: %s", action_id[:8], exc)
        return False

    def _apply_finish(self, data: Entry) -> None:
        at = datetime.fromisoformat(str(data["at"]))
        finished = pending.transition(
            self.engine,
            str(data["id"]),
            Status.CONFIRMED,
            Status(str(data["status"])),
            result=str(data["result"]),
            finished_at=at,
        )
        if not finished:
            log.warning("guard: action %s was marked stuck before it finished", str(data["id"])[:8])

    def drain_spool(self, now: datetime | None = None) -> None:
        """Write what waited in the spool (a scheduler participant, and once at start)."""
        del now  # a tick participant: what is due is whatever waits

        def apply(kind: str, data: Entry) -> None:
            if kind == AUDIT:
                self.audit_log.apply(data)
            elif kind == FINISH:
                self._apply_finish(data)
            else:
                log.warning("audit spool: unknown entry kind %r dropped", kind)

        try:
            self.spool.drain(apply)
        except OSError as exc:
            log.error("audit spool %s unreadable: %s", self.spool.path, exc)

    # -- audit and metrics ------------------------------------------------------------------

    def audit(self, action: PendingAction, user_id: str, event: Event, outcome: Outcome, detail: str) -> bool:
        return self.audit_log.record(
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

    def audit_request(
        self,
        req: Request,
        spec: HandlerSpec,
        params: Params,
        target: Target,
        event: Event,
        outcome: Outcome,
        detail: str,
    ) -> bool:
        return self.audit_log.record(
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

    def audit_unknown(self, user_id: str, verb: str, channel_id: str) -> None:
        self.audit_log.record(
            request_id=new_request_id(),
            user_id=user_id,
            command=f"{verb} (button)",
            event=Event.REFUSE,
            outcome=Outcome.REFUSED,
            channel_id=channel_id,
            detail=f"{verb}: unknown pending action",
        )

    def gauge(self) -> None:
        try:
            metrics.PENDING_ACTIONS.set(pending.count_open(self.engine, self.now()))
        except SQLAlchemyError as exc:
            log.warning("guard: cannot count pending actions: %s", redact(str(exc)))


__all__ = ["ACTION_ID", "OPEN", "RATE_WINDOW", "RESULT_LIMIT", "ActionStore"]
