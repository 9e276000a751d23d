"""Parameter models for handlers, and the field helpers the command parser reads.

A params model says how its fields are typed on a command line: `arg(flags=("-n",
"--namespace"))` makes `-n prod` and `--namespace prod` set `namespace`; `positional=True`
fields take the bare words in declaration order. Every field can also be given as
`name=value` (the runbook form) or `--name value`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# A label selector term: key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b).
_SEL_KEY = r"([a-z0-9A-Z]([-a-z0-9A-Z_./]*[a-z0-9A-Z])?)"
_SEL_VAL = r"([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?"
_SEL_TERM = re.compile(
    rf"^\s*(!?{_SEL_KEY}|{_SEL_KEY}\s*(=|==|!=)\s*{_SEL_VAL}|{_SEL_KEY}\s+(in|notin)\s+\(\s*{_SEL_VAL}(\s*,\s*{_SEL_VAL})*\s*\))\s*$"
)


class Params(BaseModel):
    """Base of every handler's params: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def arg(
    default: Any = ...,
    *,
    flags: tuple[str, ...] = (),
    positional: bool = False,
    help: str = "",
) -> Any:
    """A params field with its command-line spelling and help text."""
    extra: dict[str, Any] = {"flags": list(flags), "positional": positional}
    return Field(default, description=help, json_schema_extra=extra)


def parse_duration(value: object) -> timedelta:
    """`90s`, `30m`, `1h`, `2d`, `250ms`, a bare number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timedelta(seconds=float(value))
        except (OverflowError, ValueError):  # inf, nan, 1e20
            raise ValueError(f"{value!r} is not a duration a timer can hold") from None
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            try:
                return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "s"])
            except OverflowError:  # 9999999999d: past what a timedelta holds
                raise ValueError(f"{value!r} is too long a duration (at most 999999 days)") from None
    raise ValueError(f"{value!r} is not a duration (use a number with s, m or h: 90s, 30m, 1h)")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _RFC1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid name (RFC 1123: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _RFC1123_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a valid object name (RFC 1123: lowercase letters, digits, '-' "
            "and '.', at most 253 characters)"
        )
    return value


def _selector(value: str) -> str:
    terms = _split_selector(value)
    for term in terms:
        if not _SEL_TERM.match(term):
            raise ValueError(
                f"{term.strip()!r} is not a valid label selector term (key=value, key!=value, key in (a,b))"
            )
    return value


def _split_selector(value: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(value):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(value[start:i])
            start = i + 1
    terms.append(value[start:])
    return terms


Namespace = Annotated[str, AfterValidator(_dns_label)]
"""A Kubernetes namespace name (RFC 1123 label)."""
ObjectName = Annotated[str, AfterValidator(_dns_subdomain)]
"""A Kubernetes object name (RFC 1123 subdomain)."""
LabelSelector = Annotated[str, AfterValidator(_selector)]
"""A Kubernetes label selector, checked before any API call."""
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A duration written as 90s, 30m, 1h."""
