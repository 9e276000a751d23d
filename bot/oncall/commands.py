"""`/oncall`: who is on call now, the coming shifts, overrides.

Times are shown in the rotation's time zone and in the viewer's own (Slack's `users.info`
`tz`); `--from`/`--to` are read in the viewer's time zone.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands.builtin import BuiltinFn, Call, builtin
from bot.incidents.deps import IncidentDeps
from bot.incidents.slackapi import SlackStepError, call
from bot.oncall import overrides as ov
from bot.oncall import roster
from bot.oncall.config import OncallConfig
from bot.oncall.schedule import Shift, next_after, stint
from bot.oncall.when import WhenError, parse_when
from bot.store.audit import Outcome
from handlers.results import Table

MAX_WEEKS = 26
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")
UTC_ZONE = ZoneInfo("UTC")


class OncallError(Exception):
    """A request `/oncall` cannot do; the message tells the user why."""


def _audited(sub: str) -> Callable[[BuiltinFn], BuiltinFn]:
    def wrap(fn: BuiltinFn) -> BuiltinFn:
        @functools.wraps(fn)
        def run(c: Call) -> None:
            started = time.monotonic()
            outcome, detail = Outcome.OK, ""
            try:
                fn(c)
            except (OncallError, ov.OverrideError, WhenError) as exc:
                outcome, detail = Outcome.ERROR, str(exc)
                c.respond.error(str(exc))
            c.audit(f"oncall.{sub}", outcome, detail, started)

        return run

    return wrap


# -- helpers -------------------------------------------------------------------------------------


def _oncall(c: Call) -> OncallConfig:
    cfg: OncallConfig = c.runtime.config.oncall
    if not cfg.rotations:
        raise OncallError("No rotations are configured: add `oncall.rotations` to chatops.yaml.")
    return cfg


def user_info(slack: Any, user_id: str) -> dict[str, Any] | None:
    """Slack's users.info for a user; None when Slack does not know them. Raises SlackStepError."""
    try:
        found = call(slack.users_info, user=user_id)
    except SlackStepError as exc:
        if exc.error in ("user_not_found", "user_not_visible"):
            return None
        raise
    user = found.get("user")
    return dict(user) if isinstance(user, dict) else None


def viewer_zone(c: Call) -> ZoneInfo:
    """The requester's time zone from their Slack profile; UTC when Slack cannot say."""
    if c.runtime.slack is None:
        return UTC_ZONE
    try:
        info = user_info(c.runtime.slack, c.request.user_id) or {}
    except SlackStepError:
        return UTC_ZONE
    try:
        return ZoneInfo(str(info.get("tz") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def fmt(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %H:%M")


def span(sh: Shift, rot_zone: ZoneInfo, viewer: ZoneInfo) -> str:
    text = f"{fmt(sh.start, rot_zone)} → {fmt(sh.end, rot_zone)} {rot_zone.key}"
    if viewer.key != rot_zone.key:
        text += f" (yours: {fmt(sh.start, viewer)} → {fmt(sh.end, viewer)} {viewer.key})"
    return text


def parse_user(word: str) -> str:
    m = _USER.match(word.strip())
    if not m:
        raise OncallError(f"`{word}` is not a Slack user: mention them with @ (Slack sends `<@U…>`).")
    return m.group(1) or m.group(2)


def _flags(words: list[str], names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """`--name VALUE WORDS…` up to the next flag; a value may be several words (`Fri 17:00`)."""
    found: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        key, eq, inline = w.partition("=")
        if key in names:
            j = i + 1
            value = [inline] if eq else []
            while not eq and j < len(words) and not words[j].startswith("--"):
                value.append(words[j])
                j += 1
            if not value or not " ".join(value).strip():
                raise OncallError(f"`{key}` needs a value.")
            found[key] = " ".join(value)
            i = j
        elif w.startswith("--"):
            raise OncallError(f"Unknown option `{w}`; this command takes {', '.join(names)}.")
        else:
            rest.append(w)
            i += 1
    return found, rest


def rotation_or_default(cfg: OncallConfig, given: str | None) -> str:
    if given is None:
        if "primary" in cfg.rotations:
            return "primary"
        if len(cfg.rotations) == 1:
            return next(iter(cfg.rotations))
        raise OncallError(f"Which rotation? Add `--rotation NAME` ({', '.join(cfg.rotations)}).")
    name = given.strip().lower()
    if name not in cfg.rotations:
        raise OncallError(f"Unknown rotation `{given}`. Rotations: {', '.join(cfg.rotations)}.")
    return name


def may_change(c: Call, rotation: str) -> bool:
    """Members of the rotation and operators may add or remove its overrides."""
    user = c.request.user_id
    return user in c.runtime.config.oncall.rotations[rotation].members or c.runtime.access.is_operator(user)


# -- /oncall now ---------------------------------------------------------------------------------


def now_lines(config: Any, engine: Any, at: datetime, viewer: ZoneInfo) -> list[str]:
    lines = []
    for name, rcfg in config.oncall.rotations.items():
        rot = roster.rotation(engine, config, name, at)
        zone = rcfg.zone
        start, end = roster.window_around(rot, at, ahead=4)
        shifts = roster.shifts(engine, config, name, start, end, now=at)
        cur = stint(shifts, at)
        nxt = next_after(shifts, cur, at)
        if cur is None:
            first = nxt.user if nxt else rcfg.members[0]
            when = nxt.start if nxt else rot.starts
            lines.append(f"• *{name}*: nobody yet — starts {fmt(when, zone)} {zone.key} with <@{first}>")
            continue
        extra = (
            f" _(override #{cur.override_id}, covering <@{cur.scheduled}>)_"
            if cur.is_override and cur.scheduled
            else ""
        )
        if cur.is_override and not cur.scheduled:
            extra = f" _(override #{cur.override_id})_"
        if nxt is None:  # nobody else ahead (a one-person rotation): no end to tell
            since = fmt(cur.start, zone) + f" {zone.key}"
            lines.append(
                f"• *{name}*: <@{cur.user}>{extra} — since {since}; nobody else is next in the rotation"
            )
            continue
        line = f"• *{name}*: <@{cur.user}>{extra} — {span(cur, zone, viewer)}"
        line += f"\n   next: <@{nxt.user}> from {fmt(nxt.start, zone)} {zone.key}"
        if viewer.key != zone.key:
            line += f" (yours: {fmt(nxt.start, viewer)})"
        lines.append(line)
    return lines


@builtin("oncall", "now", default=True)  # a bare `/oncall` answers who is on call now
@_audited("now")
def now(c: Call) -> None:
    """Who is on call for each rotation now, since and until when, and who is next.

    Times are in the rotation's time zone and in yours (from your Slack profile).
    """
    _oncall(c)
    at = c.runtime.clock()
    viewer = viewer_zone(c)
    lines = now_lines(c.runtime.config, c.runtime.store.engine, at, viewer)
    c.respond.say("*On call now*\n" + "\n".join(lines), ephemeral=True)


# -- /oncall schedule ----------------------------------------------------------------------------


@builtin("oncall", "schedule", usage="[--weeks 4] [--rotation NAME]")
@_audited("schedule")
def schedule(c: Call) -> None:
    """The coming shifts of every rotation (or one), overrides marked; `--weeks` up to 26."""
    cfg = _oncall(c)
    flags, rest = _flags(c.words, ("--weeks", "--rotation"))
    if rest:
        raise OncallError(f"Unexpected `{' '.join(rest)}`. Usage: `schedule [--weeks 4] [--rotation NAME]`.")
    weeks_text = flags.get("--weeks", "4")
    if not weeks_text.isdigit() or not 1 <= int(weeks_text) <= MAX_WEEKS:
        raise OncallError(f"`--weeks` takes a number from 1 to {MAX_WEEKS}.")
    names = [rotation_or_default(cfg, flags["--rotation"])] if "--rotation" in flags else list(cfg.rotations)
    at = c.runtime.clock()
    end = at + timedelta(weeks=int(weeks_text))
    viewer = viewer_zone(c)
    mine = any(cfg.rotations[n].timezone != viewer.key for n in names)
    rows: list[list[str]] = []
    engine = c.runtime.store.engine
    for name in names:
        zone = cfg.rotations[name].zone
        rot = roster.rotation(engine, c.runtime.config, name, at)
        # Whole shifts: from the start of the current one to the end of the last one begun.
        first, last = rot.index_at(at), rot.index_at(end)
        start = rot.boundary(first) if first >= 0 else at
        stop = rot.boundary(last + 1) if last >= 0 else end
        for sh in roster.shifts(engine, c.runtime.config, name, start, stop, now=at):
            note = ""
            if sh.is_override:
                note = f"override #{sh.override_id}" + (
                    f" (for @{c_name(c, sh.scheduled)})" if sh.scheduled else ""
                )
            row = [name, f"{fmt(sh.start, zone)} → {fmt(sh.end, zone)}", "@" + c_name(c, sh.user), note]
            if mine:
                row.insert(2, f"{fmt(sh.start, viewer)} → {fmt(sh.end, viewer)}")
            rows.append(row)
    zones = sorted({cfg.rotations[n].timezone for n in names})
    columns = ["ROTATION", f"WHEN ({', '.join(zones)})", "WHO", "NOTE"]
    if mine:
        columns.insert(2, f"YOUR TIME ({viewer.key})")
    c.respond.result(
        Table(
            title=f"On-call schedule, next {weeks_text} weeks",
            columns=columns,
            rows=rows,
            summary=f"{len(rows)} shifts" if rows else "No shifts in that window.",
        )
    )


def c_name(c: Call, user: str | None) -> str:
    return IncidentDeps.of(c.runtime).names(user) if user else "—"


# -- overrides -------------------------------------------------------------------------------------


@builtin("oncall", "override", usage="@user --from WHEN --to WHEN [--rotation primary] [--reason TEXT]")
@_audited("override")
def override(c: Call) -> None:
    """Put someone on call instead of the rotation from WHEN to WHEN (members of the rotation or operators).

    WHEN is read in your time zone: `now`, `+2h`, `17:00`, `Fri 17:00`, `tomorrow 09:00`,
    `2026-12-04`, `2026-12-04 17:00`.
    """
    cfg = _oncall(c)
    flags, rest = _flags(c.words, ("--from", "--to", "--rotation", "--reason"))
    if len(rest) != 1 or "--from" not in flags or "--to" not in flags:
        raise OncallError("Usage: `override @user --from WHEN --to WHEN [--rotation primary]`.")
    user = parse_user(rest[0])
    name = rotation_or_default(cfg, flags.get("--rotation"))
    if not may_change(c, name):
        raise OncallError(f"Only members of {name} and operators may add its overrides.")
    at = c.runtime.clock()
    viewer = viewer_zone(c)
    start = parse_when(flags["--from"], now=at, zone=viewer)
    end = parse_when(flags["--to"], now=at, zone=viewer)
    if c.runtime.slack is not None:
        try:
            info = user_info(c.runtime.slack, user)
        except SlackStepError as exc:
            raise OncallError(f"Could not check <@{user}> with Slack: {exc}") from None
        if info is None:
            raise OncallError(
                f"Slack knows no user `{user}`: mention them with @ and pick them from the list."
            )
        if info.get("deleted"):
            raise OncallError(f"<@{user}> is deactivated in Slack.")
        if info.get("is_bot"):
            raise OncallError(f"<@{user}> is a bot: a person must be on call.")
    engine = c.runtime.store.engine
    new = ov.check(
        engine,
        ov.NewOverride(name, user, start, end, c.request.user_id, flags.get("--reason", "")),
        now=at,
        max_days=cfg.max_override_days,
    )
    stored = ov.add(engine, new, now=at)
    zone = cfg.rotations[name].zone
    shown = Shift(name, user, stored.start, stored.end)
    c.respond.say(
        f":repeat: Override #{stored.id}: <@{user}> is on call for *{name}* {span(shown, zone, viewer)}.",
        ephemeral=False,
    )


@builtin("oncall", "overrides", usage="[--rotation NAME]")
@_audited("overrides")
def overrides_(c: Call) -> None:
    """List the current and future overrides; `overrides remove ID` removes one."""
    cfg = _oncall(c)
    flags, rest = _flags(c.words, ("--rotation",))
    if rest:
        raise OncallError("Usage: `overrides [--rotation NAME]` or `overrides remove ID`.")
    name = rotation_or_default(cfg, flags["--rotation"]) if "--rotation" in flags else None
    at = c.runtime.clock()
    viewer = viewer_zone(c)
    rows = []
    for o in ov.upcoming(c.runtime.store.engine, at, name):
        zone = cfg.rotations[o.rotation].zone if o.rotation in cfg.rotations else viewer
        rows.append(
            [
                f"#{o.id}",
                o.rotation,
                "@" + c_name(c, o.user),
                span(Shift(o.rotation, o.user, o.start, o.end), zone, viewer),
                "@" + c_name(c, o.created_by),
                o.reason[:80],
            ]
        )
    c.respond.result(
        Table(
            title="On-call overrides",
            columns=["ID", "ROTATION", "WHO", "WHEN", "BY", "REASON"],
            rows=rows,
            summary=f"{len(rows)} current or future" if rows else "No current or future overrides.",
        )
    )


@builtin("oncall", "overrides remove", usage="ID")
@_audited("overrides.remove")
def overrides_remove(c: Call) -> None:
    """Remove an override (members of its rotation, operators, or whoever added it)."""
    _oncall(c)
    if len(c.words) != 1 or not c.words[0].lstrip("#").isdigit():
        raise OncallError("Usage: `overrides remove ID` (`overrides` lists them with their ids).")
    oid = int(c.words[0].lstrip("#"))
    engine = c.runtime.store.engine
    found = ov.get(engine, oid)
    if found is None:
        raise OncallError(f"There is no override #{oid} (or it was removed already).")
    if found.created_by != c.request.user_id and (
        found.rotation not in c.runtime.config.oncall.rotations or not may_change(c, found.rotation)
    ):
        raise OncallError(
            f"Only members of {found.rotation}, operators or whoever added it may remove override #{oid}."
        )
    if not ov.remove(engine, oid, by=c.request.user_id, now=c.runtime.clock()):
        raise OncallError(f"Override #{oid} was removed meanwhile.")
    c.respond.say(
        f":wastebasket: Override #{oid} removed: <@{found.user}> no longer covers *{found.rotation}* "
        f"{found.start:%Y-%m-%d %H:%M} → {found.end:%Y-%m-%d %H:%M} UTC.",
        ephemeral=False,
    )
