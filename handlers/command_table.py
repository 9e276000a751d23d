"""The command table: every `(command, subcommand)` the bot answers, and the one matcher.

Entries are handlers (`handlers.HandlerSpec`) or the bot's built-ins (`bot.commands.builtin`);
both register themselves and `bot.app` builds one table from the two. The table only knows
what every entry has (its command, its possibly multi-word subcommand, its help), so it lives
here, below `bot/`, and the router decides what to do with the entry it found.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Entry(Protocol):
    """What the table needs of an entry."""

    @property
    def command(self) -> str: ...

    @property
    def sub(self) -> str: ...  # lowercase, possibly several words ("rollout restart")

    @property
    def summary(self) -> str: ...  # the first line of its help


E = TypeVar("E", bound=Entry)


class DuplicateCommand(ValueError):
    pass


@dataclass(frozen=True)
class CommandTable(Generic[E]):
    """Entries keyed by (command, subcommand), with the subcommand a bare `/command ARGS` runs."""

    entries: Mapping[tuple[str, str], E] = field(default_factory=dict)
    # `/health backend` runs `/health check backend`: command → its default subcommand.
    defaults: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[E], defaults: Mapping[str, str] | None = None) -> CommandTable[E]:
        table: dict[tuple[str, str], E] = {}
        for entry in entries:
            key = (entry.command, entry.sub)
            if key in table:
                raise DuplicateCommand(f"/{entry.command} {entry.sub} is registered twice")
            table[key] = entry
        for command, sub in (defaults or {}).items():
            if (command, sub) not in table:
                raise ValueError(f"/{command}'s default subcommand {sub!r} is not in the table")
        return cls(table, dict(defaults or {}))

    def __iter__(self) -> Iterator[E]:
        return iter(self.entries[k] for k in sorted(self.entries))

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def commands(self) -> list[str]:
        return sorted({c for c, _ in self.entries})

    def for_command(self, command: str) -> list[E]:
        return [e for e in self if e.command == command]

    def default_sub(self, command: str) -> str | None:
        return self.defaults.get(command)

    def match(self, command: str, words: Iterable[str]) -> tuple[E, list[str]] | None:
        """The entry whose (possibly multi-word) subcommand starts `words`, longest first,
        with the words after it; subcommands match case-insensitively."""
        words = list(words)
        lowered = [w.lower() for w in words]
        best: tuple[E, list[str]] | None = None
        best_len = 0
        for (c, sub), entry in self.entries.items():
            parts = sub.split()
            if c == command and parts and lowered[: len(parts)] == parts and len(parts) > best_len:
                best, best_len = (entry, words[len(parts) :]), len(parts)
        return best
