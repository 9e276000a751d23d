"""Incident channel names: from `incidents.channel_name`, in Slack's rules, unique.

Slack channel names are lowercase letters, digits, hyphens and underscores, at most 80
characters. When a name is taken the bot tries `-2`, `-3`, … (the base is shortened so the
suffix still fits in 80).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

MAX_LEN = 80
SLUG_LEN = 40
MAX_ATTEMPTS = 50

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def clean(text: str) -> str:
    """Lowercase, only a-z 0-9 - _, no doubled or edge hyphens."""
    out = _NOT_ALLOWED.sub("-", text.lower())
    return _DASHES.sub("-", out).strip("-_")


def slug(title: str, limit: int = SLUG_LEN) -> str:
    s = clean(title)[:limit].rstrip("-_")
    return s or "incident"


def base_name(
    template: str, *, incident_id: int, severity: str, title: str, service: str | None, at: datetime
) -> str:
    """The channel name before any collision suffix."""
    raw = template.format(
        date=at.strftime("%Y%m%d"),
        severity=severity.lower(),
        slug=slug(title),
        id=incident_id,
        service=service or "",
    )
    name = clean(raw)[:MAX_LEN].rstrip("-_")
    return name or f"incident-{incident_id}"


def candidates(base: str) -> Iterator[str]:
    """`base`, then `base-2`, `base-3`, … each at most 80 characters."""
    yield base[:MAX_LEN]
    for n in range(2, MAX_ATTEMPTS + 1):
        suffix = f"-{n}"
        yield base[: MAX_LEN - len(suffix)].rstrip("-_") + suffix
