"""Trust tests (issue 12): faults and attacks pushed through the bot's real HTTP endpoint."""

from __future__ import annotations

from tests.guard.conftest import clock, counters  # noqa: F401  (shared fixtures)
