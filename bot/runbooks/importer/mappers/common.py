"""What a mapper returns, and the small option parser the command mappers share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.runbooks.importer.shell import Stage, Var, Word


@dataclass(frozen=True)
class Site:
    """A value that differs per site (a namespace, a deployment, a URL's base, a database
    target) or a variable the source left open (`<pod-name>`, `$VERSION`): a runbook param."""

    kind: str  # namespace, deployment, base_url, database, instance, cluster, var
    value: str | None  # the value seen (the param's default); None: none seen
    name: str = ""  # a variable's own name
    type: str = "string"  # the param type: string or int
    hint: str = ""  # how the source wrote it, for the param's help


@dataclass(frozen=True)
class Tpl:
    """A string made of literal text and Sites: `{{base_url}}/health`, `accelerapp:{{version}}`."""

    parts: tuple[str | Site, ...]


ArgIn = Any  # a scalar, a Site, a Tpl, or a list of them


@dataclass
class Mapped:
    handler: str
    args: dict[str, ArgIn] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Manual:
    reason: str
    changes: bool = False


Result = Mapped | Manual


class Unmappable(Exception):
    """Raised inside a mapper when a command cannot be expressed; becomes Manual(reason)."""

    def __init__(self, reason: str, changes: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.changes = changes


@dataclass
class Opts:
    positionals: list[Word] = field(default_factory=list)
    values: dict[str, Word] = field(default_factory=dict)  # canonical flag -> value
    switches: set[str] = field(default_factory=set)  # canonical flags given without a value
    after: list[Word] = field(default_factory=list)  # the words after `--`
    unknown: list[str] = field(default_factory=list)

    def get(self, *flags: str) -> Word | None:
        return next((self.values[f] for f in flags if f in self.values), None)

    def has(self, *flags: str) -> bool:
        return any(f in self.switches or f in self.values for f in flags)


def parse_opts(
    words: Iterable[Word],
    value_flags: Iterable[str],
    switch_flags: Iterable[str],
    aliases: Mapping[str, str] | None = None,
) -> Opts:
    """Flags the way getopt/cobra read them: `--a=b`, `--a b`, `-n x`, `-nx`, `-it`; `--` ends them.

    Unknown flags are collected (with their `=value`) so a mapper can refuse a command
    whose meaning it would otherwise change.
    """
    takes = set(value_flags)
    switches = set(switch_flags)
    alias = dict(aliases or {})
    out = Opts()
    items = list(words)
    i = 0
    while i < len(items):
        w = items[i]
        t = w.text
        i += 1
        if t == "--":
            out.after = items[i:]
            break
        if not t.startswith("-") or t == "-" or re.fullmatch(r"-\d+", t):
            out.positionals.append(w)
            continue
        flag, eq, rest = t.partition("=")
        if not eq and not t.startswith("--") and len(t) > 2:
            # -nfoo (a short flag with its value attached) or -it (several switches)
            if t[:2] in takes:
                flag, eq, rest = t[:2], "=", t[2:]
            elif all(f"-{c}" in switches for c in t[1:]):
                for c in t[1:]:
                    out.switches.add(alias.get(f"-{c}", f"-{c}"))
                continue
        name = alias.get(flag, flag)
        if flag in takes:
            if eq:
                out.values[name] = Word(w.raw.partition("=")[2] if "=" in w.raw else rest, w.markers)
            elif i < len(items):
                out.values[name] = items[i]
                i += 1
            else:
                out.unknown.append(f"{flag} (no value)")
        elif flag in switches:
            out.switches.add(name)
        else:
            out.unknown.append(t)
    return out


def value(word: Word, kind: str = "var", type_: str = "string") -> str | Tpl:
    """A word as an arg: literal text, or a Tpl whose variables become params.

    A `$(…)` substitution cannot be known before the command runs: Unmappable.
    """
    if word.has_cmdsub:
        raise Unmappable(f"{word.text!r} is computed when the command runs ($(…))")
    parts = word.parts()
    if all(isinstance(p, str) for p in parts):
        return word.text
    out: list[str | Site] = []
    for p in parts:
        if isinstance(p, Var):
            out.append(Site(kind, p.default, name=p.name, type=type_, hint=p.written))
        else:
            out.append(p)
    return Tpl(tuple(out))


def integer(word: Word, what: str) -> int | Tpl:
    v = value(word, type_="int")
    if isinstance(v, Tpl):
        if len(v.parts) != 1:
            raise Unmappable(f"{what} {word.text!r} is not a whole number")
        return v
    try:
        return int(v)
    except ValueError:
        raise Unmappable(f"{what} {v!r} is not a whole number") from None


def refuse_unknown(opts: Opts, what: str) -> None:
    if opts.unknown:
        flags = ", ".join(opts.unknown)
        raise Unmappable(f"{flags}: no equivalent in {what}")


def command_name(stage: Stage) -> str:
    """`/usr/bin/kubectl` → kubectl."""
    return stage.name.rsplit("/", 1)[-1] if stage.words else ""


_GREP_VALUE = {"-e", "--regexp", "-m", "--max-count", "-A", "-B", "-C", "--after-context", "--before-context"}
_GREP_SWITCH = {"-i", "-E", "-F", "-w", "-v", "-o", "-n", "-c", "-q", "-s", "-h", "-H", "-P", "--ignore-case"}


@dataclass
class Grep:
    pattern: str
    ignore_case: bool
    extended: bool
    fixed: bool
    invert: bool
    context: bool  # -A/-B/-C


def grep_of(stage: Stage) -> Grep | None:
    """A `grep` stage's pattern and options; None when it is not a grep we can read."""
    if command_name(stage) not in ("grep", "egrep", "fgrep"):
        return None
    opts = parse_opts(stage.words[1:], _GREP_VALUE, _GREP_SWITCH)
    pattern = opts.get("-e", "--regexp")
    rest = list(opts.positionals)
    if pattern is None:
        if not rest:
            return None
        pattern = rest.pop(0)
    if rest or opts.unknown:
        return None  # files to search, or flags we do not know
    name = command_name(stage)
    return Grep(
        pattern=pattern.text,
        ignore_case=opts.has("-i", "--ignore-case"),
        extended=opts.has("-E", "-P") or name == "egrep",
        fixed=opts.has("-F") or name == "fgrep",
        invert=opts.has("-v"),
        context=opts.has("-A", "-B", "-C", "--after-context", "--before-context"),
    )


_REGEX_META = re.compile(r"[\\^$.|?*+()\[\]{}]")


def as_python_regex(g: Grep) -> str:
    """grep's pattern as a Python regular expression (BRE `\\|`, `\\(` become ERE)."""
    if g.fixed:
        pattern = re.escape(g.pattern)
    elif g.extended:
        pattern = g.pattern
    else:
        pattern = g.pattern.replace(r"\|", "|").replace(r"\(", "(").replace(r"\)", ")")
        pattern = pattern.replace(r"\{", "{").replace(r"\}", "}").replace(r"\+", "+").replace(r"\?", "?")
    return f"(?i){pattern}" if g.ignore_case else pattern


def is_plain_text(g: Grep) -> bool:
    """A pattern that matches only itself (ERROR, "Limits:"), so a substring filter does the same."""
    return g.fixed or not _REGEX_META.search(g.pattern.replace(r"\.", "."))
