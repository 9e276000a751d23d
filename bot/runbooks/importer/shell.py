"""Shell lines from a fenced block into commands: words by `shlex`, operators and quoting by a scan.

The scan walks the block once, aware of single and double quotes and backslashes, and
finds what `shlex` leaves to a shell: comments (a `#` that starts a word), line
continuations (`\\` at the end of a line), multi-line quoted strings (`psql -c "…"` over
several lines), pipes, `&&`, `||`, `;`, redirections (`> file`, `2>&1`, `< dump.sql`,
here-documents), command substitutions `$(…)` and `` `…` `` and `<placeholder>` words.
Substitutions and placeholders are swapped for private-use markers before `shlex.split`
sees a stage, so they stay one word, and come back in `Word.text` for display.

Nothing is ever run: this only reads text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")
_PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_.-]*)>")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WORD_START = frozenset(" \t\n;|&(")


@dataclass(frozen=True)
class Marker:
    kind: str  # "cmdsub" or "placeholder"
    text: str  # as written: `$(date +%F)`, `<pod-name>`
    inner: str = ""  # a substitution's command, a placeholder's name


@dataclass(frozen=True)
class Var:
    """`$NAME`, `${NAME}` or `${NAME:-default}`, or a `<name>` placeholder."""

    name: str
    default: str | None = None
    written: str = ""


@dataclass(frozen=True)
class Word:
    raw: str  # shlex's word, with markers
    markers: tuple[Marker, ...]

    @property
    def text(self) -> str:
        """The word as written (markers restored, quotes removed)."""
        return _MARK.sub(lambda m: self.markers[int(m.group(1))].text, self.raw)

    @property
    def has_cmdsub(self) -> bool:
        return any(self.markers[int(i)].kind == "cmdsub" for i in _MARK.findall(self.raw))

    def parts(self) -> list[str | Var]:
        """Literal text and variables/placeholders, in order; `$(…)` stays literal text."""
        out: list[str | Var] = []
        pos = 0
        for m in _MARK.finditer(self.raw):
            out.extend(_vars(self.raw[pos : m.start()]))
            marker = self.markers[int(m.group(1))]
            if marker.kind == "placeholder":
                out.append(Var(marker.inner, None, marker.text))
            else:
                out.append(marker.text)
            pos = m.end()
        out.extend(_vars(self.raw[pos:]))
        merged: list[str | Var] = []
        for part in out:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return merged

    def __str__(self) -> str:
        return self.text


def _vars(text: str) -> list[str | Var]:
    out: list[str | Var] = []
    pos = 0
    for m in _VAR.finditer(text):
        out.append(text[pos : m.start()])
        out.append(Var(m.group(1) or m.group(3), m.group(2), m.group(0)))
        pos = m.end()
    out.append(text[pos:])
    return out


@dataclass(frozen=True)
class Redirect:
    op: str  # ">", ">>", "<", "<<", "2>", "2>&1", "&>"
    target: str


@dataclass
class Stage:
    """One command of a pipeline: its words, and env assignments written before it."""

    words: list[Word]
    env: dict[str, str] = field(default_factory=dict)
    redirects: list[Redirect] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.words[0].text if self.words else ""

    @property
    def argv(self) -> list[str]:
        return [w.text for w in self.words]


@dataclass
class Command:
    """A pipeline as written in the block: `kubectl logs … | grep ERROR | tail -20`."""

    line: int  # 1-based line in the Markdown file
    text: str  # the source text, continuation lines included
    stages: list[Stage]
    comment: str = ""  # the comment lines just above it (its title)
    trailing: str = ""  # a comment after it on its line
    chained: str = ""  # "&&", "||" or ";" when it was chained to the previous command
    problem: str = ""  # why its words could not be read (unbalanced quotes)

    @property
    def main(self) -> Stage:
        return self.stages[0]

    @property
    def filters(self) -> list[Stage]:
        return self.stages[1:]

    @property
    def redirects(self) -> list[Redirect]:
        return [r for s in self.stages for r in s.redirects]


@dataclass
class Comment:
    line: int
    text: str


@dataclass
class Blank:
    line: int


Item = Command | Comment | Blank


@dataclass
class _Line:
    """What `_Scan.command` has read of the current command: its stages so far and the one being read."""

    cmd_start: int
    chained: str = ""
    stages: list[tuple[str, list[Redirect]]] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    heredocs: list[str] = field(default_factory=list)
    trailing: str = ""
    quote: str | None = None
    problem: str = ""

    def finish_stage(self) -> None:
        self.stages.append(("".join(self.buf), list(self.redirects)))
        self.buf.clear()
        self.redirects.clear()


class _Scan:
    """One pass over a block's text; see the module docstring for what it recognises."""

    def __init__(self, text: str, first_line: int) -> None:
        self.s = text
        self.first_line = first_line
        self.i = 0
        self.items: list[Item] = []
        self.markers: list[Marker] = []

    def line_of(self, pos: int) -> int:
        return self.first_line + self.s.count("\n", 0, pos)

    def run(self) -> list[Item]:
        s = self.s
        while self.i < len(s):
            # At the start of a line (or after `;`): skip blanks, read a comment, or a command.
            while self.i < len(s) and s[self.i] in " \t":
                self.i += 1
            if self.i >= len(s):
                break
            ch = s[self.i]
            if ch == "\n":
                self.items.append(Blank(self.line_of(self.i)))
                self.i += 1
            elif ch == "#":
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                self.items.append(Comment(self.line_of(self.i), s[self.i + 1 : end].strip()))
                self.i = end + 1
            else:
                self.command()
        return self.items

    def _matching(self, start: int, close: str) -> int:
        """Index just past the `)` or backtick that closes a substitution begun at `start`; -1 if none."""
        s, i, depth = self.s, start, 1
        quote: str | None = None
        while i < len(s):
            ch = s[i]
            if quote == "'":
                if ch == "'":
                    quote = None
            elif ch == "\\":
                i += 1
            elif quote == '"':
                if ch == '"':
                    quote = None
            elif ch in "'\"" and close == ")":
                quote = ch
            elif close == "`" and ch == "`":
                return i + 1
            elif close == ")" and s.startswith("$(", i):
                depth += 1
                i += 1
            elif close == ")" and ch == "(":
                depth += 1
            elif close == ")" and ch == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1

    def _mark(self, kind: str, text: str, inner: str) -> str:
        self.markers.append(Marker(kind, text, inner))
        return f"{_MARK_OPEN}{len(self.markers) - 1}{_MARK_CLOSE}"

    def command(self) -> None:
        """Read one line's commands (to an unquoted newline), split at operators."""
        line = _Line(cmd_start=self.i)
        while self.i < len(self.s):
            if self._step(line):
                return
        if line.quote is not None:
            line.problem = f"an unbalanced {line.quote} quote"
        self._finish_command(line, len(self.s), "")

    def _finish_command(self, line: _Line, end: int, next_chain: str) -> None:
        """Close the command begun at `line.cmd_start` (kept if it has words); the next is `next_chain`ed."""
        line.finish_stage()
        text = self.s[line.cmd_start : end].strip()
        if any(t.strip() for t, _ in line.stages):
            self.items.append(
                self._build(line.cmd_start, text, line.stages, line.chained, line.trailing, line.problem)
            )
        line.stages = []
        line.chained = next_chain
        line.trailing = ""
        line.problem = ""

    def _step(self, line: _Line) -> bool:
        """Read one character (or escape, substitution, operator…) of `line`; True once its newline is."""
        s = self.s
        ch = s[self.i]
        if line.quote == "'":
            line.buf.append(ch)
            if ch == "'":
                line.quote = None
            self.i += 1
        elif ch == "\\" and self.i + 1 < len(s):
            # `\` + newline is a continuation: the next line is the same command.
            line.buf.append(" " if s[self.i + 1] == "\n" else s[self.i : self.i + 2])
            self.i += 2
        elif line.quote == '"':
            if ch == '"':
                line.quote = None
                line.buf.append(ch)
                self.i += 1
            elif s.startswith("$(", self.i) or ch == "`":
                self._substitution(line.buf)
            else:
                line.buf.append(ch)
                self.i += 1
        else:
            return self._unquoted(line, ch)
        return False

    def _unquoted(self, line: _Line, ch: str) -> bool:
        """`_step` outside quotes: quotes, substitutions, comments, newlines and placeholders here."""
        s = self.s
        at_word_start = self.i == 0 or s[self.i - 1] in _WORD_START
        if ch in "'\"":
            line.quote = ch
            line.buf.append(ch)
            self.i += 1
        elif s.startswith("$(", self.i) or ch == "`":
            self._substitution(line.buf)
        elif ch == "#" and at_word_start:
            end = s.find("\n", self.i)
            end = len(s) if end < 0 else end
            line.trailing = s[self.i + 1 : end].strip()
            self.i = end
        elif ch == "\n":
            # A trailing pipe or && carries the command on to the next line.
            if "".join(line.buf).rstrip().endswith(("|", "&&", "||")):
                line.buf.append(" ")
                self.i += 1
                return False
            end = self.i
            self.i += 1
            self._heredocs(line.heredocs)
            self._finish_command(line, end, "")
            return True
        elif ch == "<" and at_word_start and _PLACEHOLDER.match(s, self.i):
            m = _PLACEHOLDER.match(s, self.i)
            assert m is not None
            line.buf.append(self._mark("placeholder", m.group(0), m.group(1)))
            self.i = m.end()
        else:
            self._operator(line, ch, at_word_start)
        return False

    def _operator(self, line: _Line, ch: str, at_word_start: bool) -> None:
        """`_unquoted` for the rest: `&&`, `||`, `|`, `;`, redirections, `&`, or a plain character."""
        s = self.s
        if s.startswith("||", self.i) or s.startswith("&&", self.i):
            op = s[self.i : self.i + 2]
            self.i += 2
            self._finish_command(line, self.i - 2, op)
            line.cmd_start = self.i
        elif ch == "|":
            line.finish_stage()
            self.i += 1
        elif ch == ";" and not s.startswith(";;", self.i):
            self.i += 1
            self._finish_command(line, self.i - 1, ";")
            line.cmd_start = self.i
        elif (ch in "<>" or (ch == "&" and s.startswith("&>", self.i))) or (
            ch.isdigit() and at_word_start and re.match(r"\d+[<>]", s[self.i :])
        ):
            redirect = self._redirect()
            line.redirects.append(redirect)
            if redirect.op == "<<":
                line.heredocs.append(redirect.target)
        elif ch == "&":
            self.i += 1
            self._finish_command(line, self.i - 1, "&")
            line.cmd_start = self.i
        else:
            line.buf.append(ch)
            self.i += 1

    def _substitution(self, buf: list[str]) -> None:
        s = self.s
        if s[self.i] == "`":
            end = self._matching(self.i + 1, "`")
            inner_start = self.i + 1
        else:
            end = self._matching(self.i + 2, ")")
            inner_start = self.i + 2
        if end < 0:  # unclosed: keep the rest as text; the words will not parse
            buf.append(s[self.i :])
            self.i = len(s)
            return
        text = s[self.i : end]
        buf.append(self._mark("cmdsub", text, s[inner_start : end - 1]))
        self.i = end

    def _redirect(self) -> Redirect:
        s = self.s
        m = re.compile(r"(\d*>>?&?\d*-?|&>>?|\d*<<-?|\d*<&?\d*)").match(s, self.i)
        assert m is not None
        op = m.group(0)
        self.i = m.end()
        if re.fullmatch(r"\d*>&\d+-?|\d*<&\d+", op):
            return Redirect(op, "")
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        start = self.i
        quote: str | None = None
        while self.i < len(s):
            ch = s[self.i]
            if quote:
                if ch == quote:
                    quote = None
            elif s.startswith("$(", self.i):  # `> backup-$(date +%F).sql`: one word
                end = self._matching(self.i + 2, ")")
                self.i = len(s) if end < 0 else end
                continue
            elif ch in "'\"":
                quote = ch
            elif ch in " \t\n;|&<>":
                break
            self.i += 1
        target = s[start : self.i]
        if "$(" in target or "`" in target:
            return Redirect(op, target)
        try:
            words = shlex.split(target)
            target = words[0] if words else target
        except ValueError:
            pass
        return Redirect(op, target)

    def _heredocs(self, delimiters: list[str]) -> None:
        """Skip here-document bodies: the lines after the command up to each delimiter."""
        s = self.s
        for delim in delimiters:
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line = s[self.i : end]
                self.i = end + 1
                if line.strip() == delim:
                    break

    def _build(
        self,
        pos: int,
        text: str,
        stages: list[tuple[str, list[Redirect]]],
        chained: str,
        trailing: str,
        problem: str,
    ) -> Command:
        built: list[Stage] = []
        for body, redirects in stages:
            try:
                raw_words = shlex.split(body, comments=False, posix=True)
            except ValueError as exc:
                problem = problem or str(exc).lower()
                raw_words = body.split()
            words = [Word(w, tuple(self.markers)) for w in raw_words]
            env: dict[str, str] = {}
            while len(words) > 1 and _ASSIGN.match(words[0].raw):
                key, _, value = words.pop(0).text.partition("=")
                env[key] = value
            built.append(Stage(words, env, redirects))
        return Command(
            line=self.line_of(pos),
            text=_restore(text, self.markers),
            stages=built,
            trailing=trailing,
            chained=chained,
            problem=problem,
        )


def _restore(text: str, markers: list[Marker]) -> str:
    return _MARK.sub(lambda m: markers[int(m.group(1))].text, text)


def scan(text: str, first_line: int) -> list[Item]:
    """Commands, comments and blank lines of a fenced block, with 1-based file lines."""
    return _Scan(text, first_line).run()


@dataclass
class Note:
    """Comment lines no command follows (`# Trigger deployment (via CI/CD)`): a prose step."""

    line: int
    lines: list[str]


def read(text: str, first_line: int) -> list[Command | Note]:
    """A block's commands and notes in order; each command gets the comment just above it.

    A comment stays the title of the commands under it until a blank line or the next
    comment; a comment group with no command under it is a Note. Shebangs are dropped.
    """
    out: list[Command | Note] = []
    pending: list[Comment] = []
    used = False
    for item in [*scan(text, first_line), Blank(0)]:
        if isinstance(item, Comment):
            if item.text.startswith("!") or not item.text:
                continue
            if used:
                pending, used = [], False
            pending.append(item)
        elif isinstance(item, Blank):
            if pending and not used:
                out.append(Note(pending[0].line, [c.text for c in pending]))
            pending, used = [], False
        else:
            item.comment = " ".join(c.text for c in pending)
            used = True
            out.append(item)
    return out


def substitution_commands(word: Word, line: int) -> list[Command]:
    """The commands inside a word's `$(…)` substitutions (`CURRENT=$(kubectl rollout history …)`)."""
    found: list[Command] = []
    for i in _MARK.findall(word.raw):
        marker = word.markers[int(i)]
        if marker.kind == "cmdsub":
            for item in scan(marker.inner, line):
                if isinstance(item, Command):
                    found.append(item)
    return found
