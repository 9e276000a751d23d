"""Alertmanager's matcher syntax: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.

Values may be quoted (with `\\"`, `\\\\` and `\\n` escapes) or bare; a list may be written
`{a="b", c=~"d.*"}` or comma-separated. Regexes are anchored (as Alertmanager anchors them)
and run on RE2 (google-re2), so a user's pattern can never take exponential time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2  # google-re2 ships no stubs (pyproject: ignore_missing_imports for re2)

MAX_MATCHERS = 32
MAX_VALUE = 1024
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")


class MatcherError(ValueError):
    """A matcher that is not valid Alertmanager syntax; the message says which and why."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # one of =, !=, =~, !~
    value: str

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.op in ("=", "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        hit = _compiled(self.value).fullmatch(got) is not None if self.is_regex else got == self.value
        return hit if self.is_equal else not hit

    def __str__(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{quoted}"'

    def to_silence(self) -> dict[str, Any]:
        """The matcher as Alertmanager's API v2 silence takes it."""
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}


_CACHE: dict[str, Any] = {}


def _compiled(pattern: str) -> Any:
    found = _CACHE.get(pattern)
    if found is None:
        try:
            found = re2.compile(pattern)
        except Exception as exc:  # re2.error: name the pattern, not the engine
            raise MatcherError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        if len(_CACHE) < 1024:
            _CACHE[pattern] = found
    return found


def _value(text: str, pos: int, whole: str) -> tuple[str, int]:
    """A quoted or bare value starting at `pos`; returns it and the position after it."""
    if pos < len(text) and text[pos] == '"':
        out: list[str] = []
        i = pos + 1
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
                i += 2
                continue
            if ch == '"':
                return "".join(out), i + 1
            out.append(ch)
            i += 1
        raise MatcherError(f"{whole!r}: the quoted value is not closed")
    end = pos
    while end < len(text) and text[end] not in ',}"':
        end += 1
    return text[pos:end].strip(), end


def parse_list(text: str) -> list[Matcher]:
    """Every matcher in `text` (`a="b"`, `{a="b", c!~"x"}` or `a=b,c=d`)."""
    whole = text
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"{whole!r}: a `{{` without its `}}`")
        body = body[1:-1]
    out: list[Matcher] = []
    i = 0
    while i < len(body):
        while i < len(body) and body[i] in " \t,":
            i += 1
        if i >= len(body):
            break
        m = _NAME.match(body, i)
        if m is None:
            raise MatcherError(f"{whole!r}: expected a label name at {body[i:][:20]!r}")
        name = m.group(0)
        j = m.end()
        while j < len(body) and body[j] == " ":
            j += 1
        op = next((o for o in _OPS if body.startswith(o, j)), None)
        if op is None:
            raise MatcherError(f"{whole!r}: after {name!r} give =, !=, =~ or !~")
        j += len(op)
        while j < len(body) and body[j] == " ":
            j += 1
        value, i = _value(body, j, whole)
        if len(value) > MAX_VALUE:
            raise MatcherError(f"{name}: the value is longer than {MAX_VALUE} characters")
        matcher = Matcher(name, op, value)
        if matcher.is_regex:
            _compiled(value)
        out.append(matcher)
        if len(out) > MAX_MATCHERS:
            raise MatcherError(f"at most {MAX_MATCHERS} matchers")
    return out


def parse(text: str) -> Matcher:
    """Exactly one matcher."""
    found = parse_list(text)
    if len(found) != 1:
        raise MatcherError(f'{text!r}: give exactly one matcher (like severity="critical")')
    return found[0]


def parse_all(items: Iterable[str]) -> list[Matcher]:
    out: list[Matcher] = []
    for item in items:
        out += parse_list(item)
        if len(out) > MAX_MATCHERS:
            raise MatcherError(f"at most {MAX_MATCHERS} matchers")
    return out


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
