"""YAML for files people hand the bot (chatops.yaml, runbooks): no aliases.

An alias bomb (`a: &a [x, x]`, `b: &b [*a, *a]`, … nine levels) is 500 bytes that expand to
gigabytes when built. The bot's files never need anchors, so an alias is refused where it is
written, with its line, instead of bounding the expansion.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses `*alias` (and so `<<: *anchor` merges) with a marked error."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not accepted: write the value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def compose(text: str) -> Any:
    return yaml.compose(text, Loader=NoAliasLoader)
