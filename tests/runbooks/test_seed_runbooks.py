"""Every runbook in runbooks/ loads and validates against the real handler registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.runbooks.catalog import Loaded
from bot.runbooks.loader import load_dir, load_file, runbook_files
from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep
from bot.runbooks.terminal import schedule_problems
from handlers import Registry, load_all

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
SEEDS = (
    "000_49c97668c4c58451.txt",
    "001_071ba6b587293d03.txt",
    "002_5cf2f9c937b71c64.txt",
    "003_05504ad92690868b.txt",
    "004_5b127bd35cfc735f.txt",
)
# The procedures issue 7 names, by the runbook that encodes each (merged ones share a file).
REQUIRED = {
    "000 high response time": "high-latency",
    "000 database connection issues": "database-connection-issues",
    "000 frontend page load failures": "frontend-page-load-failures",
    "000 slow queries": "slow-queries",
    "000 index maintenance": "index-maintenance",
    "000 statistics": "vacuum-analyze",
    "000 long-running queries": "long-running-queries",
    "000 post-deployment verification": "post-deployment-verification",
    "001 daily health check": "daily-health-check",
    "001 service won't start": "service-wont-start",
    "001 high database CPU": "high-db-cpu",
    "001 high error rate": "high-error-rate",
    "001 high latency": "high-latency",
    "001 high memory": "high-memory",
    "001 rollback": "rollback",
    "001 deployment rollout check": "post-deployment-verification",
    "002 incident detection": "incident-detection",
    "002 initial assessment": "initial-assessment",
    "002 quick rollback / to a revision": "rollback",
    "002 PostgreSQL connection issues": "database-connection-issues",
    "002 high CPU": "high-cpu",
    "002 high memory": "high-memory",
    "002 slow response times": "high-latency",
    "002 unauthorized access": "unauthorized-access",
    "002 service down": "service-down",
    "002 HPA and scaling": "hpa-scaling-review",
    "002 error-rate alert": "high-error-rate",
    "002 latency alert": "high-latency",
    "003 health check of all endpoints": "health-check-endpoints",
    "003 high API latency": "high-latency",
    "003 rate-limit errors": "rate-limit-errors",
    "003 database pool exhausted": "database-connection-issues",
    "003 Redis connection failure": "redis-connection-failure",
    "003 queue backlog": "queue-backlog",
    "004 service unavailable": "service-down",
    "004 database connection issues": "database-connection-issues",
    "004 vacuum and analyze": "vacuum-analyze",
    "004 table sizes": "vacuum-analyze",
    "004 pre-deployment cluster health": "pre-deployment-checks",
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_all()


@pytest.fixture(scope="module")
def loaded(registry: Registry) -> Loaded:
    runbooks, problems = load_dir(RUNBOOKS, registry)
    return Loaded(runbooks, problems)


def test_every_file_loads_and_validates_against_the_real_handlers(loaded: Loaded) -> None:
    assert [str(p) for p in loaded.problems] == []
    assert len(loaded.runbooks) == len(runbook_files(RUNBOOKS))
    assert len(loaded.runbooks) >= 40


@pytest.mark.parametrize("path", runbook_files(RUNBOOKS), ids=lambda p: p.stem)
def test_each_file_on_its_own(path: Path, registry: Registry) -> None:
    rb = load_file(path, registry)
    assert rb.name == path.stem
    assert rb.source, "every runbook names the seed section it encodes"
    assert {s.file for s in rb.source} <= set(SEEDS)
    for step in rb.diagnostics + rb.resolution:
        if isinstance(step, HandlerStep):
            assert registry.get(step.handler) is not None


@pytest.mark.parametrize(("procedure", "name"), sorted(REQUIRED.items()))
def test_the_issues_procedures_are_encoded(loaded: Loaded, procedure: str, name: str) -> None:
    rb = loaded.runbooks.get(name)
    assert rb is not None, f"{procedure}: no runbook {name}"
    seed = procedure.split()[0]
    assert any(s.file.startswith(seed) for s in rb.source), f"{name} does not cite seed {seed}"


def test_every_seed_is_a_source(loaded: Loaded) -> None:
    cited = {s.file for rb in loaded.runbooks.values() for s in rb.source}
    assert cited == set(SEEDS)


def test_merged_procedures_keep_every_source(loaded: Loaded) -> None:
    latency = loaded.runbooks["high-latency"]
    assert {s.file[:3] for s in latency.source} == {"000", "001", "002", "003"}
    rollback = loaded.runbooks["rollback"]
    assert {(s.file[:3], s.section) for s in rollback.source} >= {
        ("002", "1. Quick Rollback (Last Known Good Version)"),
        ("002", "2. Specific Version Rollback"),
        ("004", "Quick Rollback"),
        ("004", "Specific Version Rollback"),
        ("001", "Rollback Procedure"),
    }


def test_steps_without_a_handler_stay_as_manual_text(loaded: Loaded) -> None:
    git = loaded.runbooks["git-rollback"]
    manual = [s for s in git.resolution if isinstance(s, ManualStep)]
    assert any(s.command and s.command.startswith("git log") for s in manual)
    infra = loaded.runbooks["infrastructure-rollback"]
    assert any(isinstance(s, ManualStep) and "terraform" in (s.command or "") for s in infra.resolution)
    predeploy = loaded.runbooks["pre-deployment-checks"]
    assert any(isinstance(s, ManualStep) and "argocd" in (s.command or "") for s in predeploy.diagnostics)
    assert sum(isinstance(s, ChecklistStep) for s in predeploy.diagnostics) >= 3


def test_destructive_fixes_are_resolution_steps_never_diagnostics(loaded: Loaded, registry: Registry) -> None:
    for rb in loaded.runbooks.values():
        for step in rb.handler_steps():
            spec = registry.get(step.handler)
            assert spec is not None
            assert not spec.destructive, f"{rb.name}: {step.id} changes things but is a diagnostic"


def test_seed_alert_thresholds_are_checks(loaded: Loaded) -> None:
    conns = loaded.runbooks["database-connection-issues"]
    rule = next(c for c in conns.checks if c.value == "used_pct")
    assert (rule.warn, rule.crit) == ("> 80", "> 95")  # seed 004: database connections 80% / 95%
    cpu = loaded.runbooks["high-db-cpu"]
    assert any(c.value == "count" for c in cpu.checks)


def test_the_example_config_schedules_name_real_runbooks(loaded: Loaded) -> None:
    env = {"MAIN_DATABASE_DSN": "postgresql://u@db/main", "CACHE_REDIS_URL": "redis://cache:6379/0"}
    config = load_config(ROOT / "chatops.example.yaml", env=env)
    assert schedule_problems(config, loaded, "chatops.example.yaml") == []
    names = {s.name: s for s in config.schedules}
    assert names["daily-health-check"].runbook == "daily-health-check"
    assert names["weekly-maintenance-window"].cron == "0 2 * * 0"
    assert names["oncall-handoff"].cron == "0 17 * * 5"
    for svc in config.services.values():
        for name in svc.runbooks:
            assert name in loaded.runbooks, f"chatops.example.yaml names runbook {name}"
