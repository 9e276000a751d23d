"""What `bot.app` calls once per runtime: the hand-off participant and the pager."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.oncall import handoff, paging
from bot.oncall.webhook import Webhook

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Hand-off posts on the scheduler tick; PagerDuty paging on incident changes (when configured)."""
    handoffs = handoff.Handoffs(runtime)
    runtime.provide(handoffs)
    if runtime.scheduler is not None:
        runtime.scheduler.add("oncall-handoff", handoffs)
    pager = paging.register(runtime)
    if pager is not None and runtime.scheduler is not None:
        # Work a replica left half-done when it died: pages cut off, webhooks stored but not acted on.
        runtime.scheduler.add("paging-recovery", pager.recover)
        runtime.scheduler.add("paging-webhook-recovery", Webhook(runtime).recover)
