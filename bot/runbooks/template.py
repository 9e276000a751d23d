"""`{{ param }}` templates in step args, thresholds and manual text. No expressions, no eval.

A string that is exactly one template (`"{{ replicas }}"`) becomes the param's typed value
(an int stays an int); a template inside a longer string (`"app={{ app }}"`) is replaced by
its text. An optional param left unset (`default: null`) removes an arg that is exactly its
template, so the handler's own default or the service expansion applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


class TemplateError(ValueError):
    """A template names an unknown param or is not `{{ name }}`."""


class _Omit:
    """An arg whose only template is an unset optional param: leave the arg out."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()


def has_template(text: str) -> bool:
    return "{{" in text or "}}" in text


def _check_syntax(text: str) -> None:
    rest = _VAR.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise TemplateError(f"malformed template in {text!r} (write {{{{ name }}}} with a param name)")


def variables(value: Any) -> set[str]:
    """Param names a value's templates use (strings, lists, dicts); TemplateError if malformed."""
    if isinstance(value, str):
        _check_syntax(value)
        return set(_VAR.findall(value))
    if isinstance(value, list | tuple):
        return set().union(*(variables(v) for v in value)) if value else set()
    if isinstance(value, Mapping):
        return set().union(*(variables(v) for v in value.values())) if value else set()
    return set()


def whole(text: str) -> str | None:
    """The param name when `text` is exactly one template, else None."""
    m = _WHOLE.match(text)
    return m.group(1) if m else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def fill_args(value: Any, params: Mapping[str, Any]) -> Any:
    """Fill templates from `params`; OMIT for an arg that is exactly an unset param."""
    if isinstance(value, str):
        _check_syntax(value)
        name = whole(value)
        if name is not None:
            if name not in params:
                raise TemplateError(f"unknown template variable {name!r}")
            return OMIT if params[name] is None else params[name]

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in params:
                raise TemplateError(f"unknown template variable {m.group(1)!r}")
            return _text(params[m.group(1)])

        return _VAR.sub(sub, value)
    if isinstance(value, list | tuple):
        items = [fill_args(v, params) for v in value]
        return [v for v in items if v is not OMIT]
    if isinstance(value, Mapping):
        rendered = {k: fill_args(v, params) for k, v in value.items()}
        return {k: v for k, v in rendered.items() if v is not OMIT}
    return value


def fill_text(text: str, params: Mapping[str, Any]) -> str:
    """For text shown to people (manual steps, titles): unset params read as `<name>`."""
    _check_syntax(text)
    return _VAR.sub(
        lambda m: _text(params[m.group(1)]) if params.get(m.group(1)) is not None else f"<{m.group(1)}>", text
    )
