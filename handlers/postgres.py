"""PostgreSQL handlers for `/db`: importing this module registers every `db.*` handler.

The handlers live in `handlers.pg` by concern (sessions, stats, replication, signals, maintenance).
"""

from __future__ import annotations

from handlers.pg import maintenance, replication, sessions, signals, stats

__all__ = ["maintenance", "replication", "sessions", "signals", "stats"]
