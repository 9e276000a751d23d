"""`/chatops help|whoami|audit`: what the bot can do, who you are to it, what it did."""

from __future__ import annotations

from datetime import timedelta

from bot.commands.access import refused
from bot.commands.builtin import Call, builtin
from bot.commands.parse import ParseError
from bot.commands.router import cached_help, subcommands
from bot.render.slack import context, escape, result_blocks
from bot.render.text import to_text
from bot.store.audit import latest
from handlers.params import parse_duration
from handlers.results import Table


@builtin("chatops", "help", instant=True)
def help_(call: Call) -> None:
    """List every command the bot has, one line each."""
    rt = call.runtime

    def build() -> str:
        lines = ["*Commands* (add `help` after any of them for its subcommands):"]
        for command in rt.commands():
            slash = rt.config.command_name(command)
            lines.append(f"*{slash}*")
            for sub, summary, _ in subcommands(rt, command):
                lines.append(f"  • `{slash} {sub}` — {summary}")
        return "\n".join(lines)

    call.respond.say(cached_help(rt, "*", build), ephemeral=True)


@builtin("chatops", "whoami")  # not instant: group roles may ask Slack
def whoami(call: Call) -> None:
    """Show your Slack user id and the roles you have here."""
    roles = call.runtime.access.roles(call.request.user_id)
    call.respond.say(
        f"You are <@{call.request.user_id}> (`{call.request.user_id}`). Roles: {', '.join(roles)}.",
        ephemeral=True,
    )


def _audit_args(words: list[str]) -> tuple[str | None, timedelta | None, str | None, int]:
    user = since = handler = None
    limit = 20
    i = 0
    while i < len(words):
        flag = words[i]
        if flag not in ("--user", "--since", "--handler", "--limit") or i + 1 >= len(words):
            raise ParseError(
                f"unknown or incomplete option {flag!r}. "
                "Usage: /chatops audit [--user U…] [--since 1h] [--handler k8s.*] [--limit 20]"
            )
        value = words[i + 1]
        i += 2
        if flag == "--user":
            user = value.strip("<@>").split("|")[0]
        elif flag == "--since":
            try:
                since = parse_duration(value)
            except ValueError as exc:
                raise ParseError(f"--since: {exc}") from None
        elif flag == "--handler":
            handler = value
        else:
            if not value.isdigit() or not 1 <= int(value) <= 200:
                raise ParseError("--limit takes a number from 1 to 200")
            limit = int(value)
    return user, since, handler, limit


@builtin("chatops", "audit", usage="[--user U…] [--since 1h] [--handler k8s.*] [--limit 20]", instant=True)
def audit(call: Call) -> None:
    """Show the latest audit entries: who ran what, where, and how it went (operators; only to you)."""
    rt = call.runtime
    if refused(call, "chatops.audit"):
        return
    try:
        user, since, handler, limit = _audit_args(call.words)
        start = rt.clock() - since if since else None
    except ParseError as exc:
        call.respond.error(str(exc))
        return
    except OverflowError:  # --since 99999999d reaches before year 1
        call.respond.error("--since reaches back before any record; give a shorter span such as 30d")
        return
    entries = latest(rt.store.engine, user=user, since=start, handler_glob=handler, limit=limit)
    rows = [
        [
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.user_id,
            e.channel_id,
            e.handler or e.command.split(" ")[0],
            e.event,
            e.outcome,
            e.target,
            (e.detail or e.command)[:80],
        ]
        for e in entries
    ]
    table = Table(
        title="Audit log",
        columns=["TIME (UTC)", "USER", "CHANNEL", "WHAT", "EVENT", "OUTCOME", "TARGET", "DETAIL"],
        rows=rows,
        summary=f"{len(rows)} latest entries",
    )
    # Only to the operator who asked (ephemeral): the log names people, channels and targets.
    rendered = result_blocks(table)
    blocks = rendered.blocks if not rendered.omitted else [*rendered.blocks[:-1], _NARROW]
    # The text (the console's answer; Slack's notification) escaped like the blocks.
    call.respond.say(f"```\n{escape(to_text(table))}\n```", blocks=blocks, ephemeral=True)


_NARROW = context(
    ":scissors: More entries than fit here: narrow it with --since, --user, --handler or --limit."
)
