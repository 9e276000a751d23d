"""Redis handlers for `/redis`: importing this module registers every `redis.*` handler.

The handlers live in `handlers.kv` by concern (server views, keys).
"""

from __future__ import annotations

from handlers.kv import keys, server

__all__ = ["keys", "server"]
