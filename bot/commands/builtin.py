"""Built-in subcommands (`/chatops help`, `/incident declare`, `/runbook run`...).

Registered with `@builtin("incident", "declare")`; the docstring's first line is the help.
`build_runtime` puts them and the handlers in one `CommandTable`; nothing runs at import.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.commands.responder import Responder
from bot.store.audit import Event, Outcome, record
from handlers import Registry
from handlers.command_table import CommandTable, Entry

if TYPE_CHECKING:
    from bot.executor import Request
    from bot.runtime import Runtime


@dataclass(frozen=True)
class Call:
    """One invocation of a built-in: who, the words after the subcommand, and where to answer."""

    runtime: Runtime
    request: Request
    words: list[str]
    respond: Responder
    # Slack's trigger_id, to open a modal (valid for 3 s); empty in the console.
    trigger_id: str = ""

    def audit(self, handler: str, outcome: Outcome, detail: str, started: float) -> None:
        """The audit row of this built-in's run (`started` from time.monotonic())."""
        record(
            self.runtime.store.engine,
            request_id=self.request.request_id,
            user_id=self.request.user_id,
            command=f"{self.request.command} {self.request.text}".strip(),
            event=Event.EXECUTE,
            outcome=outcome,
            channel_id=self.request.channel_id,
            handler=handler,
            detail=detail,
            duration_ms=int((time.monotonic() - started) * 1000),
        )


BuiltinFn = Callable[[Call], None]


@dataclass(frozen=True)
class Builtin:
    command: str
    sub: str
    fn: BuiltinFn
    usage: str = ""
    # Answers at once from local state (no Slack or target calls): Slack gets the answer in
    # the ack itself instead of a second request to response_url.
    instant: bool = False
    # The subcommand a bare `/command ARGS` runs (as `HandlerSpec.default`).
    default: bool = False

    @property
    def help(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        return self.help.splitlines()[0] if self.help else self.sub


_BUILTINS: dict[tuple[str, str], Builtin] = {}


def builtin(
    command: str, sub: str, *, usage: str = "", instant: bool = False, default: bool = False
) -> Callable[[BuiltinFn], BuiltinFn]:
    """Register a built-in subcommand; `default` makes a bare `/command ARGS` run it."""

    def register(fn: BuiltinFn) -> BuiltinFn:
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"built-in {command} {sub} needs a docstring: it is the help text")
        _BUILTINS[(command, sub)] = Builtin(command, sub, fn, usage, instant, default)
        return fn

    return register


def builtins() -> dict[tuple[str, str], Builtin]:
    return dict(_BUILTINS)


def command_table(registry: Registry) -> CommandTable[Entry]:
    """One table of every subcommand: the registry's handlers and the registered built-ins."""
    registered = builtins().values()
    entries: list[Entry] = [*registry, *registered]
    defaults = registry.defaults() | {b.command: b.sub for b in registered if b.default}
    return CommandTable[Entry].of(entries, defaults)
