"""The `prometheus:` section of chatops.yaml, and the client the bot builds for each instance.

    prometheus:
      main: {url: "http://prometheus:9090", default: true, timeout: 10s,
             headers: {Authorization: "Bearer ${PROM_TOKEN}"}}

A service's `metrics:` (named PromQL) have `{{namespace}}`, `{{deployment}}` and `{{service}}`
filled from the service's own settings by `service_metrics`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from handlers.params import Duration

# A connection that does not open in this long will not open: fail fast and name the target.
CONNECT_TIMEOUT = 3.0
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
PLACEHOLDERS = ("namespace", "deployment", "service")
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class PrometheusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    default: bool = False
    timeout: Duration = timedelta(seconds=10)
    # Extra request headers (an Authorization bearer token); never shown or logged.
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL (like http://prometheus:9090)")
        return v.rstrip("/")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta) -> timedelta:
        if not timedelta(0) < v <= timedelta(minutes=2):
            raise ValueError("timeout must be more than 0 and at most 2m")
        return v


def check_metrics(metrics: dict[str, str]) -> dict[str, str]:
    """A service's named PromQL: names like `error_rate`, known placeholders only."""
    for name, expr in metrics.items():
        if not METRIC_NAME.match(name):
            raise ValueError(f"metrics.{name}: a metric name is lowercase letters, digits and '_'")
        if not expr.strip():
            raise ValueError(f"metrics.{name}: the PromQL is empty")
        unknown = sorted({m for m in _PLACEHOLDER.findall(expr) if m not in PLACEHOLDERS})
        if unknown:
            raise ValueError(
                f"metrics.{name}: unknown placeholder {{{{{unknown[0]}}}}} "
                "(known: {{namespace}}, {{deployment}}, {{service}})"
            )
    return metrics


def fill(expr: str, values: Mapping[str, str | None]) -> str:
    """`{{namespace}}` etc. from the service; a placeholder the service lacks stays visible."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or m.group(0), expr)


def service_metrics(services: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Every service's named PromQL with its placeholders filled: {service: {name: expr}}."""
    out: dict[str, dict[str, str]] = {}
    for name, svc in services.items():
        metrics: Mapping[str, str] = getattr(svc, "metrics", {}) or {}
        values = {"service": name, "namespace": svc.namespace, "deployment": svc.deployment or name}
        out[name] = {m: fill(expr, values) for m, expr in metrics.items()}
    return out


def build_client(cfg: PrometheusConfig) -> Any:
    """An httpx.Client for one instance: its base URL, its headers, its timeout."""
    import httpx

    seconds = cfg.timeout.total_seconds()
    return httpx.Client(
        base_url=cfg.url,
        headers=dict(cfg.headers),
        timeout=httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds)),
        follow_redirects=False,
    )
