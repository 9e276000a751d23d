"""`chatops check-config`: try every configured target with a short timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import httpx

from bot.config import ChatopsConfig
from bot.egress import egress_policy
from handlers.health.egress import egress_client
from handlers.redact import redact


@dataclass(frozen=True)
class TargetCheck:
    kind: str
    name: str
    ok: bool
    detail: str


def _timed(kind: str, name: str, fn: Callable[[], str]) -> TargetCheck:
    started = time.monotonic()
    try:
        detail = fn()
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return TargetCheck(kind, name, False, redact(f"{type(exc).__name__}: {msg}"))
    return TargetCheck(kind, name, True, f"{detail} ({(time.monotonic() - started) * 1000:.0f} ms)")


def _cluster(config: ChatopsConfig, name: str, timeout: float) -> str:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    cfg = config.clusters[name]
    if cfg.context is None and cfg.kubeconfig is None:
        try:
            k8s_config.load_incluster_config()
            api = k8s_client.ApiClient()
        except k8s_config.ConfigException:
            api = k8s_config.new_client_from_config()
    else:
        api = k8s_config.new_client_from_config(config_file=cfg.kubeconfig, context=cfg.context)
    with api:
        version = k8s_client.VersionApi(api).get_code(_request_timeout=timeout)
    return f"Kubernetes {version.git_version}"


def _database(config: ChatopsConfig, name: str, timeout: float) -> str:
    import psycopg

    with psycopg.connect(
        config.databases[name].dsn, connect_timeout=max(1, int(timeout)), application_name="chatops"
    ) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def _redis(config: ChatopsConfig, name: str, timeout: float) -> str:
    import redis

    client = redis.Redis.from_url(
        config.redis[name].url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
        info = client.info("server")
    finally:
        client.close()
    return f"Redis {info.get('redis_version', '?')}"


def _prometheus(config: ChatopsConfig, name: str, timeout: float) -> str:
    from bot.prometheus import build_client
    from handlers import Context
    from handlers.prom.api import get

    with build_client(config.prometheus[name]) as client:
        info = get(Context(client=client, timeout=timeout, target=name), "status/buildinfo")
    return f"Prometheus {info.get('version', '?') if isinstance(info, dict) else '?'}"


def _metric(config: ChatopsConfig, expr: str, timeout: float) -> str:
    """A service's named PromQL, run once on the default Prometheus: a typo shows here, not at 3 a.m."""
    from bot.prometheus import build_client
    from handlers import Context
    from handlers.prom.query import instant

    name = config.default_target("prometheus")
    if name is None:
        raise RuntimeError("no default Prometheus: mark one `default: true` under `prometheus:`")
    with build_client(config.prometheus[name]) as client:
        rows = instant(Context(client=client, timeout=timeout, target=name), expr)
    return f"{len(rows)} series" if rows else "valid PromQL, no series right now"


def _url(config: ChatopsConfig, url: str, timeout: float) -> str:
    # Through the same checks as the bot's own client: a service the bot would refuse to reach
    # (a private address without health.allow_private) is reported here, at set-up time.
    with egress_client(egress_policy(config), timeout=timeout, connect=timeout) as client:
        resp = client.get(url)
    if resp.status_code >= 500:
        raise RuntimeError(f"HTTP {resp.status_code}")
    return f"HTTP {resp.status_code}"


def _alertmanager(url: str, timeout: float) -> str:
    """Alertmanager's status API: where `/alerts silence` and the Silence buttons go."""
    resp = httpx.get(url.rstrip("/") + "/api/v2/status", timeout=timeout)
    if resp.status_code != 200:
        raise RuntimeError(f"HTTP {resp.status_code} from /api/v2/status")
    version = (resp.json().get("versionInfo") or {}).get("version", "?")
    return f"Alertmanager {version}"


def check_targets(config: ChatopsConfig, *, timeout: float = 3.0) -> Iterator[TargetCheck]:
    jobs: list[tuple[str, str, Callable[[], str]]] = []
    for name in config.clusters:
        jobs.append(("cluster", name, partial(_cluster, config, name, timeout)))
    for name in config.databases:
        jobs.append(("database", name, partial(_database, config, name, timeout)))
    for name in config.redis:
        jobs.append(("redis", name, partial(_redis, config, name, timeout)))
    for name in config.prometheus:
        jobs.append(("prometheus", name, partial(_prometheus, config, name, timeout)))
    if config.prometheus:
        from bot.prometheus import service_metrics

        for svc_name, metrics in service_metrics(config.services).items():
            for metric, expr in metrics.items():
                jobs.append(("metric", f"{svc_name}.{metric}", partial(_metric, config, expr, timeout)))
    for svc_name, svc in config.services.items():
        for url in svc.health:
            jobs.append(("health", f"{svc_name} {url}", partial(_url, config, url, timeout)))
    if config.alerts is not None and config.alerts.alertmanager is not None:
        am = config.alerts.alertmanager.url
        jobs.append(("alertmanager", am, partial(_alertmanager, am, timeout)))
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = [pool.submit(_timed, kind, name, fn) for kind, name, fn in jobs]
        for f in futures:
            yield f.result()
