"""App Home: what a responder needs at a glance, as a Block Kit home view.

Open incidents (severity, age, commander, my role, the channel), the actions waiting on me
(my requests to confirm, approvals I can give, with their buttons), who is on call, my last
runbook runs, and buttons to declare an incident or run a runbook. `build` reads the store;
`HomeRefresher` decides when a user's home is published again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from sqlalchemy import Engine, select

from bot.config import ChatopsConfig
from bot.guard import Access, PendingAction
from bot.guard import pending as pending_store
from bot.incidents import records
from bot.incidents.messages import duration, label
from bot.incidents.records import Incident
from bot.incidents.roles import ROLES
from bot.incidents.slackapi import mention
from bot.slack.ids import ActionId
from bot.store.tables import audit

MAX_INCIDENTS = 15
MAX_ACTIONS = 10  # of each kind: my confirmations, approvals I can give
MAX_RUNS = 5
TEXT_LIMIT = 3000
MAX_BLOCKS = 100  # Slack's limit for a home view


@dataclass(frozen=True)
class OnCall:
    """Someone on call now: a user (U…) or group (S…) id, where it comes from, until when."""

    who: str
    source: str  # "contacts.oncall", "rotation primary", …
    until: datetime | None = None


# Who is on call at a moment. The default reads contacts.oncall; a rotation-backed provider
# (bot/oncall) plugs in here through `register(..., oncall=provider)`.
OncallProvider = Callable[[datetime], Sequence[OnCall]]


def contacts_oncall(config: ChatopsConfig) -> OncallProvider:
    """contacts.oncall as configured: the same people every day."""

    def provider(_now: datetime) -> list[OnCall]:
        entries = config.contacts.get("oncall", [])
        return [OnCall(e, "contacts.oncall") for e in entries if e[:1] in ("U", "W", "S")]

    return provider


@dataclass(frozen=True)
class RunbookRun:
    at: datetime
    command: str
    detail: str
    channel_id: str


@dataclass(frozen=True)
class HomeData:
    """Everything one user's home shows, read at one moment."""

    user: str
    now: datetime
    incidents: list[Incident]
    to_confirm: list[PendingAction]
    to_approve: list[PendingAction]
    oncall: list[OnCall]
    runs: list[RunbookRun]
    notice: str = ""


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:TEXT_LIMIT]), accessory=accessory)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:TEXT_LIMIT])])


def last_runs(engine: Engine, user: str, limit: int = MAX_RUNS) -> list[RunbookRun]:
    """The user's latest runbook runs, from the audit row each run ends with."""
    query = (
        select(audit.c.at, audit.c.command, audit.c.detail, audit.c.channel_id)
        .where(
            audit.c.user_id == user,
            audit.c.handler.is_(None),
            audit.c.command.like("/runbook run %"),
            audit.c.detail.like("runbook %"),
        )
        .order_by(audit.c.at.desc(), audit.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [RunbookRun(r.at, r.command, r.detail, r.channel_id) for r in rows]


def gather(
    engine: Engine,
    access: Access,
    oncall: OncallProvider,
    user: str,
    now: datetime,
    notice: str = "",
) -> HomeData:
    open_actions = pending_store.list_actions(engine, limit=200)
    live = [a for a in open_actions if pending_store.utc(a.expires_at) > pending_store.utc(now)]
    to_confirm = [a for a in live if a.requester == user and a.status is pending_store.Status.PENDING]
    others = [a for a in live if a.status is pending_store.Status.AWAITING_APPROVAL and a.requester != user]
    # Asked only when there is something to approve (it may ask Slack for a group's members).
    to_approve = others if others and access.is_approver(user) else []
    return HomeData(
        user=user,
        now=now,
        incidents=records.list_open(engine),
        to_confirm=to_confirm[:MAX_ACTIONS],
        to_approve=to_approve[:MAX_ACTIONS],
        oncall=list(oncall(now)),
        runs=last_runs(engine, user),
        notice=notice,
    )


def my_roles(inc: Incident, user: str) -> list[str]:
    roles = dict(inc.roles)
    roles.setdefault("commander", inc.commander)
    mine = [ROLES[r][0].lower() for r in ROLES if roles.get(r) == user]
    if inc.declared_by == user:
        mine.append("declarer")
    return mine


def _incident_line(config: ChatopsConfig, inc: Incident, data: HomeData) -> str:
    where = f"<#{inc.channel_id}>" if inc.channel_id else "_no channel yet_"
    roles = my_roles(inc, data.user)
    you = f" · you: *{', '.join(roles)}*" if roles else ""
    ack = "" if inc.acknowledged_by else " · :rotating_light: not acknowledged"
    return (
        f"*#{inc.id} {inc.severity}* ({escape(label(config, inc.severity))}) {escape(inc.title)}\n"
        f"{where} · {inc.status} · age {duration(data.now - inc.declared_at)} · "
        f"IC {mention(inc.commander)}{you}{ack}"
    )


def _button(text: str, action: ActionId, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action.value, value=value, style=style)


def _action_blocks(action: PendingAction, text: str, buttons: list[ButtonElement]) -> list[Block]:
    return [_section(text), ActionsBlock(block_id=f"home-{action.id}"[:255], elements=buttons)]


def build(config: ChatopsConfig, data: HomeData) -> View:
    """The home view for `data.user`: the buttons (and a notice), then one part per concern."""
    blocks: list[Block] = [
        HeaderBlock(text="chatops"),
        ActionsBlock(
            block_id="home-buttons",
            elements=[
                _button("Declare incident", ActionId.HOME_DECLARE, "declare", style="danger"),
                _button("Run runbook", ActionId.HOME_RUNBOOK, "runbook"),
            ],
        ),
    ]
    if data.notice:
        blocks.append(_context(data.notice))
    for part in (_incident_blocks, _waiting_blocks, _oncall_blocks, _runs_blocks):
        blocks += part(config, data)
    return View(type="home", blocks=blocks[:MAX_BLOCKS])


def _incident_blocks(config: ChatopsConfig, data: HomeData) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), _section(f"*Open incidents ({len(data.incidents)})*")]
    # Most severe first (P0 before P3), then the newest.
    ordered = sorted(data.incidents, key=lambda i: (i.severity, -i.id))
    blocks += [_section(_incident_line(config, inc, data)) for inc in ordered[:MAX_INCIDENTS]]
    if len(ordered) > MAX_INCIDENTS:
        more = len(ordered) - MAX_INCIDENTS
        blocks.append(_context(f"and {more} more: `{config.command_name('incident')} list` shows them all."))
    if not ordered:
        blocks.append(_context("None open. :sunny:"))
    return blocks


def _waiting_blocks(_config: ChatopsConfig, data: HomeData) -> list[Block]:
    waiting = len(data.to_confirm) + len(data.to_approve)
    blocks: list[Block] = [DividerBlock(), _section(f"*Waiting on you ({waiting})*")]
    for a in data.to_confirm:
        text = (
            f"You asked for `{escape(a.handler)}` on {escape(a.where)}: "
            f"{escape(a.preview.summary)}\n"
            f"Confirm before {a.expires_at:%H:%M} UTC"
            + (" · then an approver must approve it" if a.needs_approval else "")
        )
        blocks += _action_blocks(
            a,
            text,
            [
                _button("Confirm", ActionId.HOME_CONFIRM, a.id, style="primary"),
                _button("Cancel", ActionId.HOME_CANCEL, a.id),
            ],
        )
    for a in data.to_approve:
        text = (
            f"{mention(a.requester)} asks to run `{escape(a.handler)}` on {escape(a.where)}: "
            f"`{escape(a.command_line)}`\nApprove before {a.expires_at:%H:%M} UTC"
        )
        blocks += _action_blocks(
            a,
            text,
            [
                _button("Approve", ActionId.HOME_APPROVE, a.id, style="primary"),
                _button("Reject", ActionId.HOME_REJECT, a.id, style="danger"),
            ],
        )
    if not waiting:
        blocks.append(_context("Nothing waits for your confirmation or approval."))
    return blocks


def _oncall_blocks(_config: ChatopsConfig, data: HomeData) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), _section("*On call now*")]
    if data.oncall:
        lines = [
            f"{mention(o.who)} ({escape(o.source)}"
            + (f", until {o.until:%a %H:%M %Z}".rstrip() if o.until else "")
            + ")"
            for o in data.oncall[:20]
        ]
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_context("Nobody: add `contacts.oncall` to chatops.yaml."))
    return blocks


def _runs_blocks(_config: ChatopsConfig, data: HomeData) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), _section("*Your last runbook runs*")]
    if data.runs:
        lines = []
        for r in data.runs:
            where = f" in <#{r.channel_id}>" if r.channel_id.startswith(("C", "G")) else ""
            verdict = r.detail.split(":", 1)[-1].strip()
            lines.append(
                f"`{escape(r.command[:150])}`{where} · {r.at:%b %d %H:%M} UTC · {escape(verdict[:200])}"
            )
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_context("None yet: *Run runbook* above, or `/runbook list`."))
    return blocks


def fingerprint(view: View) -> str:
    return hashlib.sha256(json.dumps(view.to_dict(), sort_keys=True).encode()).hexdigest()
