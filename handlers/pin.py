"""What a confirmed action's preview pinned, handed back to the handler when it runs.

A destructive handler's preview returns `Preview(pin={...})` with what it saw (the revision it
would go from and to, the pid and its start time, the keys). The bot stores it with the pending
action and, when the action runs after its confirmation, passes it in the context's options;
the handler compares and raises `TargetMoved`, naming what changed, instead of acting on a
target that is no longer the one approved. Run without a preview (a test, a runbook step
whose preview was not pinned), `pinned` is None and the handler acts on what it finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TypeVar

from handlers import Context
from handlers.results import Pin

PIN_OPTION = "chatops.pin"
C = TypeVar("C")


def pinned(ctx: Context[C]) -> Pin | None:
    value = ctx.options.get(PIN_OPTION)
    return value if isinstance(value, Mapping) else None


def with_pin(ctx: Context[C], pin: Pin) -> Context[C]:
    return replace(ctx, options={**ctx.options, PIN_OPTION: dict(pin)})
