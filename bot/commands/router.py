"""Route `/command sub args` to a built-in or a handler; help and 'did you mean' for the rest."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from bot.commands.builtin import DEFAULT_SUB, Builtin, Call
from bot.commands.observe import mark_help, note, observe
from bot.commands.parse import ParseError, split_words, usage
from bot.commands.responder import Responder
from bot.executor import Done, Failed, NeedsConfirmation, Outcome_, Refused, Request
from bot.runtime import Runtime

HELP_WORDS = ("help", "-h", "--help")


def subcommands(runtime: Runtime, command: str) -> list[tuple[str, str, str]]:
    """(sub, one-line help, usage) for every subcommand of a command, from both registries."""
    slash = runtime.config.command_name(command)
    out = [(s.sub, s.summary, usage(s, slash)) for s in runtime.registry.for_command(command)]
    out += [
        (b.sub, b.summary, f"{slash} {b.sub} {b.usage}".strip())
        for (c, _), b in sorted(runtime.builtins.items())
        if c == command
    ]
    return sorted(out)


def cached_help(runtime: Runtime, key: str, build: Callable[[], str]) -> str:
    """Help texts depend only on the registries and config, fixed for a runtime's life:
    build each once (every usage line introspects a params model)."""
    cache: dict[str, str] = runtime.extras.setdefault("help_texts", {})
    text = cache.get(key)
    if text is None:
        text = cache[key] = build()
    return text


def command_help(runtime: Runtime, command: str) -> str:
    def build() -> str:
        slash = runtime.config.command_name(command)
        lines = [f"*{slash}* subcommands:"]
        for _sub, summary, use in subcommands(runtime, command):
            lines.append(f"• `{use}` — {summary}")
        return "\n".join(lines)

    return cached_help(runtime, command, build)


def match_builtin(runtime: Runtime, command: str, words: list[str]) -> tuple[Builtin, list[str]] | None:
    best: tuple[Builtin, list[str]] | None = None
    lowered = [w.lower() for w in words]
    for (c, sub), b in runtime.builtins.items():
        parts = sub.split()
        if (
            c == command
            and lowered[: len(parts)] == parts
            and (best is None or len(parts) > len(best[0].sub.split()))
        ):
            best = (b, words[len(parts) :])
    return best


def _suggest(runtime: Runtime, command: str, words: list[str]) -> str:
    subs = [s for s, _, _ in subcommands(runtime, command)]
    typed = " ".join(words[:2]).lower()
    close = difflib.get_close_matches(typed, subs, n=3, cutoff=0.5) or difflib.get_close_matches(
        words[0].lower(), subs, n=3, cutoff=0.5
    )
    slash = runtime.config.command_name(command)
    hint = f" Did you mean `{slash} {close[0]}`?" if close else ""
    return f"Unknown subcommand `{words[0]}` for {slash}.{hint}\n{command_help(runtime, command)}"


def default_sub(runtime: Runtime, command: str) -> str | None:
    """The subcommand a bare `/command ARGS` runs: declared by a handler, or by a built-in."""
    return runtime.registry.default_sub(command) or DEFAULT_SUB.get(command)


def answers_at_once(runtime: Runtime, request: Request) -> bool:
    """Whether the answer needs no outside call: help, a usage error, an instant built-in.

    Slack front ends put such an answer in the ack itself; everything else acks first and
    answers later, so a slow handler can never push the ack past Slack's 3 seconds.
    """
    command = runtime.command_key(request.command)
    if command is None:
        return True
    try:
        words = split_words(request.text)
    except ParseError:
        return False  # free text for a built-in, or a quoting error: let the route decide
    if not words:
        return default_sub(runtime, command) is None
    if words[0].lower() in HELP_WORDS and (command, "help") not in runtime.builtins:
        return True
    found_builtin = match_builtin(runtime, command, words)
    if found_builtin is not None:
        b, rest = found_builtin
        return b.instant or (rest[:1] != [] and rest[0].lower() in HELP_WORDS)
    found_handler = runtime.registry.match(command, words)
    if found_handler is not None:
        return found_handler[1][:1] != [] and found_handler[1][0].lower() in HELP_WORDS
    # Unknown subcommand → an instant "did you mean", unless a default subcommand takes it.
    return default_sub(runtime, command) is None


def dispatch(
    runtime: Runtime, request: Request, respond: Responder, extra: Mapping[str, Any] | None = None
) -> None:
    """Answer one command. Never raises: every failure becomes a message to the requester."""
    command = runtime.command_key(request.command)
    # Counted in chatops_requests_total and logged once, with the request id, whatever happens.
    with observe(request, command, respond) as observed:
        _route(runtime, request, observed, extra, command)


def _route(
    runtime: Runtime,
    request: Request,
    respond: Responder,
    extra: Mapping[str, Any] | None,
    command: str | None,
) -> None:
    if command is None:
        known = ", ".join(runtime.config.command_name(c) for c in runtime.commands())
        respond.error(f"Unknown command {request.command}. This bot answers: {known}")
        return
    quote_error: ParseError | None = None
    try:
        words = split_words(request.text)
    except ParseError as exc:
        # Free text ("the acquirer's cert expired") is fine for built-ins such as
        # `/incident update`; a handler's arguments still need balanced quotes.
        quote_error = exc
        words = request.text.split()
    if words and words[0].lower() == "help" and (command, "help") in runtime.builtins:
        pass  # the command's own help (/chatops help lists everything)
    elif not words or words[0].lower() in HELP_WORDS:
        if not words and default_sub(runtime, command) is not None:
            words = []
        else:
            mark_help(respond)
            respond.say(command_help(runtime, command), ephemeral=True)
            return
    found_builtin = match_builtin(runtime, command, words)
    found_handler = runtime.registry.match(command, words) if words else None
    if found_builtin and (
        not found_handler or len(found_builtin[0].sub.split()) >= len(found_handler[0].sub.split())
    ):
        b, rest = found_builtin
        if rest[:1] and rest[0].lower() in HELP_WORDS:
            respond.say(
                f"`{runtime.config.command_name(command)} {b.sub} {b.usage}`\n{b.help}", ephemeral=True
            )
            return
        b.fn(Call(runtime, request, rest, respond, dict(extra or {})))
        return
    fallback = default_sub(runtime, command)
    if found_handler is None and found_builtin is None and fallback is not None:
        found_handler = runtime.registry.match(command, [*fallback.split(), *words])
        if found_handler is None:
            b_default = match_builtin(runtime, command, [*fallback.split(), *words])
            if b_default:
                b_default[0].fn(Call(runtime, request, b_default[1], respond, dict(extra or {})))
                return
    if found_handler is None:
        respond.error(_suggest(runtime, command, words or [""]))
        return
    spec, rest = found_handler
    if quote_error is not None:
        respond.error(str(quote_error))
        return
    if rest[:1] and rest[0].lower() in HELP_WORDS:
        respond.say(f"`{usage(spec, request.command)}`\n{spec.help}", ephemeral=True)
        return
    show(runtime.executor.handle(request, spec, rest), respond)


def show(outcome: Outcome_, respond: Responder) -> None:
    note(respond, outcome)
    if isinstance(outcome, Done):
        respond.result(outcome.result, heading=outcome.spec.name)
    elif isinstance(outcome, Refused):
        respond.error(f":no_entry: {outcome.message}")
    elif isinstance(outcome, Failed):
        respond.error(outcome.message)
    else:
        assert isinstance(outcome, NeedsConfirmation)
        ask = getattr(respond, "ask_confirmation", None)
        if callable(ask):
            ask(outcome)
        else:
            lines = "\n".join(f"• {d}" for d in outcome.preview.details)
            respond.say(
                f"*Would change:* {outcome.preview.summary}\n{lines}\nNothing has been run.".strip(),
                ephemeral=True,
            )
