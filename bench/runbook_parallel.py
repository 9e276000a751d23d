"""Runbook diagnostics run in parallel: a 6-step runbook against servers that answer in ~200 ms.

Each step is the real `health.check` handler hitting its own local HTTP server that answers
after `--delay` seconds. Prints the whole run's time against the slowest single step and
against the sum of the steps (what running them one after another costs), for the engine
alone and with the live Slack progress message (chat.postMessage / chat.update / thread
replies against the fake Slack API). Goal: run time <= 1.3 x the slowest step.

    python bench/runbook_parallel.py [--steps 6] [--delay 0.2] [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import ChatopsConfig, parse_config  # noqa: E402
from bot.runbooks.engine import Engine, Run, State  # noqa: E402
from bot.runbooks.loader import load_file  # noqa: E402
from bot.runbooks.model import Runbook  # noqa: E402
from bot.runbooks.progress import SlackProgress, View  # noqa: E402
from bot.services import Clients  # noqa: E402
from handlers import Registry, load_all  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.runbooks.fakehttp import SlowHealth  # noqa: E402


def write_runbook(directory: Path, urls: list[str]) -> Path:
    steps = "\n".join(
        f"  - {{id: s{i}, title: Endpoint {i}, handler: health.check, timeout: 5s,\n"
        f'      args: {{urls: ["{url}/health"]}}}}'
        for i, url in enumerate(urls)
    )
    path = directory / "parallel.yaml"
    path.write_text(f"name: parallel\ntitle: Parallel endpoints\ndiagnostics:\n{steps}\n")
    return path


def one_step(rb: Runbook, index: int) -> Runbook:
    return rb.model_copy(update={"diagnostics": [rb.diagnostics[index]]})


def timed(fn: Callable[[], Run]) -> tuple[float, Run]:
    started = time.perf_counter()
    run = fn()
    return time.perf_counter() - started, run


def check(run: Run) -> None:
    bad = [f"{s.step.id}: {s.state} {s.error}" for s in run.steps if s.state is not State.OK]
    if bad:
        raise SystemExit("a step did not come out ok: " + "; ".join(bad))


def with_slack(engine: Engine, rb: Runbook, config: ChatopsConfig, slack_url: str) -> Callable[[], Run]:
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-bench", base_url=slack_url, timeout=10)

    def go() -> Run:
        run = engine.plan(rb, {})
        sink = SlackProgress(client, "C00000001", View(config, started_by="U0BENCH"))
        if not sink.start(run):
            raise SystemExit(f"progress message not posted: {sink.error}")
        engine.execute(run, on_change=sink.changed)
        sink.finish(run)
        return run

    return go


def report(label: str, times: list[float], slowest: float, total: float) -> float:
    med = statistics.median(times)
    worst = max(times)
    print(
        f"{label:<26} median {med * 1000:7.1f} ms  max {worst * 1000:7.1f} ms  "
        f"= {med / slowest:4.2f}x slowest step, {med / total:4.2f}x the sum"
    )
    return med / slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each server takes to answer")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    registry: Registry = load_all()
    config = parse_config("limits: {handler_timeout: 10s}")
    servers = [SlowHealth(delay=args.delay) for _ in range(args.steps)]
    for s in servers:
        s.__enter__()
    clients = Clients(config)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rb = load_file(write_runbook(Path(tmp), [s.url for s in servers]), registry)
        engine = Engine(registry=registry, config=config, contexts=clients.context, max_parallel=8)
        # Warm up: the HTTP client's connections, imports, the thread pool.
        check(engine.run(rb, {}))

        singles: list[float] = []
        for i in range(args.steps):
            best = min(timed(lambda i=i: engine.run(one_step(rb, i), {}))[0] for _ in range(3))  # type: ignore[misc]
            singles.append(best)
        slowest, total = max(singles), sum(singles)
        sequential = Engine(registry=registry, config=config, contexts=clients.context, max_parallel=1)
        seq_time, seq_run = timed(lambda: sequential.run(rb, {}))
        check(seq_run)

        parallel: list[float] = []
        for _ in range(args.runs):
            elapsed, run = timed(lambda: engine.run(rb, {}))
            check(run)
            parallel.append(elapsed)

        with FakeSlack() as slack:
            go = with_slack(engine, rb, config, slack.api_url)
            check(go())  # warm the Slack client
            live: list[float] = []
            for _ in range(args.runs):
                elapsed, run = timed(go)
                check(run)
                live.append(elapsed)
            updates = len(slack.calls_to("chat.update")) / (args.runs + 1)
            replies = sum(1 for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")) / (
                args.runs + 1
            )
    finally:
        clients.close()
        for s in servers:
            s.__exit__(None, None, None)

    print(
        f"{args.steps} diagnostic steps (health.check), each server answering in {args.delay * 1000:.0f} ms"
    )
    print(f"single steps: slowest {slowest * 1000:.1f} ms, sum {total * 1000:.1f} ms")
    print(f"{'one after another':<26} {seq_time * 1000:7.1f} ms  = {seq_time / slowest:4.2f}x slowest step")
    ratio = report("parallel (engine)", parallel, slowest, total)
    live_ratio = report("parallel + Slack progress", live, slowest, total)
    print(f"Slack progress per run: {updates:.1f} chat.update, {replies:.1f} thread replies")
    goal: Any = max(ratio, live_ratio) <= 1.3
    print(f"goal <= 1.3x slowest step: {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
