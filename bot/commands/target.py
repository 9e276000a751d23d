"""What a request acts on: resolved from params, used by access rules, audit and messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import ChatopsConfig, ServiceConfig
from handlers import Client, HandlerSpec
from handlers.params import Params


class UnknownService(Exception):
    pass


@dataclass(frozen=True)
class Target:
    cluster: str | None = None
    namespace: str | None = None
    database: str | None = None
    instance: str | None = None

    def describe(self) -> str:
        parts = []
        if self.cluster:
            parts.append(f"cluster {self.cluster}")
        if self.namespace:
            parts.append(f"namespace {self.namespace}")
        if self.database:
            parts.append(f"database {self.database}")
        if self.instance:
            parts.append(f"redis {self.instance}")
        return ", ".join(parts)

    @staticmethod
    def of(params: Params) -> Target:
        def get(name: str) -> str | None:
            v = getattr(params, name, None)
            return v if isinstance(v, str) else None

        return Target(get("cluster"), get("namespace"), get("database"), get("instance"))


# service field -> params field it fills
SERVICE_FIELDS = {
    "cluster": "cluster",
    "namespace": "namespace",
    "deployment": "deployment",
    "database": "database",
    "redis": "instance",
    "health": "urls",
}
_DEFAULT_KIND: dict[Client, Any] = {
    Client.KUBERNETES: "clusters",
    Client.POSTGRES: "databases",
    Client.REDIS: "redis",
    Client.PROMETHEUS: "prometheus",
}


def service_fills(spec: HandlerSpec, raw: dict[str, Any], config: ChatopsConfig) -> frozenset[str]:
    """The params fields a named, configured service would fill for this handler."""
    service = raw.get("service")
    if (
        not isinstance(service, str)
        or service not in config.services
        or "service" not in spec.params.model_fields
    ):
        return frozenset()
    svc = config.services[service]
    fields = spec.params.model_fields
    return frozenset(dst for src, dst in SERVICE_FIELDS.items() if dst in fields and getattr(svc, src))


def fill_from_service(out: dict[str, Any], svc: ServiceConfig, fields: Mapping[str, Any]) -> None:
    """Fill the params fields the service configures, where the handler has them and they are unset."""
    for src, dst in SERVICE_FIELDS.items():
        value = getattr(svc, src)
        if dst in fields and dst not in out and value:
            out[dst] = list(value) if isinstance(value, list) else value


def expand(spec: HandlerSpec, raw: dict[str, Any], config: ChatopsConfig) -> dict[str, Any]:
    """Fill fields from a named service, then the default target, where the user left them unset."""
    out = dict(raw)
    fields = spec.params.model_fields
    service = out.get("service")
    if isinstance(service, str) and "service" in fields and service in config.services:
        fill_from_service(out, config.services[service], fields)
    elif (
        isinstance(service, str)
        and "service" in fields
        and service != "all"
        and config.services
        # A handler may accept other words there (a URL, `all`); let its own validation decide,
        # but a plain unknown name is almost always a typo.
        and not any(c in service for c in "/.:")
    ):
        known = ", ".join(sorted(config.services))
        raise UnknownService(f"unknown service {service!r} (configured: {known})")
    tf = spec.target_field
    if tf and tf in fields and not out.get(tf):
        default = config.default_target(_DEFAULT_KIND[spec.client])
        if default:
            out[tf] = default
    return out
