"""Clients built once from config and shared by every request; closed on shutdown.

One kubernetes ApiClient per cluster, one psycopg pool per database, one redis client per
instance, one httpx.Client. They are built lazily on first use (so a cluster that is down
does not stop the bot from starting) and then kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import ChatopsConfig, Settings, load_config
from bot.egress import egress_policy
from bot.store import Store, utcnow
from handlers import Client, Context, HandlerSpec, Registry, load_all
from handlers.errors import HandlerError
from handlers.health.egress import EgressPolicy, egress_client
from handlers.redact import redact

# Seconds; every outside call has a timeout.
CONNECT_TIMEOUT = 3.0


class NotConfigured(HandlerError):
    """The command needs a target that chatops.yaml does not define."""


@dataclass
class Clients:
    """Lazily built, cached clients keyed by target name. Thread-safe."""

    config: ChatopsConfig
    # Factories are injectable so a test can point a kind of client at its fake server.
    factories: dict[Client, Callable[[str], Any]] = field(default_factory=dict)
    _cache: dict[tuple[Client, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        defaults: dict[Client, Callable[[str], Any]] = {
            Client.KUBERNETES: self._kubernetes,
            Client.POSTGRES: self._postgres,
            Client.REDIS: self._redis,
            Client.PROMETHEUS: self._prometheus,
            # Only configured URLs, never internal addresses unless allowed (handlers/health/egress.py).
            Client.HTTP: lambda _name: egress_client(self.egress(), connect=CONNECT_TIMEOUT),
        }
        for kind, fn in defaults.items():
            self.factories.setdefault(kind, fn)

    def get(self, kind: Client, name: str) -> Any:
        key = (kind, name)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.factories[kind](name)
            return self._cache[key]

    def _kubernetes(self, name: str) -> Any:
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config

        cfg = self.config.clusters[name]
        configuration = k8s_client.Configuration()
        try:
            loaded = False
            if cfg.context is None and cfg.kubeconfig is None:
                try:
                    k8s_config.load_incluster_config(client_configuration=configuration)
                    loaded = True
                except k8s_config.ConfigException:
                    pass
            if not loaded:
                k8s_config.load_kube_config(
                    config_file=cfg.kubeconfig, context=cfg.context, client_configuration=configuration
                )
        except (k8s_config.ConfigException, OSError) as exc:
            raise HandlerError(f"cluster {name}: cannot load its kubeconfig: {exc}") from None
        # urllib3 retries three times by default, which would make a hung API server take
        # four handler timeouts to fail; one retry covers a dropped keep-alive connection.
        configuration.retries = 1
        return k8s_client.ApiClient(configuration)

    def _postgres(self, name: str) -> Any:
        from psycopg_pool import ConnectionPool

        cfg = self.config.databases[name]
        return ConnectionPool(
            cfg.dsn,
            min_size=1,
            max_size=cfg.pool_size,
            kwargs={"application_name": "chatops", "connect_timeout": int(CONNECT_TIMEOUT)},
            timeout=CONNECT_TIMEOUT + 2,
            open=True,
            name=f"chatops-{name}",
            # After a PostgreSQL restart the pooled connections are dead: check before lending.
            check=ConnectionPool.check_connection,
        )

    def _redis(self, name: str) -> Any:
        import redis

        cfg = self.config.redis[name]
        return redis.Redis.from_url(
            cfg.url,
            socket_timeout=5.0,
            socket_connect_timeout=CONNECT_TIMEOUT,
            decode_responses=False,
            client_name="chatops",
        )

    def egress(self) -> EgressPolicy:
        return egress_policy(self.config)

    def _prometheus(self, name: str) -> Any:
        from bot.prometheus import build_client

        return build_client(self.config.prometheus[name])

    def close(self) -> None:
        with self._lock:
            items = list(self._cache.items())
            self._cache.clear()
        for (_kind, _name), obj in items:
            closer = getattr(obj, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # noqa: S112 - shutdown closes what it can
                    continue

    # -- targets -----------------------------------------------------------------------

    def options(self, kind: Client) -> Mapping[str, Any]:
        """Per-kind settings from config that handlers read from `Context.options`."""
        cfg = self.config
        if kind is Client.KUBERNETES:
            return {"scale_min": cfg.limits.scale.min, "scale_max": cfg.limits.scale.max}
        if kind is Client.POSTGRES:
            return {}
        if kind is Client.HTTP:
            am = cfg.alerts.alertmanager.url if cfg.alerts and cfg.alerts.alertmanager else None
            return {
                "services": {n: list(s.health) for n, s in cfg.services.items() if s.health},
                "alertmanager": am,  # /alerts silence: the only Alertmanager it may reach
                "egress": self.egress(),
            }
        if kind is Client.PROMETHEUS:
            from bot.prometheus import service_metrics

            return {"metrics": service_metrics(cfg.services)}
        return {}

    def context(self, spec: HandlerSpec, target: str | None) -> Context[Any]:
        """Build the handler's context: resolve its target's client (or explain what is missing)."""
        timeout = self.config.limits.handler_timeout.total_seconds()
        options = dict(self.options(spec.client))
        table_key = {
            Client.KUBERNETES: "clusters",
            Client.POSTGRES: "databases",
            Client.REDIS: "redis",
            Client.PROMETHEUS: "prometheus",
        }
        if spec.client in table_key:
            key = table_key[spec.client]
            table: Mapping[str, Any] = getattr(self.config, key)
            if not table:
                raise NotConfigured(
                    f"{spec.name} needs a target: add `{key}:` to chatops.yaml (see chatops.example.yaml)"
                )
            if target is None or target not in table:
                known = ", ".join(sorted(table))
                what = f"{target!r} is not" if target else "no target is"
                raise NotConfigured(f"{what} configured under `{key}:` (known: {known})")
            if spec.client is Client.PROMETHEUS:
                # The instance's own timeout (its queries may be slower than other targets').
                timeout = self.config.prometheus[target].timeout.total_seconds()
            if spec.client is Client.POSTGRES:
                options["statement_timeout_ms"] = int(
                    self.config.databases[target].statement_timeout.total_seconds() * 1000
                )
            try:
                client = self.get(spec.client, target)
            except HandlerError:
                raise
            except Exception as exc:
                raise HandlerError(
                    f"{key[:-1] if key not in ('redis', 'prometheus') else key} {target}: {redact(str(exc))}"
                ) from None
            return Context(client=client, timeout=timeout, options=options, target=target)
        if spec.client is Client.HTTP:
            return Context(client=self.get(Client.HTTP, ""), timeout=timeout, options=options)
        return Context(client=None, timeout=timeout, options=options)


@dataclass
class Services:
    """Everything built once from settings and config, handed to `build_app`."""

    config: ChatopsConfig
    store: Store
    clients: Clients
    registry: Registry
    # Injectable so tests move time instead of sleeping through a 30-minute interval.
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def from_settings(cls, settings: Settings, *, config: ChatopsConfig | None = None) -> Services:
        cfg = config if config is not None else load_config(settings.config_path)
        return cls(config=cfg, store=Store(settings.database_url), clients=Clients(cfg), registry=load_all())

    def close(self) -> None:
        self.clients.close()
        self.store.close()
