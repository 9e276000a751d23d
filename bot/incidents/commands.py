"""`/incident …`: declare, assign, update, severity, status, list, ack, snooze, resolve, post-mortem.

Subcommands that act on one incident take it from the channel they are typed in (the war
room), or from `#N` as the first word (`N` alone where no free text follows).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import datetime

from slack_sdk.models.views import View

from bot.commands.builtin import BuiltinFn, Call, builtin
from bot.commands.parse import ParseError
from bot.commands.responder import Responder
from bot.incidents import lifecycle, postmortem, postmortem_chart, records, views
from bot.incidents.deps import IncidentDeps
from bot.incidents.messages import duration, headline, hhmm, label
from bot.incidents.permits import IncidentNotAllowed, permit
from bot.incidents.records import Incident, IncidentError
from bot.incidents.roles import parse_role, parse_user
from bot.incidents.slack_setup import rotation_user
from bot.incidents.slackapi import SlackStepError, call, mention
from bot.store.audit import Outcome
from bot.store.timeline import events, incident_for_channel
from handlers.params import parse_duration
from handlers.results import Table, Text

_REF = re.compile(r"^#(\d+)$")
_BARE = re.compile(r"^#?(\d+)$")
_SEV = re.compile(r"^[Pp][0-9]$")
# Subcommands whose access check needs the incident or the severity: made inside them.
_OWN_CHECK = frozenset(
    {"incident.declare", "incident.update", "incident.assign", "incident.severity", "incident.resolve"}
)


def _audited(sub: str) -> Callable[[BuiltinFn], BuiltinFn]:
    return functools.partial(_wrap, sub)


def _wrap(sub: str, fn: BuiltinFn) -> BuiltinFn:
    """Turn IncidentError into a message for the requester, and audit every use."""

    @functools.wraps(fn)
    def run(c: Call) -> None:
        started = time.monotonic()
        outcome, detail = Outcome.OK, ""
        try:
            if f"incident.{sub}" not in _OWN_CHECK:  # the rest check with their incident or severity
                permit(c.runtime, c.request.user_id, f"incident.{sub}")
            fn(c)
        except (IncidentError, ParseError) as exc:
            refused = isinstance(exc, IncidentNotAllowed)
            outcome, detail = (Outcome.REFUSED if refused else Outcome.ERROR), str(exc)
            c.respond.error(str(exc))
        c.audit(f"incident.{sub}", outcome, detail, started)

    return run


def _ref(c: Call, words: list[str], *, bare: bool) -> tuple[int, list[str]]:
    """The incident meant: `#N` (or `N`) first, else the channel's own incident."""
    pattern = _BARE if bare else _REF
    if words and (m := pattern.match(words[0])):
        return int(m.group(1)), words[1:]
    found = incident_for_channel(c.runtime.store.engine, c.request.channel_id)
    if found is None:
        cmd = IncidentDeps.of(c.runtime).command("incident")
        raise IncidentError(
            f"This channel is not an incident's: run it in the incident channel, or name the incident "
            f"(`{cmd} … #12`; `{cmd} list` shows the open ones)."
        )
    return found, words


def _say(c: Call, text: str, warnings: list[str], *, ephemeral: bool = False) -> None:
    if warnings:
        text += "\n" + "\n".join(f":warning: Slack: {w}" for w in warnings)
    c.respond.say(text, ephemeral=ephemeral)


def _open_modal(c: Call, view: View) -> bool:
    """Open a modal for the requester; False when there is no Slack (console) or no trigger."""
    desk = IncidentDeps.of(c.runtime)
    trigger = c.trigger_id
    if desk.slack is None or not trigger:
        return False
    try:
        call(desk.web.views_open, trigger_id=trigger, view=view.to_dict())
    except SlackStepError as exc:
        raise IncidentError(f"Could not open the form: {exc}") from None
    return True


def _flag(words: list[str], *names: str) -> tuple[str | None, list[str]]:
    """Take `--name VALUE` (or `--name=VALUE`) out of the words."""
    rest: list[str] = []
    value: str | None = None
    i = 0
    while i < len(words):
        w = words[i]
        key, eq, inline = w.partition("=")
        if key in names and eq:
            value = inline
        elif w in names:
            if i + 1 >= len(words):
                raise IncidentError(f"`{w}` needs a value.")
            value = words[i + 1]
            i += 1
        else:
            rest.append(w)
        i += 1
    return value, rest


# -- declare -------------------------------------------------------------------------------


@builtin("incident", "declare", usage="[P0-P3] TITLE [--service NAME] [--description TEXT]")
@_audited("declare")
def declare(c: Call) -> None:
    """Declare an incident: its own channel, responders, checklist, reminders and escalation.

    `/incident declare P1 checkout errors --service backend`. Without a severity or a
    title, a form asks for severity, title, service and description.
    """
    desk = IncidentDeps.of(c.runtime)
    service, words = _flag(c.words, "--service", "-s")
    description, words = _flag(words, "--description", "-d")
    severity = None
    if words and _SEV.match(words[0]):
        severity, words = words[0].upper(), words[1:]
    title = " ".join(words)
    if severity is None or not title:
        permit(c.runtime, c.request.user_id, "incident.declare")  # the form re-checks its severity
        view = views.declare(
            desk.config,
            severity=severity,
            title=title,
            service=service,
            metadata={"channel": c.request.channel_id},
            user=c.request.user_id,
        )
        if _open_modal(c, view):
            return
        raise IncidentError(
            f"Usage: `{desk.command('incident')} declare P0-P3 TITLE [--service NAME]` "
            f"(severities: {', '.join(sorted(desk.config.severities))})."
        )
    permit(c.runtime, c.request.user_id, "incident.declare", severity=severity)
    out = lifecycle.declare(
        desk,
        user=c.request.user_id,
        title=title,
        severity=severity,
        service=service,
        description=description or "",
    )
    report_declared(c.respond, desk, out)


def report_declared(respond: Responder, desk: IncidentDeps, out: lifecycle.IncidentChange) -> None:
    """Tell the declarer what happened, naming every set-up step Slack refused and why."""
    inc = out.incident
    where = f"<#{inc.channel_id}>" if inc.channel_id else "_(no channel yet)_"
    every = duration(desk.config.update_every(inc.severity))
    respond.say(
        f":rotating_light: Incident #{inc.id} declared: {headline(desk.config, inc)} — war room {where}. "
        f"{mention(inc.commander)} is the incident commander; status updates are due every {every}.",
        ephemeral=False,
    )
    if out.failures and desk.slack is None:
        respond.say(
            f"Not connected to Slack here: the channel, invites and announcement wait for "
            f"`{desk.command('incident')} retry-setup {inc.id}` (in Slack, or `chatops console --slack`).",
            ephemeral=True,
        )
    elif out.failures:
        lines = "\n".join(f"• {f.describe()}" for f in out.failures)
        respond.error(
            f"Incident #{inc.id} is recorded, but Slack refused some set-up steps:\n{lines}\n"
            f"Fix that, then run `{desk.command('incident')} retry-setup {inc.id}` to finish them."
        )


@builtin("incident", "retry-setup", usage="[N]")
@_audited("retry-setup")
def retry_setup(c: Call) -> None:
    """Finish the Slack set-up steps of an incident that Slack refused (channel, invites, pins…)."""
    desk = IncidentDeps.of(c.runtime)
    incident_id, _rest = _ref(c, c.words, bare=True)
    before = records.require(desk.engine, incident_id)
    if not before.setup_pending:
        c.respond.say(f"Incident #{incident_id} is fully set up; nothing to retry.", ephemeral=True)
        return
    out = lifecycle.retry_setup(desk, incident_id)
    if out.failures:
        lines = "\n".join(f"• {f.describe()}" for f in out.failures)
        c.respond.error(f"Incident #{incident_id}: Slack still refuses:\n{lines}")
        return
    inc = out.incident
    where = f" — war room <#{inc.channel_id}>" if inc.channel_id else ""
    done = ", ".join(before.pending_steps)
    c.respond.say(f":white_check_mark: Incident #{incident_id} is set up ({done}){where}.", ephemeral=False)


# -- while open ----------------------------------------------------------------------------


@builtin("incident", "update", usage="[#N] [--public] [--status STATUS] TEXT")
@_audited("update")
def update(c: Call) -> None:
    """Post a status update: in the channel and the announcement's thread; moves the next reminder.

    `--public` shows it on the status page; `--status identified` changes the status too.
    Without text, a form opens.
    """
    desk = IncidentDeps.of(c.runtime)
    incident_id, words = _ref(c, c.words, bare=False)
    public = "--public" in words
    words = [w for w in words if w != "--public"]
    status, words = _flag(words, "--status")
    text = " ".join(words)
    permit(
        c.runtime,
        c.request.user_id,
        "incident.update.public" if public else "incident.update",
        incident=records.require(desk.engine, incident_id),
    )
    if not text:
        inc = records.require(desk.engine, incident_id)
        if _open_modal(c, views.update(desk.config, inc, metadata={"channel": c.request.channel_id})):
            return
        raise IncidentError(f"Usage: `{desk.command('incident')} update [--public] TEXT`.")
    out = lifecycle.post_update(
        desk, incident_id, user=c.request.user_id, text=text, public=public, status=status
    )
    nxt = hhmm(out.incident.next_update_due)
    _say(c, f"Update recorded for incident #{incident_id}; next one due {nxt}.", out.warnings, ephemeral=True)


@builtin("incident", "assign", usage="[N] ROLE @user")
@_audited("assign")
def assign(c: Call) -> None:
    """Give a role to someone: commander, tech-lead, comms-lead or db-lead.

    `rotation:primary` instead of @user gives it to whoever is on call for that rotation now.
    """
    desk = IncidentDeps.of(c.runtime)
    incident_id, words = _ref(c, c.words, bare=True)
    if len(words) != 2:
        raise IncidentError(
            f"Usage: `{desk.command('incident')} assign ROLE @user` "
            "(roles: commander, tech-lead, comms-lead, db-lead)."
        )
    role = parse_role(words[0])
    user = rotation_user(desk, words[1]) if words[1].startswith("rotation:") else parse_user(words[1])
    permit(
        c.runtime, c.request.user_id, "incident.assign", incident=records.require(desk.engine, incident_id)
    )
    out = lifecycle.assign(desk, incident_id, user=c.request.user_id, role=role, assignee=user)
    _say(c, f"{mention(user)} is now {role} of incident #{incident_id}.", out.warnings, ephemeral=True)


@builtin("incident", "severity", usage="[N] P0-P3")
@_audited("severity")
def severity(c: Call) -> None:
    """Change the severity: topic, summary, update interval and escalation ladder follow."""
    desk = IncidentDeps.of(c.runtime)
    sev = next((w for w in c.words if _SEV.match(w)), None)
    incident_id, _rest = _ref(c, [w for w in c.words if w != sev], bare=True)
    if sev is None:
        raise IncidentError(f"Usage: `{desk.command('incident')} severity P0-P3`.")
    inc = records.require(desk.engine, incident_id)
    permit(c.runtime, c.request.user_id, "incident.severity", incident=inc, severity=sev)
    out = lifecycle.set_severity(desk, incident_id, user=c.request.user_id, severity=sev)
    _say(c, f"Incident #{incident_id} is now {out.incident.severity}.", out.warnings, ephemeral=True)


@builtin("incident", "status", usage="[N] [investigating|identified|monitoring]")
@_audited("status")
def status(c: Call) -> None:
    """Show an incident's state, or move it on: investigating → identified → monitoring."""
    desk = IncidentDeps.of(c.runtime)
    incident_id, words = _ref(c, c.words, bare=True)
    if words:
        out = lifecycle.set_status(desk, incident_id, user=c.request.user_id, status=words[0])
        _say(c, f"Incident #{incident_id} is now {out.incident.status}.", out.warnings, ephemeral=True)
        return
    inc = records.require(desk.engine, incident_id)
    c.respond.say(describe(desk, inc, desk.clock()), ephemeral=True)


def describe(desk: IncidentDeps, inc: Incident, now: datetime) -> str:
    lines = [f"*Incident #{inc.id}:* {headline(desk.config, inc)}"]
    facts = [
        f"Status: *{inc.status}*",
        f"Service: {inc.service or '—'}",
        f"IC: {mention(inc.commander)}",
        f"Age: {duration((inc.resolved_at or now) - inc.declared_at)}",
    ]
    if inc.channel_id:
        facts.append(f"Channel: <#{inc.channel_id}>")
    lines.append(" · ".join(facts))
    if inc.is_open:
        lines.append(f"Next status update due {_due(inc, now)}.")
        if inc.acknowledged_by:
            lines.append(f"Acknowledged by {mention(inc.acknowledged_by)} at {hhmm(inc.acknowledged_at)}.")
        elif inc.next_escalation_due:
            lines.append(f"Not acknowledged: next escalation step {hhmm(inc.next_escalation_due)}.")
        else:
            lines.append("Not acknowledged; the escalation ladder is done.")
    else:
        lines.append(f"Resolved by {mention(inc.resolved_by or '')} at {hhmm(inc.resolved_at)}.")
    if inc.setup_pending:
        lines.append(f":warning: Set-up steps pending: {', '.join(inc.pending_steps)} (`retry-setup`).")
    return "\n".join(lines)


def _due(inc: Incident, now: datetime) -> str:
    if inc.next_update_due is None:
        return "—"
    delta = inc.next_update_due - now
    rel = f"in {duration(delta)}" if delta.total_seconds() >= 0 else f"{duration(-delta)} overdue"
    return f"{hhmm(inc.next_update_due)} ({rel})"


@builtin("incident", "list")
@_audited("list")
def list_(c: Call) -> None:
    """List the open incidents: severity, age, commander, next update due."""
    desk = IncidentDeps.of(c.runtime)
    now = desk.clock()
    rows = [
        [
            f"#{inc.id}",
            inc.severity,
            inc.title[:50],
            inc.status,
            "@" + desk.names(inc.commander),
            duration(now - inc.declared_at),
            _due(inc, now),
            "yes" if inc.acknowledged_by else "no",
            f"#{inc.channel_name}" if inc.channel_name else "—",
        ]
        for inc in records.list_open(desk.engine)
    ]
    c.respond.result(
        Table(
            title="Open incidents",
            columns=["#", "SEV", "TITLE", "STATUS", "IC", "AGE", "NEXT UPDATE", "ACK", "CHANNEL"],
            rows=rows,
            summary=f"{len(rows)} open" if rows else "No open incidents.",
            values={"open": len(rows)},
        )
    )


@builtin("incident", "ack", usage="[N]")
@_audited("ack")
def ack(c: Call) -> None:
    """Acknowledge an incident: stops its escalation ladder."""
    incident_id, _rest = _ref(c, c.words, bare=True)
    out = lifecycle.acknowledge(IncidentDeps.of(c.runtime), incident_id, user=c.request.user_id)
    _say(c, f"Incident #{incident_id} acknowledged; escalation stopped.", out.warnings, ephemeral=True)


@builtin("incident", "snooze", usage="[#N] 15m|30m|60m")
@_audited("snooze")
def snooze(c: Call) -> None:
    """Snooze the status-update reminder (15, 30 or 60 minutes)."""
    incident_id, words = _ref(c, c.words, bare=False)
    if len(words) != 1:
        raise IncidentError("Usage: `snooze 30m` (15m, 30m or 60m).")
    try:
        minutes = int(
            parse_duration(words[0] if not words[0].isdigit() else words[0] + "m").total_seconds() // 60
        )
    except ValueError as exc:
        raise IncidentError(str(exc)) from None
    out = lifecycle.snooze(IncidentDeps.of(c.runtime), incident_id, user=c.request.user_id, minutes=minutes)
    _say(c, f"Reminder snoozed until {hhmm(out.incident.next_update_due)}.", out.warnings, ephemeral=True)


@builtin("incident", "resolve", usage="[#N] [SUMMARY]")
@_audited("resolve")
def resolve(c: Call) -> None:
    """Resolve an incident: stops reminders and escalation, posts the duration, asks for the post-mortem."""
    incident_id, words = _ref(c, c.words, bare=False)
    deps = IncidentDeps.of(c.runtime)
    permit(
        c.runtime, c.request.user_id, "incident.resolve", incident=records.require(deps.engine, incident_id)
    )
    out = lifecycle.resolve(deps, incident_id, user=c.request.user_id, summary=" ".join(words))
    took = duration((out.incident.resolved_at or out.incident.declared_at) - out.incident.declared_at)
    _say(c, f"Incident #{incident_id} resolved after {took}.", out.warnings, ephemeral=True)


# -- after -----------------------------------------------------------------------------------


@builtin("incident", "timeline", usage="[N]")
@_audited("timeline")
def timeline(c: Call) -> None:
    """Show an incident's timeline: declaration, updates, roles, changes, runbooks, pins."""
    desk = IncidentDeps.of(c.runtime)
    incident_id, _rest = _ref(c, c.words, bare=True)
    inc = records.require(desk.engine, incident_id)
    lines = [
        f"*{e.at:%H:%M}* {postmortem.describe_event(e, desk.names)}"
        for e in events(desk.engine, inc.id)
        if e.kind != "snooze"
    ]
    c.respond.result(Text(title=f"Timeline of incident #{inc.id} (UTC)", text="\n".join(lines) or "(empty)"))


@builtin("incident", "postmortem", usage="[N]")
@_audited("postmortem")
def postmortem_(c: Call) -> None:
    """Draft the post-mortem from the timeline (the seeds' report template) and upload it here."""
    desk = IncidentDeps.of(c.runtime)
    incident_id, _rest = _ref(c, c.words, bare=True)
    inc = records.require(desk.engine, incident_id)
    text = postmortem.draft_postmortem(desk.engine, desk.config, inc.id, name=desk.names)
    channel = inc.channel_id or c.request.channel_id
    try:
        call(
            desk.web.files_upload_v2,
            channel=channel,
            content=text,
            filename=postmortem.filename(inc.id),
            title=f"Post-mortem draft: incident #{inc.id} {inc.title}"[:250],
            initial_comment=(
                f":memo: Post-mortem draft for incident #{inc.id} ({label(desk.config, inc.severity)}), "
                "drawn from the timeline: fill in the parts in italics."
            ),
        )
    except SlackStepError as exc:
        raise IncidentError(
            f"Could not upload the post-mortem: {exc}. "
            f"From a terminal: `chatops incident postmortem {inc.id} --out {postmortem.filename(inc.id)}`."
        ) from None
    charted = postmortem_chart.upload(c.runtime, desk, inc.id, channel)
    c.respond.say(
        f"Post-mortem draft for incident #{inc.id} uploaded to <#{channel}>.{charted}", ephemeral=True
    )
