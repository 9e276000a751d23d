"""Who is at the console: the OS account, mapped to a Slack user id by `console.users`.

`--user` (or CHATOPS_USER) no longer says who you are; it only picks one of the ids your
OS account may act as (`console.users.alice: {id: U0ALICE, act_as: [U0ONCALL]}`). An OS
account not in the map is `local:NAME` with no roles. A console approval needs a different
OS account than the console request it approves: the requesting account is recorded with the
pending action's id (table `console_requests`).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from bot.config import ChatopsConfig, ConsoleUser
from bot.store import utcnow

metadata = MetaData()
console_requests = Table(
    "console_requests",
    metadata,
    Column("action_id", String(64), primary_key=True),
    Column("os_account", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


class IdentityError(ValueError):
    """The console cannot act as the requested id; the message names the config key."""


@dataclass(frozen=True)
class ConsoleIdentity:
    os_account: str
    user_id: str
    may_act_as: frozenset[str]


def os_account() -> str:
    """The login of the process's effective uid (not $USER or $LOGNAME, which anyone can set)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return f"uid{os.geteuid()}"


def resolve(config: ChatopsConfig, requested: str | None, *, account: str | None = None) -> ConsoleIdentity:
    """The Slack user id this OS account acts as; IdentityError when `requested` is not allowed."""
    account = account or os_account()
    entry = config.console.users.get(account)
    wanted = (requested or "").strip() or None
    if entry is None:
        if wanted:
            raise IdentityError(
                f"the OS account {account!r} is not in console.users in chatops.yaml, so it cannot act as "
                f"{wanted!r}: add `console.users.{account}: {wanted}` (an admin edits that file)"
            )
        local = f"local:{account}"[:32]
        return ConsoleIdentity(account, local, frozenset({local}))
    primary, extra = (entry.id, entry.act_as) if isinstance(entry, ConsoleUser) else (entry, [])
    allowed = frozenset({primary, *extra})
    if wanted and wanted not in allowed:
        raise IdentityError(
            f"the OS account {account!r} may act as {', '.join(sorted(allowed))} "
            f"(console.users.{account} in chatops.yaml), not as {wanted!r}"
        )
    return ConsoleIdentity(account, wanted or primary, allowed)


def remember_request(engine: Engine, action_id: str, who: ConsoleIdentity) -> None:
    """Note which OS account asked for a pending action from the console."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(console_requests).values(
                    action_id=action_id, os_account=who.os_account, user_id=who.user_id, at=utcnow()
                )
            )
    except IntegrityError:  # asked again for the same action: the first account stands
        pass


def approval_refusal(
    engine: Engine, action_id: str, requester: str | None, who: ConsoleIdentity
) -> str | None:
    """Why this console may not approve the action, or None when a different person is approving."""
    with engine.connect() as conn:
        row = conn.execute(
            select(console_requests.c.os_account).where(console_requests.c.action_id == action_id)
        ).first()
    if row is not None and row.os_account == who.os_account:
        return (
            f"Action {action_id} was requested from this OS account ({who.os_account}): "
            "a console approval needs a different OS account, a second person."
        )
    if requester is not None and requester in who.may_act_as:
        return (
            f"Action {action_id} was requested by {requester}, whom the OS account {who.os_account} may "
            "act as: a second person must approve it."
        )
    return None
