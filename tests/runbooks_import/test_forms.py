"""A hand-written runbook with every recognised command form maps each one as documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import parse_config
from bot.runbooks.importer import import_file
from bot.runbooks.importer.params import lenient_env
from handlers import Registry
from tests.runbooks_import.conftest import DATA, load_all_written, raw, steps

FORMS = DATA / "all_forms.md"

# (runbook, section, step title) -> (handler, args)
EXPECTED: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {
    ("kubernetes-checks", "diagnostics", "Pods by label"): (
        "k8s.pods",
        {"namespace": "{{namespace}}", "selector": "app=web"},
    ),
    ("kubernetes-checks", "diagnostics", "Pods everywhere"): ("k8s.pods", {"all_namespaces": True}),
    ("kubernetes-checks", "diagnostics", "Web logs"): (
        "k8s.logs",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}", "tail": 100},
    ),
    ("kubernetes-checks", "diagnostics", "Crashed container"): (
        "k8s.logs",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}", "since": "1h", "previous": True},
    ),
    ("kubernetes-checks", "diagnostics", "Errors only"): (
        "k8s.logs",
        {"namespace": "{{namespace}}", "name": "web-7d9f", "grep": "ERROR"},
    ),
    ("kubernetes-checks", "diagnostics", "Logs by label"): (
        "k8s.logs",
        {"namespace": "{{namespace}}", "selector": "app=web", "tail": 50, "container": "web"},
    ),
    ("kubernetes-checks", "diagnostics", "Crash logs by label"): (
        "k8s.logs",
        {
            "namespace": "{{namespace}}",
            "selector": "app=web",
            "max_log_requests": 10,
            "since": "30m",
            "previous": True,
            "grep": "panic",
        },
    ),
    ("kubernetes-checks", "diagnostics", "The failing pod"): (
        "k8s.describe",
        {"namespace": "{{namespace}}", "kind": "pod", "name": "{{failing_pod}}"},
    ),
    ("kubernetes-checks", "diagnostics", "The deployment"): (
        "k8s.describe",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}"},
    ),
    ("kubernetes-checks", "diagnostics", "Memory hogs"): (
        "k8s.top",
        {"what": "pods", "namespace": "{{namespace}}", "sort_by": "memory"},
    ),
    ("kubernetes-checks", "diagnostics", "Node load"): ("k8s.top", {"what": "nodes"}),
    ("kubernetes-checks", "diagnostics", "Revisions"): (
        "k8s.rollout_history",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}"},
    ),
    ("kubernetes-checks", "diagnostics", "Rollout progress"): (
        "k8s.rollout_status",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}"},
    ),
    ("kubernetes-checks", "diagnostics", "Recent events"): ("k8s.events", {"namespace": "{{namespace}}"}),
    ("kubernetes-checks", "diagnostics", "Endpoints"): ("k8s.endpoints", {"namespace": "{{namespace}}"}),
    ("kubernetes-checks", "diagnostics", "Ingress"): ("k8s.ingress", {"namespace": "{{namespace}}"}),
    ("kubernetes-checks", "diagnostics", "Autoscalers"): ("k8s.hpa", {"namespace": "{{namespace}}"}),
    ("kubernetes-checks", "diagnostics", "Nodes"): ("k8s.nodes", {}),
    ("kubernetes-checks", "diagnostics", "Services"): ("k8s.svc", {"namespace": "{{namespace}}"}),
    ("kubernetes-checks", "resolution", "Roll back"): (
        "k8s.rollout_undo",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}"},
    ),
    ("kubernetes-checks", "resolution", "Roll back further"): (
        "k8s.rollout_undo",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}", "to_revision": "{{revision}}"},
    ),
    ("kubernetes-checks", "resolution", "Restart"): (
        "k8s.rollout_restart",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}"},
    ),
    ("kubernetes-checks", "resolution", "More replicas"): (
        "k8s.scale",
        {"namespace": "{{namespace}}", "deployment": "{{deployment}}", "replicas": 4},
    ),
    ("kubernetes-checks", "resolution", "Kill the stuck pod"): (
        "k8s.delete_pod",
        {"namespace": "{{namespace}}", "pod": "web-7d9f"},
    ),
    ("kubernetes-checks", "resolution", "New image"): (
        "k8s.set_image",
        {
            "namespace": "{{namespace}}",
            "deployment": "{{deployment}}",
            "container": "web",
            "image": "registry.example.com/web:{{version}}",
        },
    ),
    ("kubernetes-checks", "resolution", "Wider autoscaler"): (
        "k8s.patch_hpa",
        {"namespace": "{{namespace}}", "name": "web", "min_replicas": 2, "max_replicas": 8},
    ),
    ("database-checks", "diagnostics", "Active queries"): ("db.activity", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Connection count"): ("db.connections", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Long-running"): (
        "db.long_running",
        {"min": "10m", "database": "{{database}}"},
    ),
    ("database-checks", "diagnostics", "Slowest statements"): (
        "db.slow_queries",
        {"by": "total", "limit": 5, "database": "{{database}}"},
    ),
    ("database-checks", "diagnostics", "Locks"): ("db.locks", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Index usage"): ("db.index_usage", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Database stats"): ("db.db_stats", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Table sizes"): (
        "db.table_sizes",
        {"limit": 20, "database": "{{database}}"},
    ),
    ("database-checks", "diagnostics", "Replication"): ("db.replication", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Is it up"): ("db.ping", {"database": "{{database}}"}),
    ("database-checks", "diagnostics", "Can we query"): ("db.ping", {"database": "{{database}}"}),
    ("database-checks", "resolution", "Stop the runaway query"): (
        "db.terminate",
        {"pid": "{{pid}}", "database": "{{database}}"},
    ),
    ("database-checks", "resolution", "Clean up orders"): (
        "db.vacuum_analyze",
        {"table": "{{table}}", "database": "{{database}}"},
    ),
    ("database-checks", "resolution", "Rebuild the bloated index"): (
        "db.reindex",
        {"index": "{{index}}", "database": "{{database}}"},
    ),
    ("redis-checks", "diagnostics", "Alive"): ("redis.ping", {"instance": "{{instance}}"}),
    ("redis-checks", "diagnostics", "Memory"): (
        "redis.info",
        {"section": "memory", "instance": "{{instance}}"},
    ),
    ("redis-checks", "diagnostics", "Latency"): ("redis.latency", {"instance": "{{instance}}"}),
    ("redis-checks", "diagnostics", "Queue depth"): (
        "redis.llen",
        {"queue": "queue:emails", "instance": "{{instance}}"},
    ),
    ("redis-checks", "diagnostics", "Rate-limit keys"): (
        "redis.keys",
        {"pattern": "ratelimit:*", "instance": "{{instance}}"},
    ),
    ("redis-checks", "diagnostics", "One counter"): (
        "redis.key",
        {"name": "ratelimit:ip:10.0.0.1", "instance": "{{instance}}"},
    ),
    ("redis-checks", "diagnostics", "Slow commands"): (
        "redis.slowlog",
        {"count": 5, "instance": "{{instance}}"},
    ),
    ("redis-checks", "diagnostics", "Scan sessions"): (
        "redis.keys",
        {"pattern": "session:*", "instance": "{{instance}}"},
    ),
    ("redis-checks", "resolution", "Reset one limit"): (
        "redis.delete",
        {"pattern": "ratelimit:ip:10.0.0.1", "instance": "{{instance}}"},
    ),
    ("http-checks", "diagnostics", "Health"): ("health.check", {"urls": ["{{base_url}}/health"]}),
    ("http-checks", "diagnostics", "Headers of an asset"): (
        "health.headers",
        {"url": "{{base_url}}/static/app.css"},
    ),
    ("http-checks", "diagnostics", "Timing"): ("health.check", {"urls": ["{{base_url}}/api/products"]}),
    ("http-checks", "diagnostics", "Error metrics"): (
        "health.metrics",
        {"url": "{{web_base_url}}/metrics", "pattern": "(error|exception)"},
    ),
    ("http-checks", "diagnostics", "Pool size from the health body"): (
        "health.check",
        {"urls": ["{{base_url}}/health"]},
    ),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Path:
    out = tmp_path_factory.mktemp("forms")
    import_file(FORMS, out, registry)
    return out


def test_every_form_maps(written: Path, registry: Registry) -> None:
    load_all_written(written, registry)
    seen: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
    for name in {k[0] for k in EXPECTED}:
        doc = raw(written / f"{name}.yaml")
        for section in ("diagnostics", "resolution"):
            for s in steps(doc, section):
                if "handler" in s:
                    seen[(name, section, s["title"])] = (s["handler"], s["args"])
    assert seen == EXPECTED


def test_params_and_defaults(written: Path) -> None:
    k8s = raw(written / "kubernetes-checks.yaml")["params"]
    assert k8s["namespace"]["default"] == "shop"
    assert k8s["deployment"]["default"] == "web"
    assert k8s["failing_pod"]["default"] is None  # <failing-pod>: given when the runbook runs
    assert k8s["revision"] == {"type": "int", "default": 2, "help": "the source wrote ${REVISION:-2}"}
    assert k8s["version"]["default"] is None  # $VERSION
    http = raw(written / "http-checks.yaml")["params"]
    assert http["base_url"]["default"] == "https://shop.example.com"
    assert http["web_base_url"]["default"] == "http://web.shop:9100"
    db = raw(written / "database-checks.yaml")["params"]
    # The handlers take a chatops.yaml target, not a host: no default without --config.
    assert db["database"]["default"] is None
    assert "-h db.example.com -d shop" in db["database"]["help"]


def test_symptoms_checklists_and_manual_steps(written: Path) -> None:
    k8s = raw(written / "kubernetes-checks.yaml")
    assert k8s["symptoms"] == ["Pods restarting", "5xx from the ingress"]
    release = raw(written / "release.yaml")
    checklist = [s for s in steps(release) if s.get("kind") == "checklist"]
    assert checklist == [
        {
            "id": "before-you-start",
            "kind": "checklist",
            "title": "Before you start",
            "items": ["Tell the team", "Freeze merges"],
        },
    ]
    prose = [s for s in steps(release) if s.get("kind") == "manual"]
    assert prose[0]["text"] == "Watch the dashboards for 30 minutes."
    fixes = steps(release, "resolution")
    assert [s["command"] for s in fixes] == [
        'git tag -a v1.2.3 -m "release"',
        "git push origin v1.2.3",
        "terraform apply \\\n  -var-file=prod.tfvars",
    ]
    assert all(s["kind"] == "manual" and "kept manual" in s["text"] for s in fixes)


def test_secrets_are_not_written(written: Path) -> None:
    text = (written / "database-checks.yaml").read_text()
    assert "hunter2" not in text
    assert "PGPASSWORD=*** psql" in text


def test_config_maps_steps_to_a_service(tmp_path: Path, registry: Registry) -> None:
    config = parse_config(
        """
clusters: {prod: {context: prod}}
databases: {main: {dsn: "postgresql://app:${APP_PW}@db.example.com:5432/shop"}}
redis: {cache: {url: "redis://cache.example.com:6379/0"}}
services:
  shop-web:
    cluster: prod
    namespace: shop
    deployment: web
    health: ["https://shop.example.com/health"]
    database: main
    redis: cache
""",
        env=lenient_env(),
    )
    import_file(FORMS, tmp_path, registry, config=config)
    load_all_written(tmp_path, registry)
    k8s = raw(tmp_path / "kubernetes-checks.yaml")
    assert k8s["params"]["service"] == {
        "type": "service",
        "default": "shop-web",
        "help": "the chatops.yaml service",
    }
    logs = next(s for s in steps(k8s) if s["title"] == "Web logs")
    assert logs["args"] == {"service": "{{service}}", "tail": 100}
    pods = next(s for s in steps(k8s) if s["title"] == "Pods by label")
    assert pods["args"] == {"namespace": "{{namespace}}", "selector": "app=web"}  # namespace-wide: no service
    by_label = next(s for s in steps(k8s) if s["title"] == "Logs by label")
    # a selector is namespace-wide too: the service's deployment would clash with it
    assert by_label["args"] == {
        "namespace": "{{namespace}}",
        "selector": "app=web",
        "tail": 50,
        "container": "web",
    }
    db = raw(tmp_path / "database-checks.yaml")
    active = next(s for s in steps(db) if s["title"] == "Active queries")
    assert active["args"] == {"service": "{{service}}"}
    redis = raw(tmp_path / "redis-checks.yaml")
    alive = next(s for s in steps(redis) if s["title"] == "Alive")
    assert alive["args"] == {"service": "{{service}}"}
    http = raw(tmp_path / "http-checks.yaml")
    health = next(s for s in steps(http) if s["title"] == "Health")
    assert health["args"] == {"service": "{{service}}"}
