"""The engine: concurrent (bounded) diagnostics, timeouts, failures, checks, real targets."""

from __future__ import annotations

from typing import Any

from bot.config import ChatopsConfig, parse_config
from bot.runbooks.engine import Engine, Run, State, StepRun
from bot.runbooks.loader import parse
from bot.runbooks.model import Runbook
from bot.services import Clients
from handlers import Context, HandlerSpec, Registry
from tests.conftest import REDIS_URL
from tests.runbooks.conftest import Gate
from tests.runbooks.fakehttp import SlowHealth


def no_clients(_spec: HandlerSpec, _target: str | None) -> Context[Any]:
    return Context(client=None, timeout=10)


def load(text: str, registry: Registry) -> Runbook:
    return parse(text, "runbooks/t.yaml", registry)


def meet_steps(n: int, gate: str) -> str:
    return "\n".join(
        f"  - {{id: s{i}, title: Step {i}, handler: t.meet, args: {{gate: {gate}, value: {i}}}}}"
        for i in range(n)
    )


def test_diagnostics_run_at_the_same_time(registry: Registry, gates: dict[str, Gate]) -> None:
    gates["six"] = Gate(6)
    rb = load(f"name: t\ntitle: T\ndiagnostics:\n{meet_steps(6, 'six')}\n", registry)
    engine = Engine(registry=registry, config=ChatopsConfig(), contexts=no_clients, max_parallel=8)
    run = engine.run(rb, {})
    # Each step waits until all six are inside at once: sequential steps would have failed.
    assert [s.state for s in run.steps] == [State.OK] * 6, [s.error for s in run.steps]
    assert gates["six"].peak == 6
    assert run.verdict().text.startswith("OK — 6 ok")


def test_concurrency_is_bounded(registry: Registry, gates: dict[str, Gate]) -> None:
    gates["pairs"] = Gate(2)
    rb = load(f"name: t\ntitle: T\ndiagnostics:\n{meet_steps(6, 'pairs')}\n", registry)
    engine = Engine(registry=registry, config=ChatopsConfig(), contexts=no_clients, max_parallel=2)
    run = engine.run(rb, {})
    assert [s.state for s in run.steps] == [State.OK] * 6
    assert gates["pairs"].peak == 2


def test_a_failing_or_hanging_step_does_not_stop_the_others(
    registry: Registry, gates: dict[str, Gate]
) -> None:
    gates["g"] = Gate(2)
    gates["h"] = Gate(1)
    rb = load(
        """
name: t
title: T
diagnostics:
  - {id: a, title: A, handler: t.meet, args: {gate: g}}
  - {id: refused, title: Refused, handler: t.fail, args: {how: handler}}
  - {id: bug, title: Bug, handler: t.fail, args: {how: bug}}
  - {id: hang, title: Hang, handler: t.hang, args: {gate: h}, timeout: 300ms}
  - {id: b, title: B, handler: t.meet, args: {gate: g}}
""",
        registry,
    )
    seen: list[tuple[str, State]] = []
    engine = Engine(registry=registry, config=ChatopsConfig(), contexts=no_clients)
    run = engine.run(rb, {}, on_change=lambda _r, s: seen.append((s.step.id, s.state)))
    by_id = {s.step.id: s for s in run.steps}
    assert by_id["a"].state is State.OK
    assert by_id["b"].state is State.OK
    assert by_id["refused"].error == "database db-7 refused the connection"
    assert by_id["bug"].state is State.ERROR
    assert "RuntimeError: boom" in by_id["bug"].error
    assert "s3cret" not in by_id["bug"].error  # secrets never reach a message
    assert by_id["hang"].state is State.ERROR
    assert by_id["hang"].error == "t.hang did not finish within 0.3s"
    assert run.verdict().state is State.ERROR
    # Every step was reported running, then finished.
    for step_id in by_id:
        states = [st for sid, st in seen if sid == step_id]
        assert states[0] is State.RUNNING
        assert states[-1] in (State.OK, State.ERROR)


def test_checks_and_handler_judgements_make_the_verdict(registry: Registry, gates: dict[str, Gate]) -> None:
    gates["one"] = Gate(1)
    rb = load(
        """
name: t
title: T
params:
  limit: {type: int, default: 5}
diagnostics:
  - {id: low, title: Low, handler: t.meet, args: {gate: one, value: 3}}
  - {id: judged, title: Judged, handler: t.judge, args: {status: warn}}
  - {id: gone, title: Gone value, handler: t.judge}
  - {id: note, kind: manual, title: Note, text: "look at {{limit}}"}
checks:
  - {step: low, value: value, warn: "> 2", crit: "> {{limit}}"}
  - {step: gone, value: missing, crit: "> 0"}
""",
        registry,
    )
    engine = Engine(registry=registry, config=ChatopsConfig(), contexts=no_clients)
    run = engine.run(rb, {"limit": 5})
    by_id = {s.step.id: s for s in run.steps}
    assert by_id["low"].state is State.WARN
    assert by_id["low"].findings[0].text == "value = 3 (warn > 2)"
    assert engine.run(rb, {"limit": 2}).steps[0].state is State.CRIT
    assert by_id["judged"].state is State.WARN  # the handler's own Check
    assert by_id["gone"].state is State.WARN  # a check that could not judge
    assert by_id["note"].state is State.MANUAL
    assert run.manual_text("look at {{limit}}") == "look at 5"
    assert run.verdict().text.startswith("WARN — 3 warnings")


def test_a_step_refused_by_access_rules_is_an_error_and_never_runs(registry: Registry) -> None:
    rb = load("name: t\ntitle: T\ndiagnostics:\n  - {id: j, title: J, handler: t.judge}\n", registry)
    ran: list[str] = []
    engine = Engine(registry=registry, config=ChatopsConfig(), contexts=no_clients)
    run = engine.run(
        rb,
        {},
        authorize=lambda spec, _t: f"{spec.name} needs the operator role",
        on_done=lambda _r, s: ran.append(s.step.id),
    )
    assert run.steps[0].state is State.ERROR
    assert run.steps[0].error == "not allowed: t.judge needs the operator role"
    assert ran == []


def real_config(pg_url: str, health_url: str, *, broken_db: bool = False) -> ChatopsConfig:
    broken = "\n  down: {dsn: 'postgresql://nobody@127.0.0.1:1/none'}" if broken_db else ""
    return parse_config(
        f"""
databases:
  rb: {{dsn: "{pg_url}", default: true}}{broken}
redis:
  cache: {{url: "{REDIS_URL}"}}
services:
  api: {{database: rb, redis: cache, health: ["{health_url}/health"]}}
health: {{allow_private: true}}  # the test server is on loopback
limits: {{handler_timeout: 5s}}
"""
    )


RUNBOOK = """
name: real
title: Real targets
params:
  service: {type: service, default: api}
diagnostics:
  - {id: ping, title: Ping, handler: db.ping, args: {service: "{{service}}"}}
  - {id: conns, title: Connections, handler: db.connections, args: {service: "{{service}}"}}
  - {id: redis, title: Redis, handler: redis.ping, args: {service: "{{service}}"}}
  - {id: health, title: Health, handler: health.check, args: {service: "{{service}}"}}
  - {id: slow, title: Slow, handler: t.meet, args: {gate: real}}
checks:
  - {step: conns, value: used_pct, warn: "> 80", crit: "> 95"}
  - {step: health, value: latency_ms, warn: "> 5000"}
"""


def test_against_real_postgresql_redis_and_an_http_server(
    registry: Registry, gates: dict[str, Gate], pg_url: str
) -> None:
    gates["real"] = Gate(1)
    with SlowHealth(delay=0.05) as web:
        config = real_config(pg_url, web.url)
        clients = Clients(config)
        try:
            rb = load(RUNBOOK, registry)
            finished: list[StepRun] = []
            engine = Engine(registry=registry, config=config, contexts=clients.context)
            run: Run = engine.run(rb, {"service": "api"}, on_done=lambda _r, s: finished.append(s))
        finally:
            clients.close()
        assert web.hits == ["/health"]
    by_id = {s.step.id: s for s in run.steps}
    assert {k: s.state for k, s in by_id.items()} == dict.fromkeys(by_id, State.OK), {
        k: s.error for k, s in by_id.items()
    }
    assert by_id["ping"].target is not None
    assert by_id["ping"].target.database == "rb"  # filled from the service
    assert by_id["redis"].target is not None
    assert by_id["redis"].target.instance == "cache"
    assert by_id["conns"].findings[0].text.startswith("used_pct = ")
    assert by_id["health"].result is not None
    assert by_id["health"].result.values["checked"] == 1
    assert sorted(s.step.id for s in finished) == sorted(by_id)


def test_a_real_target_that_is_down_fails_alone(
    registry: Registry, gates: dict[str, Gate], pg_url: str
) -> None:
    gates["real"] = Gate(1)
    text = RUNBOOK.replace(
        'handler: db.ping, args: {service: "{{service}}"}', "handler: db.ping, args: {database: down}"
    )
    with SlowHealth() as web:
        config = real_config(pg_url, web.url, broken_db=True)
        clients = Clients(config)
        try:
            run = Engine(registry=registry, config=config, contexts=clients.context).run(
                load(text, registry), {"service": "api"}
            )
        finally:
            clients.close()
    by_id = {s.step.id: s for s in run.steps}
    assert by_id["ping"].state is State.ERROR
    assert "down" in by_id["ping"].error
    assert all(s.state is State.OK for k, s in by_id.items() if k != "ping")
