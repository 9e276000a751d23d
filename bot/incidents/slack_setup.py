"""The incident's Slack set-up, step by step, each step resumable.

The incident row is stored before any of this runs, with every step listed in
`setup_pending`; a step leaves the list when Slack accepted it. A refused step stays there
with Slack's reason, the declarer is told, and `/incident retry-setup N` runs what is left.
So a crash half-way or a missing scope never loses the incident, and nothing is done twice.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot.incidents import checklists, messages, naming, records
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import SETUP_STEPS, STEP_LABELS, Incident
from bot.incidents.roles import topic
from bot.incidents.slackapi import SlackStepError, call
from bot.oncall.config import ROTATION_PREFIX, rotation_name
from bot.oncall.roster import resolve_contact
from bot.store.timeline import events

log = logging.getLogger(__name__)

INVITE_CHUNK = 1000  # conversations.invite takes at most 1,000 users a call
_IGNORED_INVITE_ERRORS = ("already_in_channel", "cant_invite_self")


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str

    def describe(self) -> str:
        return f"{STEP_LABELS.get(self.step, self.step)}: {self.error}"


class _Waits(Exception):
    """A step that needs an earlier one (the channel, the summary) which is not done."""


# The incident channel is gone (archived, deleted): say it where people will still see it.
_CHANNEL_GONE = ("channel_not_found", "is_archived")


def post(
    desk: IncidentDeps, inc: Incident, text: str, blocks: list[Block] | None = None, **kw: Any
) -> dict[str, Any]:
    """Post in the incident's channel; without one (set-up failed, or the channel was archived),
    in the incidents channel; when the bot was removed from the channel, it joins again."""
    fallback = inc.announcement_channel or desk.announce_target()
    channel = inc.channel_id or fallback
    payload = [b.to_dict() for b in blocks] if blocks else None
    try:
        return call(desk.web.chat_postMessage, channel=channel, text=text, blocks=payload, **kw)
    except SlackStepError as exc:
        if channel == fallback:
            raise
        if exc.error == "not_in_channel":
            call(desk.web.conversations_join, channel=channel)
        elif exc.error in _CHANNEL_GONE:
            log.warning(
                "incident #%s: channel %s is gone (%s); posting in %s", inc.id, channel, exc.error, fallback
            )
            channel = fallback
        else:
            raise
    return call(desk.web.chat_postMessage, channel=channel, text=text, blocks=payload, **kw)


def update(
    desk: IncidentDeps, channel: str | None, ts: str | None, text: str, blocks: list[Block]
) -> dict[str, Any]:
    """Rewrite a message the bot posted (the pinned summary, the announcement) in place."""
    if not channel or not ts:
        raise SlackStepError("chat.update", "the message to rewrite was never posted")
    return call(desk.web.chat_update, channel=channel, ts=ts, text=text, blocks=[b.to_dict() for b in blocks])


def _need_channel(inc: Incident) -> str:
    if not inc.channel_id:
        raise _Waits("waits for the incident channel, which has not been created yet")
    return inc.channel_id


def _channel(desk: IncidentDeps, inc: Incident) -> Incident:
    if inc.channel_id:
        return inc
    base = naming.base_name(
        desk.config.incidents.channel_name,
        incident_id=inc.id,
        severity=inc.severity,
        title=inc.title,
        service=inc.service,
        at=inc.declared_at,
    )
    for name in naming.candidates(base):
        try:
            created = call(desk.web.conversations_create, name=name, is_private=False)
        except SlackStepError as exc:
            if exc.error == "name_taken":
                continue
            raise
        channel = created.get("channel") or {}
        return records.save(
            desk.engine, inc.id, channel_id=channel.get("id"), channel_name=channel.get("name")
        )
    raise SlackStepError(
        "conversations.create",
        f"name_taken: {base} and {naming.MAX_ATTEMPTS - 1} numbered variants all exist",
    )


def contact_entities(
    desk: IncidentDeps, entries: Iterable[str], on_call: Mapping[str, list[str]] | None = None
) -> list[str]:
    """User and group ids for contacts entries: a contacts key expands, an id stays, and
    `rotation:NAME` is whoever is on call for it now (bot.oncall.roster; or `on_call`, a
    snapshot taken before a claim transaction, which must not read the store again)."""

    def rotation(entry: str) -> list[str]:
        if on_call is not None:
            return list(on_call.get(entry, []))
        return resolve_contact(desk.config, desk.engine, entry, desk.clock())

    out: list[str] = []
    for entry in entries:
        if entry.startswith(ROTATION_PREFIX):
            out += rotation(entry)
        elif entry in desk.config.contacts:
            for item in desk.config.contacts[entry]:
                out += rotation(item) if item.startswith(ROTATION_PREFIX) else [item]
        elif entry[:1] in ("U", "W", "S"):
            out.append(entry)
    return list(dict.fromkeys(out))


def on_call_snapshot(desk: IncidentDeps, at: datetime) -> dict[str, list[str]]:
    """`rotation:NAME` → who is on it at `at`, for every rotation (read before a claim)."""
    return {
        ROTATION_PREFIX + name: resolve_contact(desk.config, desk.engine, ROTATION_PREFIX + name, at)
        for name in desk.config.oncall.rotations
    }


def rotation_user(desk: IncidentDeps, entry: str) -> str:
    """`rotation:NAME` as a role holder: whoever is on call for it now."""
    name = rotation_name(entry) or ""
    if name not in desk.config.oncall.rotations:
        known = ", ".join(desk.config.oncall.rotations) or "none configured"
        raise records.IncidentError(f"Unknown rotation `{name}` (rotations: {known}).")
    users = resolve_contact(desk.config, desk.engine, entry, desk.clock())
    if not users:
        raise records.IncidentError(f"Nobody is on call for {name} now.")
    return users[0]


def responders(desk: IncidentDeps, inc: Incident) -> list[str]:
    """Declarer, role holders, the responders picked when declaring, contacts.oncall and the
    service's contacts (ids, groups unexpanded)."""
    declared = events(desk.engine, inc.id, kinds=("declared",))
    picked = [str(u) for e in declared[:1] for u in e.data.get("responders") or []]
    entries = [inc.declared_by, *inc.roles.values(), *picked, "oncall"]
    if inc.service and inc.service in desk.config.services:
        entries += desk.config.services[inc.service].contacts
    return contact_entities(desk, entries)


def invite(desk: IncidentDeps, channel: str, entities: list[str]) -> None:
    """Invite users and the members of groups; raise naming what failed after inviting the rest."""
    users, problems = desk.names.expand_groups(entities)
    _invite_users(desk, channel, users, problems)


def _invite_users(desk: IncidentDeps, channel: str, users: list[str], problems: list[str]) -> None:
    for i in range(0, len(users), INVITE_CHUNK):
        chunk = users[i : i + INVITE_CHUNK]
        try:
            call(desk.web.conversations_invite, channel=channel, users=",".join(chunk), force=True)
        except SlackStepError as exc:
            if exc.error not in _IGNORED_INVITE_ERRORS:
                raise
    if problems:
        raise SlackStepError("usergroups.users.list", "; ".join(problems))


def _invite(desk: IncidentDeps, inc: Incident) -> Incident:
    invite(desk, _need_channel(inc), responders(desk, inc))
    return inc


def _topic(desk: IncidentDeps, inc: Incident) -> Incident:
    call(desk.web.conversations_setTopic, channel=_need_channel(inc), topic=topic(inc, desk.names))
    return inc


def runbook_links(desk: IncidentDeps, inc: Incident) -> list[tuple[str, str]]:
    """(title, link) for the service's runbooks that have a URL (itself, or incidents.runbook_url)."""
    if not inc.service or inc.service not in desk.config.services:
        return []
    template = desk.config.incidents.runbook_url
    out = []
    for name in desk.config.services[inc.service].runbooks:
        if name.startswith(("https://", "http://")):
            out.append((name.rstrip("/").rsplit("/", 1)[-1] or name, name))
        elif template:
            out.append((f"Runbook: {name}", template.format(name=name)))
    return out


def _bookmarks(desk: IncidentDeps, inc: Incident) -> Incident:
    channel = _need_channel(inc)
    for title, link in runbook_links(desk, inc):
        call(desk.web.bookmarks_add, channel_id=channel, title=title, type="link", link=link)
    return inc


def _summary(desk: IncidentDeps, inc: Incident) -> Incident:
    text, blocks = messages.summary(desk.config, inc)
    posted = call(
        desk.web.chat_postMessage,
        channel=_need_channel(inc),
        text=text,
        blocks=[b.to_dict() for b in blocks],
    )
    return records.save(desk.engine, inc.id, summary_ts=posted.get("ts"))


def _pin(desk: IncidentDeps, inc: Incident) -> Incident:
    channel = _need_channel(inc)
    if not inc.summary_ts:
        raise _Waits("waits for the summary message, which has not been posted yet")
    try:
        call(desk.web.pins_add, channel=channel, timestamp=inc.summary_ts)
    except SlackStepError as exc:
        if exc.error != "already_pinned":
            raise
    return inc


def _checklist(desk: IncidentDeps, inc: Incident) -> Incident:
    every = messages.duration(desk.config.update_every(inc.severity))
    text = checklists.checklist_text(
        inc.severity, messages.label(desk.config, inc.severity), every, desk.command
    )
    call(
        desk.web.chat_postMessage,
        channel=_need_channel(inc),
        text=f"{inc.severity} response checklist",
        blocks=[b.to_dict() for b in messages.checklist_blocks(text)],
    )
    return inc


def _announce(desk: IncidentDeps, inc: Incident) -> Incident:
    text, blocks = messages.announcement(desk.config, inc)
    posted = call(
        desk.web.chat_postMessage,
        channel=desk.announce_target(),
        text=text,
        blocks=[b.to_dict() for b in blocks],
        unfurl_links=False,
    )
    return records.save(
        desk.engine, inc.id, announcement_channel=posted.get("channel"), announcement_ts=posted.get("ts")
    )


STEPS: dict[str, Callable[[IncidentDeps, Incident], Incident]] = {
    "channel": _channel,
    "invite": _invite,
    "topic": _topic,
    "bookmarks": _bookmarks,
    "summary": _summary,
    "pin": _pin,
    "checklist": _checklist,
    "announce": _announce,
}
assert tuple(STEPS) == SETUP_STEPS


# The critical path: the channel first; then everything that needs only the channel, at once;
# then what needs the summary (its pin) or should read after it (the checklist). With Slack at
# 150 ms a call that is three round trips instead of eight. The display name the topic shows and
# the members of the groups to invite are fetched while the channel is being created. The
# runbook bookmarks go one after another (Slack lists them in the order they were added), from
# the second round on, and nothing waits for them but the end of the run.
ROUNDS: tuple[tuple[str, ...], ...] = (
    ("channel",),
    ("invite", "topic", "bookmarks", "summary", "announce"),
    ("pin", "checklist"),
)
assert sorted(s for r in ROUNDS for s in r) == sorted(SETUP_STEPS)
# Calls in flight for one incident. Each method is called once per incident (bookmarks once per
# runbook link), far inside Slack's per-method tiers; the WebClient waits out a 429 if one comes.
SETUP_WORKERS = 6
CARRIED = frozenset({"bookmarks"})  # started in their round, awaited after the last one


class _Setup:
    """One set-up run: the steps to do, what failed, and the pending list saved as each step ends."""

    def __init__(self, desk: IncidentDeps, inc: Incident, todo: set[str]) -> None:
        self.desk = desk
        self.inc = inc
        self.todo = todo
        self.done: set[str] = set()
        self.failures: list[StepFailure] = []
        self.invitees: Future[tuple[list[str], list[str]]] | None = None
        self._lock = threading.Lock()

    def finished(self, step: str, error: Exception | None) -> None:
        """Record one step's outcome and save what is still pending (a crash leaves an exact list)."""
        with self._lock:
            if error is None:
                self.done.add(step)
            else:
                log.warning("incident #%s: set-up step %s failed: %s", self.inc.id, step, error)
                self.failures.append(StepFailure(step, str(error)))
            left = [
                {"step": s, "error": _reason(s, self.failures)}
                for s in SETUP_STEPS
                if s in self.todo and s not in self.done
            ]
            records.save(self.desk.engine, self.inc.id, setup_pending=left)

    def task(self, step: str) -> Callable[[], object]:
        """The step as one call with what it needs now (the invitees fetched in the first round)."""
        inc, desk = self.inc, self.desk
        if step == "invite" and self.invitees is not None:
            channel = _need_channel(inc)
            users, problems = self.invitees.result()
            return functools.partial(_invite_users, desk, channel, users, problems)
        return functools.partial(STEPS[step], desk, inc)


def run(
    desk: IncidentDeps, inc: Incident, steps: Iterable[str] | None = None
) -> tuple[Incident, list[StepFailure]]:
    """Run the given steps (default: the pending ones), each round's at once; record what is pending."""
    todo = set(inc.pending_steps if steps is None else steps)
    if desk.slack is None:  # the console without --slack: everything waits for retry-setup
        offline = [StepFailure(s, "not connected to Slack (console)") for s in SETUP_STEPS if s in todo]
        pending = [{"step": f.step, "error": f.error} for f in offline]
        return records.save(desk.engine, inc.id, setup_pending=pending), offline
    had_channel = bool(inc.channel_id)
    setup = _Setup(desk, inc, todo)
    with ThreadPoolExecutor(max_workers=SETUP_WORKERS, thread_name_prefix=f"incident-{inc.id}") as pool:
        warm: list[Future[object]] = []
        if "topic" in todo:
            warm.append(pool.submit(desk.names, inc.commander))
        if "invite" in todo:
            setup.invitees = pool.submit(desk.names.expand_groups, responders(desk, inc))
        carried: dict[str, Future[object]] = {}
        for round_ in ROUNDS:
            started = _start(pool, setup, [s for s in round_ if s in todo])
            carried |= {s: f for s, f in started.items() if s in CARRIED}
            _await(setup, {s: f for s, f in started.items() if s not in CARRIED})
            setup.inc = records.require(desk.engine, inc.id)  # what this round's steps saved
        _await(setup, carried)
        for f in warm:
            f.result()
    inc = setup.inc
    if inc.channel_id and not had_channel and inc.announcement_ts and "announce" not in todo:
        _link_late_channel(desk, inc)
    order = {s: i for i, s in enumerate(SETUP_STEPS)}
    return inc, sorted(setup.failures, key=lambda f: order[f.step])


def _start(pool: ThreadPoolExecutor, setup: _Setup, steps: list[str]) -> dict[str, Future[object]]:
    """Start these steps at once; a step that cannot start (no channel yet) is recorded as failed."""
    started: dict[str, Future[object]] = {}
    for step in steps:
        try:
            started[step] = pool.submit(setup.task(step))
        except (SlackStepError, _Waits) as exc:
            setup.finished(step, exc)
    return started


def _await(setup: _Setup, started: dict[str, Future[object]]) -> None:
    for step, future in started.items():
        try:
            future.result()
        except (SlackStepError, _Waits) as exc:
            setup.finished(step, exc)
        else:
            setup.finished(step, None)


def _reason(step: str, failures: list[StepFailure]) -> str:
    return next((f.error for f in failures if f.step == step), "not run yet")


def _link_late_channel(desk: IncidentDeps, inc: Incident) -> None:
    """The channel came after the announcement (a retry): fix the link in the announcement."""
    text, blocks = messages.announcement(desk.config, inc)
    channel, ts = inc.announcement_channel, inc.announcement_ts
    try:
        if not channel or not ts:
            raise SlackStepError("chat.update", "the announcement was never posted")
        update(desk, channel, ts, text, blocks)
        call(
            desk.web.chat_postMessage,
            channel=channel,
            thread_ts=ts,
            text=f"War room for incident #{inc.id}: <#{inc.channel_id}>",
        )
    except SlackStepError as exc:
        log.warning("incident #%s: could not link the new channel in the announcement: %s", inc.id, exc)
