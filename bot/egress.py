"""Where the bot's HTTP client may go, from chatops.yaml (the checks: handlers/health/egress.py)."""

from __future__ import annotations

from typing import Any

from bot.config import ChatopsConfig
from handlers.health.egress import EgressPolicy


def egress_policy(config: ChatopsConfig) -> EgressPolicy:
    """Where the HTTP client may go: services' health URLs, `health.allow`, `health.allow_private`."""
    urls = frozenset(u for s in config.services.values() for u in s.health)
    health = config.health
    return EgressPolicy(
        services=urls,
        allow=tuple(health.allow),
        allow_private=health.allow_private,
        endpoints=tuple(_endpoints(config.model_dump(exclude={"services", "health"}))),
    )


def _endpoints(node: Any) -> list[str]:
    """Every http(s) `url:` chatops.yaml names (an Alertmanager, a Prometheus…): admin-named
    infrastructure the HTTP client may reach, whatever section a feature keeps it in."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "url" and isinstance(value, str) and value.lower().startswith(("http://", "https://")):
                found.append(value)
            else:
                found += _endpoints(value)
    elif isinstance(node, list):
        for item in node:
            found += _endpoints(item)
    return found
