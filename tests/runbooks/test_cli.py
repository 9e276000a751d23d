"""`chatops runbook list|show|run|validate` as an operator runs them, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.store import Store
from bot.store.audit import latest
from tests.conftest import REDIS_URL
from tests.runbooks.fakehttp import SlowHealth

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
name: api-check
title: API check
source: [{file: 003_05504ad92690868b.txt, section: Health Check Endpoints}]
params:
  service: {type: service, default: api}
diagnostics:
  - {id: ping, title: Database answers, handler: db.ping, args: {service: "{{service}}"}}
  - {id: redis, title: Redis answers, handler: redis.ping, args: {service: "{{service}}"}}
  - {id: health, title: Health, handler: health.check, args: {service: "{{service}}"}}
  - {id: note, kind: manual, title: Note, text: Look at the dashboard., command: open https://grafana}
checks:
  - {step: health, value: latency_ms, warn: "> 10000"}
resolution:
  - {id: restart, title: Restart, handler: k8s.rollout_restart, args: {namespace: prod, deployment: api}}
"""


def chatops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environment(tmp_path: Path, config: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    (tmp_path / "chatops.yaml").write_text(config)
    env.update(
        {
            "CHATOPS_CONFIG": str(tmp_path / "chatops.yaml"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/state.db",
            "COLUMNS": "160",
        }
    )
    return env


def test_validate_checks_every_file_of_the_repository(tmp_path: Path) -> None:
    done = chatops("runbook", "validate", env=environment(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runbooks, all valid" in done.stdout


def test_validate_names_file_line_and_problem_and_fails(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "api-check.yaml").write_text(CHECK)
    (books / "bad.yaml").write_text(
        "name: bad\ntitle: Bad\ndiagnostics:\n  - {id: x, title: X, handler: k8s.pod}\n"
    )
    config = "schedules:\n  - {name: nightly, cron: '0 3 * * *', runbook: api-chek}\n"
    done = chatops("runbook", "validate", "--dir", str(books), env=environment(tmp_path, config))
    assert done.returncode == 1
    assert (
        f"{books}/bad.yaml:4: diagnostics[0] (x).handler: unknown handler 'k8s.pod' (did you mean k8s.pods?)"
        in (done.stdout)
    )
    assert "schedules.nightly.runbook: no runbook 'api-chek' (did you mean api-check?)" in done.stdout
    assert "1 runbooks valid, 1 file(s) not loaded" in done.stdout


def test_list_and_show(tmp_path: Path) -> None:
    env = environment(tmp_path)
    listed = chatops("runbook", "list", "database", env=env)
    assert listed.returncode == 0
    assert "database-connection-issues" in listed.stdout
    assert "high-db-cpu" in listed.stdout
    assert "frontend-page-load-failures" not in listed.stdout
    shown = chatops("runbook", "show", "high-db-cpu", env=env)
    assert shown.returncode == 0
    assert "High database CPU (high-db-cpu)" in shown.stdout
    assert "db.long_running" in shown.stdout
    assert "source 001_071ba6b587293d03.txt › Runbook: High Database CPU" in shown.stdout
    unknown = chatops("runbook", "show", "high-db-cp", env=env)
    assert unknown.returncode == 2
    assert "Did you mean: high-db-cpu," in unknown.stderr


def test_run_prints_the_results_and_exits_with_the_verdict(tmp_path: Path, pg_url: str) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "api-check.yaml").write_text(CHECK)
    with SlowHealth(delay=0.05) as web:
        config = f"""
databases: {{rb: {{dsn: "{pg_url}"}}}}
redis: {{cache: {{url: "{REDIS_URL}"}}}}
services: {{api: {{database: rb, redis: cache, health: ["{web.url}/health"]}}}}
health: {{allow_private: true}}  # the test server is on loopback
"""
        env = environment(tmp_path, config)
        done = chatops("runbook", "run", "api-check", "--dir", str(books), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert web.hits == ["/health"]
        assert "Verdict: OK — 3 ok" in done.stdout
        assert "database rb is up" in done.stdout
        assert "redis cache is up" in done.stdout
        assert "Look at the dashboard." in done.stdout
        # Resolution steps are shown as the commands that do them; nothing is changed from here.
        assert "Restart: /k8s rollout restart namespace=prod deployment=api" in done.stdout
        entries = latest(Store(env["DATABASE_URL"]).engine, handler_glob="db.ping")
        assert entries[0].command.startswith("chatops runbook run api-check")

        web.status = 503
        failed = chatops("runbook", "run", "api-check", "--dir", str(books), env=env)
        assert failed.returncode == 2, failed.stdout
        assert "Verdict: CRIT" in failed.stdout
        wrong = chatops("runbook", "run", "api-check", "service=web", "--dir", str(books), env=env)
        assert wrong.returncode == 3
        assert "service: unknown service 'web' (configured: api)" in wrong.stdout
