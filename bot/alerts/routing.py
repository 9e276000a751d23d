"""Which route a group takes (first match wins), and the runbook and params it names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.alerts.config import RouteConfig
from bot.alerts.store import Group, Occurrence
from bot.config import ChatopsConfig
from handlers.alerts.matchers import matches_all

# Labels that fill a runbook's params of the same name (the service's config fills the rest).
PARAM_LABELS = ("service", "namespace", "deployment", "pod", "instance")
_VAR = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
NO_ROUTE = RouteConfig()
_RUNBOOK = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")


def labels_of(group: Group, alerts: Sequence[Occurrence]) -> dict[str, str]:
    """The labels every alert of the group shares (Alertmanager's commonLabels, else computed)."""
    if group.common_labels:
        return dict(group.common_labels)
    if not alerts:
        return dict(group.labels)
    common = dict(alerts[0].labels)
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.labels.get(k) == v}
    return common or dict(group.labels)


def choose(config: ChatopsConfig, labels: Mapping[str, str]) -> tuple[int | None, RouteConfig]:
    """(index, route) of the first route whose matchers all match; (None, no route) otherwise."""
    if config.alerts is None:
        return None, NO_ROUTE
    for i, route in enumerate(config.alerts.routes):
        if matches_all(route.parsed(), labels):
            return i, route
    return None, NO_ROUTE


def fill(template: str, labels: Mapping[str, str]) -> str:
    """`{{ alertname }}` → the label's value (missing labels become empty)."""
    return _VAR.sub(lambda m: labels.get(m.group(1), ""), template).strip()


def runbook_name(route: RouteConfig, labels: Mapping[str, str], alerts: Sequence[Occurrence]) -> str | None:
    """The route's runbook, else a `runbook` annotation (common to the group or on its first alert)."""
    if route.runbook:
        name = fill(route.runbook, labels).lower()
        # A name built from labels is only a name when it looks like one (never text for Slack).
        return name if _RUNBOOK.fullmatch(name) else None
    for a in alerts:
        name = a.annotations.get("runbook", "").strip().lower()
        if name and _RUNBOOK.fullmatch(name):
            return name
    return None


def runbook_params(
    params: Sequence[str], labels: Mapping[str, str], services: Sequence[str]
) -> dict[str, str]:
    """Values for the runbook's params from the alert's labels (a service must be configured)."""
    out: dict[str, str] = {}
    for key in PARAM_LABELS:
        value = labels.get(key)
        if key in params and value:
            if key == "service" and services and value not in services:
                continue
            out[key] = value
    return out
