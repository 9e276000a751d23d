"""YAML for files people hand the bot (chatops.yaml, runbooks): no aliases.

An alias bomb (`a: &a [x, x]`, `b: &b [*a, *a]`, … nine levels) is 500 bytes that expand to
gigabytes when built. The bot's files never need anchors, so an alias is refused where it is
written, with its line, instead of bounding the expansion. The events are scanned first (with
libyaml when PyYAML has it, as fast as the parse itself), then the document is read as usual.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError

# libyaml's parser when PyYAML was built with it: ~10x faster (the same events and marks).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refuse_aliases(text: str) -> None:
    """Raise a marked ComposerError at the first `*alias` (so also at a `<<: *anchor` merge)."""
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not accepted: write the value out in full",
                event.start_mark,  # type: ignore[arg-type]  # libyaml's Mark has the same fields
            )


def safe_load(text: str) -> Any:
    refuse_aliases(text)
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - SafeLoader or its libyaml twin


def compose(text: str) -> Any:
    refuse_aliases(text)
    return yaml.compose(text, Loader=_LOADER)
