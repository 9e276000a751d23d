"""Turn the text after a slash command into a handler's params model.

The grammar is the one kubectl users expect: `-n prod`, `--namespace prod`,
`--namespace=prod`, `key=value` (the runbook form), switches for bool fields, and bare words
for the positional fields in order. Every error names what was wrong.
"""

from __future__ import annotations

import shlex
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from handlers import HandlerSpec
from handlers.params import Params


class ParseError(Exception):
    """The user's text does not fit the command; the message says what and how."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    flags: tuple[str, ...]
    positional: bool
    is_bool: bool
    is_list: bool
    required: bool
    help: str


def split_words(text: str) -> list[str]:
    """Shell-like words; a lone unclosed quote is an error that says so."""
    # Slack sends “smart quotes” from some clients.
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ParseError(f"cannot read the arguments: {exc} (check your quotes)") from None


def split_verbatim(text: str) -> list[str]:
    """Words for an expression language (PromQL): split on blanks outside quotes and brackets,
    quotes kept (`up{job="api server"}` stays one word, quotes and all). Slack sends <, > and &
    escaped; they are read back here."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    words: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
            current.append(ch)
        elif ch.isspace() and depth == 0:
            if current:
                words.append("".join(current))
                current = []
        else:
            depth += 1 if ch in "([{" else -1 if ch in ")]}" and depth > 0 else 0
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def _extra(info: FieldInfo) -> Mapping[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def fields_of(model: type[Params]) -> list[FieldSpec]:
    out = []
    for name, info in model.model_fields.items():
        extra = _extra(info)
        base = _unwrap(info.annotation)
        flags = tuple(str(f) for f in extra.get("flags", []) or [])
        out.append(
            FieldSpec(
                name=name,
                flags=flags,
                positional=bool(extra.get("positional", False)),
                is_bool=base is bool,
                is_list=typing.get_origin(base) in (list, tuple),
                required=info.is_required(),
                help=info.description or "",
            )
        )
    return out


def usage(spec: HandlerSpec, command: str) -> str:
    """One line: `/k8s pods [SERVICE] [-n NAMESPACE] [-l SELECTOR] ...`."""
    parts = [f"{command} {spec.sub}".rstrip()]
    for f in fields_of(spec.params):
        if f.positional:
            word = f.name.upper()
            parts.append(word if f.required else f"[{word}]")
    for f in fields_of(spec.params):
        if f.positional:
            continue
        flag = f.flags[0] if f.flags else "--" + f.name.replace("_", "-")
        shown = flag if f.is_bool else f"{flag} {f.name.upper()}"
        parts.append(shown if f.required else f"[{shown}]")
    return " ".join(parts)


def parse_args(
    spec: HandlerSpec, words: list[str], command: str, *, filled: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Map words to raw field values (not yet validated).

    `filled` names positional fields that something else (a named service) will fill, so
    bare words go to the positionals after them: `scale --service shop 3` sets replicas.
    """
    fields = fields_of(spec.params)
    by_flag: dict[str, FieldSpec] = {}
    for f in fields:
        by_flag["--" + f.name.replace("_", "-")] = f
        by_flag["--" + f.name] = f
        for flag in f.flags:
            by_flag[flag] = f
    by_name = {f.name: f for f in fields}
    positionals = [f for f in fields if f.positional and f.name not in filled]
    raw: dict[str, Any] = {}

    def put(f: FieldSpec, value: Any) -> None:
        if f.is_list:
            raw.setdefault(f.name, []).append(value)
        elif f.name in raw:
            raise ParseError(f"{f.name} is given twice. Usage: {usage(spec, command)}")
        else:
            raw[f.name] = value

    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-") and len(word) > 1 and not _is_number(word):
            flag, eq, value = word.partition("=")
            found = by_flag.get(flag)
            if found is None:
                known = ", ".join(sorted({fl for fl in by_flag if fl.startswith("-")}))
                raise ParseError(f"unknown option {flag} for {command} {spec.sub} (options: {known})")
            f = found
            if f.is_bool and not eq:
                put(f, True)
                continue
            if not eq:
                if i >= len(words):
                    raise ParseError(f"option {flag} needs a value. Usage: {usage(spec, command)}")
                value = words[i]
                i += 1
            put(f, value)
            continue
        key, eq, value = word.partition("=")
        if eq and key in by_name and not (positionals and positionals[0].name == key and "=" in value):
            put(by_name[key], value)
            continue
        pending = [p for p in positionals if p.name not in raw or p.is_list]
        if not pending:
            raise ParseError(f"unexpected argument {word!r}. Usage: {usage(spec, command)}")
        put(pending[0], word)
    return raw


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def validate(spec: HandlerSpec, raw: Mapping[str, Any], command: str) -> Params:
    try:
        return spec.params.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "arguments"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                problems.append(f"{name} is required")
            else:
                problems.append(f"{name}: {msg}")
        raise ParseError("; ".join(problems) + f". Usage: {usage(spec, command)}") from None
