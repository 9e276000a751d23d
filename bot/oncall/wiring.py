"""What `bot.app` calls once per runtime: the hand-off participant and the pager."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.oncall import handoff, paging

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Hand-off posts on the scheduler tick; PagerDuty paging on incident changes (when configured)."""
    handoffs = handoff.Handoffs(runtime)
    runtime.extras["oncall.handoffs"] = handoffs
    if runtime.scheduler is not None:
        runtime.scheduler.add("oncall-handoff", handoffs)
    paging.register(runtime)
