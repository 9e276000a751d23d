"""Runbook YAML with its lines: every key and item remembers where it is in the file, and every
problem (a YAML error, a schema error, a check against the handler registry) names the file,
the line and what, for `loader` and `validate` alike:

    runbooks/high-db-cpu.yaml:14: diagnostics[1] (locks): unknown handler 'db.lock' (did you mean db.locks?)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import yaml_safe
from bot.runbooks.model import STEP_KINDS

KeyPath = tuple[str | int, ...]
STEP_LISTS = ("diagnostics", "resolution")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a runbook file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class RunbookError(Exception):
    """A runbook file does not load; `problems` lists each with its line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Located:
    """Plain data from a YAML document, with the line of every key and item."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: Iterable[str | int]) -> int | None:
        """The line of `path`, or of its nearest ancestor that is in the file."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def get(self, path: Iterable[str | int]) -> Any:
        node = self.data
        for part in path:
            if isinstance(node, Mapping):
                if part not in node:
                    return None
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node


def where(doc: Located, path: KeyPath) -> str:
    """`diagnostics[1] (locks).args.database` — a readable path, with the step's id."""
    out = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
            parent = path[:i]
            if parent and parent[-1] in (*STEP_LISTS, "checks") and len(parent) == 1:
                item = doc.get(path[: i + 1])
                ident = item.get("id") or item.get("step") if isinstance(item, Mapping) else None
                if isinstance(ident, str):
                    out += f" ({ident})"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.constructor = SafeConstructor()

    def build(self, node: Node, path: KeyPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            self.constructor.flatten_mapping(node)  # `<<: *anchor` merge keys
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise RunbookError(
                        [Problem(self.file, key_node.start_mark.line + 1, "keys must be plain words")]
                    )
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    raise RunbookError(
                        [Problem(self.file, key_node.start_mark.line + 1, f"duplicate key {key!r}")]
                    )
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.constructor.construct_object(node, deep=True)


def read_yaml(text: str, file: str) -> Located:
    """Parse one YAML document, keeping lines; RunbookError for YAML that does not parse."""
    try:
        # libyaml when PyYAML has it (the bot reads every runbook at start); no aliases: a
        # 500-byte alias bomb is gigabytes once built.
        node = yaml_safe.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "cannot be parsed"
        raise RunbookError(
            [Problem(file, mark.line + 1 if mark else None, f"not valid YAML: {problem}")]
        ) from None
    except yaml.YAMLError as exc:
        raise RunbookError([Problem(file, None, f"not valid YAML: {exc}")]) from None
    if node is None:
        raise RunbookError([Problem(file, None, "the file is empty")])
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except ConstructorError as exc:
        mark = exc.problem_mark
        raise RunbookError(
            [Problem(file, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}")]
        ) from None
    return Located(data, builder.lines)


def _loc_path(loc: Sequence[int | str]) -> tuple[KeyPath, bool]:
    """A pydantic error location as a file path: drop step-kind tags and union member names.

    Returns the path and whether it went through a union of arg types (one message then).
    """
    path: list[str | int] = []
    through_args = False
    i = 0
    while i < len(loc):
        part = loc[i]
        if (
            isinstance(part, str)
            and part in STEP_KINDS
            and len(path) == 2
            and path[0] in STEP_LISTS
            and isinstance(path[1], int)
        ):
            i += 1
            continue
        path.append(part)
        if len(path) == 4 and path[0] in STEP_LISTS and path[2] == "args":
            through_args = len(loc) > i + 1
            break
        i += 1
    return tuple(path), through_args


def schema_problems(exc: ValidationError, doc: Located, file: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[KeyPath] = set()
    for err in exc.errors():
        path, union = _loc_path(err["loc"])
        if union:
            if path in seen:
                continue
            seen.add(path)
            msg = "an argument is a string, a number, true/false, or a list of them"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "is required"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        at = where(doc, path)
        problems.append(Problem(file, doc.line(path), f"{at}: {msg}" if at else msg))
    return problems
