"""PostgreSQL handlers for `/db`: importing this module registers every `db.*` handler.

The handlers live in `handlers.pg` by concern (sessions, stats, signals, maintenance).
"""

from __future__ import annotations

from handlers.pg import maintenance, sessions, signals, stats

__all__ = ["maintenance", "sessions", "signals", "stats"]
