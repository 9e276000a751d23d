"""HTTP handlers for `/health`: importing this module registers every `health.*` handler.

The handlers live in `handlers.web` by concern (health checks, headers and metrics).
"""

from __future__ import annotations

from handlers.web import health, inspect

__all__ = ["health", "inspect"]
