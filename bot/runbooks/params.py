"""Runbook params: typed values from `key=value` words, defaults and chatops.yaml services."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from bot.config import ChatopsConfig
from bot.runbooks.model import Param, Runbook
from handlers.params import parse_duration

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
# A value of the right type for each param type, to validate templated args at load time.
PLACEHOLDER: dict[str, Any] = {
    "string": "placeholder",
    "service": "placeholder",
    "int": 1,
    "duration": "1m",
    "bool": False,
}


class ParamError(ValueError):
    """The params given to a run do not fit the runbook; the message says which and how."""


def coerce(name: str, param: Param, raw: object) -> Any:
    """One param's value from a word (or a YAML default) in its declared type."""
    if raw is None:
        return None
    kind = param.type
    if kind == "int":
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a whole number")
        try:
            value: Any = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    elif kind == "bool":
        word = str(raw).strip().lower()
        if isinstance(raw, bool) or word in _TRUE + _FALSE:
            value = raw if isinstance(raw, bool) else word in _TRUE
        else:
            raise ValueError(f"{raw!r} is not true or false")
    elif kind == "duration":
        text = str(raw).strip()
        try:
            parse_duration(text)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        value = text
    else:
        if isinstance(raw, bool) or not str(raw).strip():
            raise ValueError(f"give a word, not {raw!r}")
        value = str(raw).strip()
    if param.choices is not None and str(value) not in param.choices:
        raise ValueError(f"{value!r} is not one of {', '.join(param.choices)}")
    return value


def placeholders(runbook: Runbook) -> dict[str, Any]:
    """Values to validate templated args with: the default where there is one, else a stand-in."""
    out: dict[str, Any] = {}
    for name, p in runbook.params.items():
        if p.default is not None:
            try:
                out[name] = coerce(name, p, p.default)
                continue
            except ValueError:
                pass
        out[name] = p.choices[0] if p.choices else PLACEHOLDER[p.type]
    return out


def split_assignments(words: list[str]) -> dict[str, str]:
    """`service=backend min=10m` → {"service": "backend", "min": "10m"}."""
    given: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise ParamError(f"{word!r}: give params as key=value (for example service=backend)")
        key = key.strip().lstrip("-").replace("-", "_")
        if key in given:
            raise ParamError(f"{key} is given twice")
        given[key] = value
    return given


def bind(runbook: Runbook, given: Mapping[str, object], config: ChatopsConfig) -> dict[str, Any]:
    """Typed values for every param: given ones, else defaults. ParamError lists every problem."""
    problems: list[str] = []
    for key in given:
        if key not in runbook.params:
            close = difflib.get_close_matches(key, list(runbook.params), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            known = ", ".join(runbook.params) or "none"
            problems.append(f"unknown param {key!r} for {runbook.name} (params: {known}).{hint}")
    values: dict[str, Any] = {}
    for name, p in runbook.params.items():
        if name in given:
            raw: object = given[name]
        elif p.required:
            problems.append(f"{name} is required ({p.help or p.type})")
            continue
        else:
            raw = p.default
        try:
            values[name] = coerce(name, p, raw)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if (
            p.type == "service"
            and values[name] is not None
            and config.services
            and values[name] not in config.services
        ):
            known = ", ".join(sorted(config.services))
            problems.append(f"{name}: unknown service {values[name]!r} (configured: {known})")
    if problems:
        raise ParamError("; ".join(problems))
    return values


def describe(values: Mapping[str, Any]) -> str:
    """`service=backend min=5m` for messages (unset optional params left out)."""
    return " ".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items() if v is not None
    )
