"""Who may run what (access), and destructive actions held until confirmed (and approved)."""

from __future__ import annotations

from typing import Any

from bot.commands.target import Target
from bot.guard.access import Access, Decision, GroupResolver
from handlers import HandlerSpec

__all__ = ["Access", "Decision", "GroupResolver", "Guard"]


class Guard:
    """Access checks now; confirmation of destructive actions is added by the guard issue."""

    def __init__(self, access: Access, **_: Any) -> None:
        self.access = access

    def check(self, user_id: str, spec: HandlerSpec, target: Target) -> Decision:
        return self.access.check(user_id, spec, target)
