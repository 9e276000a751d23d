"""A built-in's access check in one line: `if refused(call, "runbook.run"): return`.

The policy is `bot.guard.commands.CommandPolicy`; this tells the user why and audits the refusal.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import SQLAlchemyError

from bot.commands.builtin import Call
from bot.guard.commands import CommandPolicy
from bot.store.audit import Event, Outcome, record


def refused(call: Call, name: str, *, severity: str | None = None) -> bool:
    """For a built-in's first line: True (after telling the user and auditing) when `name` is refused."""
    runtime, request = call.runtime, call.request
    decision = CommandPolicy(runtime.access).check(request.user_id, name, severity=severity)
    if decision.allowed:
        return False
    call.respond.error(f":no_entry: {decision.reason}")
    with contextlib.suppress(SQLAlchemyError):  # the refusal stands even when the store is down
        record(
            runtime.store.engine,
            request_id=request.request_id,
            user_id=request.user_id,
            command=f"{request.command} {request.text}".strip()[:200],
            event=Event.REFUSE,
            outcome=Outcome.REFUSED,
            channel_id=request.channel_id,
            handler=name,
            detail=decision.reason,
        )
    return True
