"""Route `/command sub args` through the command table to a built-in or a handler; help and
'did you mean' for the rest."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

from bot.commands.builtin import Builtin, Call
from bot.commands.observe import mark_help, note, observe
from bot.commands.parse import ParseError, split_verbatim, split_words, usage
from bot.commands.responder import Responder
from bot.executor import Done, Failed, HandlerOutcome, NeedsConfirmation, Refused, Request
from bot.runtime import Runtime
from handlers import HandlerSpec
from handlers.command_table import CommandTable, Entry

HELP_WORDS = ("help", "-h", "--help")


def subcommands(runtime: Runtime, command: str) -> list[tuple[str, str, str]]:
    """(sub, one-line help, usage) for every subcommand of a command, handler or built-in."""
    slash = runtime.config.command_name(command)
    return sorted((e.sub, e.summary, _usage(e, slash)) for e in runtime.command_table.for_command(command))


def _usage(entry: Entry, slash: str) -> str:
    if isinstance(entry, HandlerSpec):
        return usage(entry, slash)
    if isinstance(entry, Builtin):
        return f"{slash} {entry.sub} {entry.usage}".strip()
    raise TypeError(f"the command table holds a {type(entry).__name__}: neither a handler nor a built-in")


def cached_help(runtime: Runtime, key: str, build: Callable[[], str]) -> str:
    """Help texts depend only on the registries and config, fixed for a runtime's life:
    build each once (every usage line introspects a params model)."""
    cache = runtime.help_texts
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


def _suggest(runtime: Runtime, command: str, words: list[str]) -> str:
    subs = [s for s, _, _ in subcommands(runtime, command)]
    typed = " ".join(words[:2]).lower()
    close = difflib.get_close_matches(typed, subs, n=3, cutoff=0.5) or difflib.get_close_matches(
        words[0].lower(), subs, n=3, cutoff=0.5
    )
    slash = runtime.config.command_name(command)
    hint = f" Did you mean `{slash} {close[0]}`?" if close else ""
    return f"Unknown subcommand `{words[0]}` for {slash}.{hint}\n{command_help(runtime, command)}"


class RouteKind(Enum):
    """Where `resolve` sends a command: help, a built-in, a handler, or an error."""

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

    kind: RouteKind
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
        if self.kind is RouteKind.HANDLER:
            return False
        if self.kind is RouteKind.BUILTIN:
            return self.builtin is not None and self.builtin.instant
        return True


def resolve(runtime: Runtime, request: Request) -> Route:
    command = runtime.command_key(request.command)
    if command is None:
        return Route(RouteKind.UNKNOWN_COMMAND)
    table = runtime.command_table
    quote_error = ""
    try:
        words = split_words(request.text)
    except ParseError as exc:
        # Free text ("the acquirer's cert expired") is fine for built-ins such as
        # `/incident update`; a handler's arguments still need balanced quotes.
        quote_error = str(exc)
        words = request.text.split()
    default = table.default_sub(command)
    first = words[0].lower() if words else ""
    if first == "help" and (command, "help") in table:
        pass  # the command's own help (/chatops help lists everything)
    elif (not words and (default is None or _needs_words(table, command, default))) or first in HELP_WORDS:
        return Route(RouteKind.COMMAND_HELP, command)
    found = table.match(command, words)
    by_default = found is None and default is not None
    if by_default and default is not None:
        found = table.match(command, [*default.split(), *words])
    if found is None:
        return Route(RouteKind.UNKNOWN_SUB, command, tuple(words))
    entry, rest = found
    asks_help = bool(rest) and rest[0].lower() in HELP_WORDS
    if isinstance(entry, Builtin):
        # A built-in reached through the default subcommand takes `help` as its own argument.
        kind = RouteKind.BUILTIN_HELP if asks_help and not by_default else RouteKind.BUILTIN
        return Route(kind, command, tuple(words), tuple(rest), builtin=entry)
    if not isinstance(entry, HandlerSpec):
        raise TypeError(f"the command table holds a {type(entry).__name__}: neither a handler nor a built-in")
    if getattr(entry.params, "VERBATIM", False):
        # An expression (PromQL) keeps its quotes and brackets: shlex would strip them.
        rest = split_verbatim(request.text)[len(words) - len(rest) :]
        asks_help = bool(rest) and rest[0].lower() in HELP_WORDS
        quote_error = ""
    if quote_error:
        return Route(RouteKind.QUOTE_ERROR, command, tuple(words), spec=entry, error=quote_error)
    kind = RouteKind.HANDLER_HELP if asks_help else RouteKind.HANDLER
    return Route(kind, command, tuple(words), tuple(rest), spec=entry)


def _needs_words(table: CommandTable[Entry], command: str, default: str) -> bool:
    """Whether the default subcommand has required arguments: typed bare, such a command
    (`/prom` → `/prom metric SERVICE METRIC`) lists its subcommands instead of an error."""
    found = table.match(command, default.split())
    if found is None or not isinstance(found[0], HandlerSpec):
        return False
    return any(field.is_required() for field in found[0].params.model_fields.values())


def dispatch(
    runtime: Runtime,
    request: Request,
    respond: Responder,
    trigger_id: str = "",
    route: Route | None = None,
) -> None:
    """Answer one command. Never raises: every failure becomes a message to the requester."""
    route = route or resolve(runtime, request)
    # Counted in chatops_requests_total and logged once, with the request id, whatever happens.
    with observe(request, route.command, respond) as observed:
        _answer(runtime, request, observed, trigger_id, route)


def _answer(
    runtime: Runtime,
    request: Request,
    respond: Responder,
    trigger_id: str,
    route: Route,
) -> None:
    command = route.command
    if route.kind is RouteKind.UNKNOWN_COMMAND or command is None:
        known = ", ".join(runtime.config.command_name(c) for c in runtime.commands())
        respond.error(f"Unknown command {request.command}. This bot answers: {known}")
    elif route.kind is RouteKind.COMMAND_HELP:
        mark_help(respond)
        respond.say(command_help(runtime, command), ephemeral=True)
    elif route.kind is RouteKind.BUILTIN_HELP and route.builtin is not None:
        b = route.builtin
        respond.say(f"`{runtime.config.command_name(command)} {b.sub} {b.usage}`\n{b.help}", ephemeral=True)
    elif route.kind is RouteKind.BUILTIN and route.builtin is not None:
        route.builtin.fn(Call(runtime, request, list(route.rest), respond, trigger_id))
    elif route.kind is RouteKind.UNKNOWN_SUB:
        respond.error(_suggest(runtime, command, list(route.words) or [""]))
    elif route.kind is RouteKind.QUOTE_ERROR:
        respond.error(route.error)
    elif route.kind is RouteKind.HANDLER_HELP and route.spec is not None:
        respond.say(f"`{usage(route.spec, request.command)}`\n{route.spec.help}", ephemeral=True)
    elif route.spec is not None:
        show(runtime.executor.handle(request, route.spec, list(route.rest)), respond)


def show(outcome: HandlerOutcome, respond: Responder) -> None:
    note(respond, outcome)
    if isinstance(outcome, Done):
        respond.result(outcome.result, heading=outcome.spec.name)
    elif isinstance(outcome, Refused):
        respond.error(f":no_entry: {outcome.message}")
    elif isinstance(outcome, Failed):
        respond.error(outcome.message)
    else:
        assert isinstance(outcome, NeedsConfirmation)
        respond.ask_confirmation(outcome)
