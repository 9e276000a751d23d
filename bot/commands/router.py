"""Route `/command sub args` to a built-in or a handler; help and 'did you mean' for the rest."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from bot.commands.builtin import DEFAULT_SUB, Builtin, Call
from bot.commands.observe import mark_help, note, observe
from bot.commands.parse import ParseError, split_verbatim, split_words, usage
from bot.commands.responder import Responder
from bot.executor import Done, Failed, NeedsConfirmation, Outcome_, Refused, Request
from bot.runtime import Runtime
from handlers import HandlerSpec

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


class Kind(Enum):
    UNKNOWN_COMMAND = auto()
    COMMAND_HELP = auto()
    BUILTIN_HELP = auto()
    BUILTIN = auto()
    UNKNOWN_SUB = auto()
    QUOTE_ERROR = auto()
    HANDLER_HELP = auto()
    HANDLER = auto()


@dataclass(frozen=True)
class Route:
    """Where one command goes, decided once (the Slack listener needs it before its ack)."""

    kind: Kind
    command: str | None = None
    words: tuple[str, ...] = ()
    rest: tuple[str, ...] = ()
    builtin: Builtin | None = None
    spec: HandlerSpec | None = None
    error: str = ""

    @property
    def instant(self) -> bool:
        """Whether the answer needs no outside call: help, a usage error, an instant built-in.

        Slack front ends put such an answer in the ack itself; everything else acks first and
        answers later, so a slow handler can never push the ack past Slack's 3 seconds.
        """
        if self.kind is Kind.HANDLER:
            return False
        if self.kind is Kind.BUILTIN:
            return self.builtin is not None and self.builtin.instant
        return True


def resolve(runtime: Runtime, request: Request) -> Route:
    command = runtime.command_key(request.command)
    if command is None:
        return Route(Kind.UNKNOWN_COMMAND)
    quote_error = ""
    try:
        words = split_words(request.text)
    except ParseError as exc:
        # Free text ("the acquirer's cert expired") is fine for built-ins such as
        # `/incident update`; a handler's arguments still need balanced quotes.
        quote_error = str(exc)
        words = request.text.split()
    if words and words[0].lower() == "help" and (command, "help") in runtime.builtins:
        pass  # the command's own help (/chatops help lists everything)
    elif (not words and default_sub(runtime, command) is None) or (words and words[0].lower() in HELP_WORDS):
        return Route(Kind.COMMAND_HELP, command)
    found_builtin = match_builtin(runtime, command, words)
    found_handler = runtime.registry.match(command, words) if words else None
    if found_builtin and (
        not found_handler or len(found_builtin[0].sub.split()) >= len(found_handler[0].sub.split())
    ):
        b, rest = found_builtin
        kind = Kind.BUILTIN_HELP if rest[:1] and rest[0].lower() in HELP_WORDS else Kind.BUILTIN
        return Route(kind, command, tuple(words), tuple(rest), builtin=b)
    fallback = default_sub(runtime, command)
    if found_handler is None and found_builtin is None and fallback is not None:
        found_handler = runtime.registry.match(command, [*fallback.split(), *words])
        if found_handler is None:
            b_default = match_builtin(runtime, command, [*fallback.split(), *words])
            if b_default:
                return Route(Kind.BUILTIN, command, tuple(words), tuple(b_default[1]), builtin=b_default[0])
    if found_handler is None:
        return Route(Kind.UNKNOWN_SUB, command, tuple(words))
    spec, rest = found_handler
    if getattr(spec.params, "VERBATIM", False):
        # An expression (PromQL) keeps its quotes and brackets: shlex would strip them.
        rest = split_verbatim(request.text)[len(words) - len(rest) :]
        quote_error = ""
    if quote_error:
        return Route(Kind.QUOTE_ERROR, command, tuple(words), spec=spec, error=quote_error)
    kind = Kind.HANDLER_HELP if rest[:1] and rest[0].lower() in HELP_WORDS else Kind.HANDLER
    return Route(kind, command, tuple(words), tuple(rest), spec=spec)


def dispatch(
    runtime: Runtime,
    request: Request,
    respond: Responder,
    extra: Mapping[str, Any] | None = None,
    route: Route | None = None,
) -> None:
    """Answer one command. Never raises: every failure becomes a message to the requester."""
    route = route or resolve(runtime, request)
    # Counted in chatops_requests_total and logged once, with the request id, whatever happens.
    with observe(request, route.command, respond) as observed:
        _answer(runtime, request, observed, extra, route)


def _answer(
    runtime: Runtime,
    request: Request,
    respond: Responder,
    extra: Mapping[str, Any] | None,
    route: Route,
) -> None:
    command = route.command
    if route.kind is Kind.UNKNOWN_COMMAND or command is None:
        known = ", ".join(runtime.config.command_name(c) for c in runtime.commands())
        respond.error(f"Unknown command {request.command}. This bot answers: {known}")
    elif route.kind is Kind.COMMAND_HELP:
        mark_help(respond)
        respond.say(command_help(runtime, command), ephemeral=True)
    elif route.kind is Kind.BUILTIN_HELP and route.builtin is not None:
        b = route.builtin
        respond.say(f"`{runtime.config.command_name(command)} {b.sub} {b.usage}`\n{b.help}", ephemeral=True)
    elif route.kind is Kind.BUILTIN and route.builtin is not None:
        route.builtin.fn(Call(runtime, request, list(route.rest), respond, dict(extra or {})))
    elif route.kind is Kind.UNKNOWN_SUB:
        respond.error(_suggest(runtime, command, list(route.words) or [""]))
    elif route.kind is Kind.QUOTE_ERROR:
        respond.error(route.error)
    elif route.kind is Kind.HANDLER_HELP and route.spec is not None:
        respond.say(f"`{usage(route.spec, request.command)}`\n{route.spec.help}", ephemeral=True)
    elif route.spec is not None:
        show(runtime.executor.handle(request, route.spec, list(route.rest)), respond)


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
