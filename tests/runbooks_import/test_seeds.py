"""Each seed imports without error, every written runbook validates, and the figures hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.runbooks.importer import import_file
from handlers import Registry
from tests.runbooks_import.conftest import SEEDS, by_handler, load_all_written, raw, seed, steps

# (runbooks written, five-tool commands found, mapped). A command run in a pod with
# `kubectl exec` counts as the command it runs (psql, python, pg_dump…); STRICT counts
# every such command as kubectl instead.
FIGURES = {
    "000_49c97668c4c58451.txt": (20, 22, 22),
    "001_071ba6b587293d03.txt": (19, 35, 30),
    "002_5cf2f9c937b71c64.txt": (37, 84, 61),
    "003_05504ad92690868b.txt": (18, 25, 24),
    "004_5b127bd35cfc735f.txt": (25, 57, 46),
}
STRICT = {
    "000_49c97668c4c58451.txt": (22, 22),
    "001_071ba6b587293d03.txt": (38, 30),
    "002_5cf2f9c937b71c64.txt": (96, 61),
    "003_05504ad92690868b.txt": (25, 24),
    "004_5b127bd35cfc735f.txt": (58, 46),
}


@pytest.mark.parametrize("name", SEEDS)
def test_seed_imports_and_every_file_validates(name: str, tmp_path: Path, registry: Registry) -> None:
    done = import_file(seed(name), tmp_path, registry)
    runbooks, found, mapped = FIGURES[name]
    written = load_all_written(tmp_path, registry)
    assert len(written) == runbooks == len(done.written)
    fig = done.report.figures
    assert (fig.found, fig.mapped) == (found, mapped)
    strict = done.report.strict
    assert (strict.found, strict.mapped) == STRICT[name]
    for rb in written.values():
        assert rb.source[0].file == name
        assert "imported" in rb.tags
    # Nothing found is dropped silently: every command became a step, or is listed as plumbing.
    for r in done.report.runbooks:
        ids = {
            s["id"]
            for s in (
                *steps(raw(tmp_path / f"{r.name}.yaml")),
                *steps(raw(tmp_path / f"{r.name}.yaml"), "resolution"),
            )
        }
        assert all(f.step in ids for f in r.found)
        assert all(f.reason for f in r.manual)


def test_all_seeds_together(tmp_path: Path, registry: Registry) -> None:
    total = [0, 0]
    for name in SEEDS:
        fig = import_file(seed(name), tmp_path / name, registry, dry_run=True).report.figures
        total[0] += fig.found
        total[1] += fig.mapped
    assert total == [223, 183]  # 82.1%


def test_written_seed_runbooks_pass_chatops_runbook_validate(tmp_path: Path, registry: Registry) -> None:
    out = tmp_path / "runbooks"
    import_file(seed("003_05504ad92690868b.txt"), out, registry)
    env = {"CHATOPS_CONFIG": str(tmp_path / "none.yaml"), "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    result = CliRunner().invoke(cli, ["runbook", "validate", "--dir", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "18 runbooks, all valid" in result.output


def test_service_wont_start(tmp_path: Path, registry: Registry) -> None:
    import_file(seed("001_071ba6b587293d03.txt"), tmp_path, registry)
    doc = raw(tmp_path / "service-wont-start.yaml")
    assert doc["title"] == "Service Won't Start"
    assert doc["source"] == [{"file": "001_071ba6b587293d03.txt", "section": "Runbook: Service Won't Start"}]
    assert doc["symptoms"] == ["Pods in CrashLoopBackOff"]
    assert [s["handler"] for s in steps(doc)] == ["k8s.pods", "k8s.logs", "k8s.describe"]
    pods, logs, describe = steps(doc)
    assert pods["args"] == {"namespace": "{{namespace}}"}
    assert logs["args"] == {"namespace": "{{namespace}}", "name": "{{pod_name}}"}
    assert describe["args"] == {"namespace": "{{namespace}}", "kind": "pod", "name": "{{pod_name}}"}
    assert doc["params"]["namespace"]["default"] == "accelerapp"
    assert doc["params"]["pod_name"]["default"] is None
    restart = by_handler(doc, "k8s.rollout_restart", "resolution")
    assert restart
    assert restart[0]["args"]["deployment"] == "{{deployment}}"
    assert doc["params"]["deployment"]["default"] == "accelerapp"
    edit = [s for s in steps(doc, "resolution") if s.get("kind") == "manual"]
    assert edit[0]["command"] == "kubectl edit configmap accelerapp-config -n accelerapp"
    assert "kubectl edit" in edit[0]["text"]
    assert "Common Causes: Configuration error; Missing secrets" in doc["description"]


def test_seed_000_sql_blocks_and_maintenance(tmp_path: Path, registry: Registry) -> None:
    import_file(seed("000_49c97668c4c58451.txt"), tmp_path, registry)
    slow = raw(tmp_path / "slow-queries.yaml")
    assert [s["handler"] for s in steps(slow)] == ["db.slow_queries", "db.connections", "db.locks"]
    assert steps(slow)[0]["args"] == {"by": "mean", "limit": 10, "database": "{{database}}"}
    assert slow["symptoms"][0] == "Query response time > 5 seconds"
    tasks = raw(tmp_path / "regular-database-tasks.yaml")
    assert [s["handler"] for s in steps(tasks)] == ["db.index_usage", "db.connections", "db.long_running"]
    assert steps(tasks)[2]["args"]["min"] == "5m"
    fixes = {s["handler"] for s in steps(tasks, "resolution")}
    assert fixes == {"db.reindex", "db.vacuum_analyze"}


def test_seed_002_rollbacks_metrics_and_logs(tmp_path: Path, registry: Registry) -> None:
    import_file(seed("002_5cf2f9c937b71c64.txt"), tmp_path, registry)
    quick = raw(tmp_path / "quick-rollback-last-known-good-version.yaml")
    assert [s["handler"] for s in steps(quick, "resolution")] == ["k8s.rollout_undo"]
    assert {s.get("handler") for s in steps(quick)} >= {"k8s.rollout_status", "health.check"}
    assert quick["params"]["base_url"]["default"] == "http://backend:5000"
    revision = raw(tmp_path / "specific-version-rollback.yaml")
    assert by_handler(revision, "k8s.rollout_undo", "resolution")[0]["args"]["to_revision"] == 2
    cpu = raw(tmp_path / "high-cpu-usage.yaml")
    metrics = by_handler(cpu, "health.metrics")[0]
    assert metrics["args"] == {"url": "{{base_url}}/metrics", "pattern": "cpu"}
    alert = raw(tmp_path / "high-error-rate-alert.yaml")
    assert by_handler(alert, "health.metrics")[0]["args"]["pattern"] == "(error|exception)"
    # `kubectl logs -l`: the pods the selector matches
    assert by_handler(alert, "k8s.logs")[0]["args"] == {
        "namespace": "{{namespace}}",
        "selector": "app=backend",
        "grep": "error",
    }
    down = raw(tmp_path / "service-down-alert.yaml")
    assert by_handler(down, "k8s.logs")[0]["args"] == {
        "namespace": "{{namespace}}",
        "selector": "app=backend",
        "tail": 100,
    }
    # a regular-expression grep is more than k8s.logs --grep does: kept manual, saying why
    access = raw(tmp_path / "unauthorized-access.yaml")
    manual = [s for s in steps(access) if s.get("kind") == "manual"]
    assert manual[0]["command"].startswith("kubectl logs -n smartcloudops -l app=backend | grep -i")
    assert "`grep auth\\|login\\|unauthorized` is a regular expression" in manual[0]["text"]


def test_seed_003_redis_and_http(tmp_path: Path, registry: Registry) -> None:
    import_file(seed("003_05504ad92690868b.txt"), tmp_path, registry)
    limits = raw(tmp_path / "rate-limit-errors-429.yaml")
    assert [(s["handler"], s["args"]) for s in steps(limits)] == [
        ("redis.keys", {"pattern": "ratelimit:*", "instance": "{{instance}}"}),
        ("redis.key", {"name": "ratelimit:api:ip:192.168.1.1", "instance": "{{instance}}"}),
    ]
    assert limits["symptoms"] == ["Users receiving 429 errors", "Legitimate traffic being blocked"]
    queue = raw(tmp_path / "forecast-generation-timeout.yaml")
    assert by_handler(queue, "redis.llen")[0]["args"]["queue"] == "queue:forecasts"
    latency = raw(tmp_path / "high-api-latency.yaml")
    assert [s["handler"] for s in steps(latency)][:3] == ["health.check", "db.slow_queries", "redis.latency"]
    assert latency["params"]["base_url"]["default"] == "https://accubooks.com"


def test_seed_004_service_unavailable(tmp_path: Path, registry: Registry) -> None:
    import_file(seed("004_5b127bd35cfc735f.txt"), tmp_path, registry)
    doc = raw(tmp_path / "service-unavailable-503-error.yaml")
    assert [s["handler"] for s in steps(doc)] == ["k8s.pods", "k8s.endpoints", "k8s.ingress"]
    fixes = steps(doc, "resolution")
    assert [s["handler"] for s in fixes] == ["k8s.rollout_restart", "k8s.scale", "k8s.describe"]
    assert fixes[1]["args"] == {"deployment": "{{deployment}}", "replicas": 3, "namespace": "{{namespace}}"}
    assert doc["params"]["namespace"]["default"] == "backstage"
