"""List and render 5,000 pods from the fake Kubernetes API server.

Prints the time to fetch (HTTP + the official client's deserialisation), to build the pods
table (STATUS derivation, sorting, counts) and to render it to Block Kit, and checks the
message stays within Slack's limits (50 blocks, 3,000 characters a text block) with the whole
table attached as a file. Goal: render under 200 ms.

    python bench/k8s_pods.py [--pods 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubernetes import config as k8s_config  # noqa: E402

from bot.render.slack import MAX_BLOCKS, TEXT_LIMIT, result_blocks  # noqa: E402
from handlers import Context, load_all  # noqa: E402
from handlers.k8s.pods import pods_table  # noqa: E402
from handlers.k8s.workloads import list_pods  # noqa: E402
from tests.fakes.k8s import FakeKube  # noqa: E402
from tests.fakes.k8s_builders import container, cstatus, make_pod, running, terminated, waiting  # noqa: E402

GOAL_RENDER_MS = 200.0


def fill(kube: FakeKube, n: int) -> None:
    """n pods in `prod`, one in ten unhealthy in some way, spread over 50 nodes."""
    spec = container("app", "registry.example.com/backend:1.2")
    states: list[Callable[[], tuple[dict[str, Any], bool, int]]] = [
        lambda: (running(), True, 0),
        lambda: (waiting("CrashLoopBackOff", "back-off"), False, 12),
        lambda: (waiting("ImagePullBackOff"), False, 0),
        lambda: (terminated("OOMKilled", 137), False, 3),
    ]
    for i in range(n):
        kind = 0 if i % 10 else 1 + (i // 10) % 3
        state, ready, restarts = states[kind]()
        kube.add(
            make_pod(
                f"backend-5d8f7c9b4-{i:05d}",
                "prod",
                labels={"app": "backend"},
                node=f"node-{i % 50}",
                age=timedelta(minutes=5 + i % 3000),
                containers=[(spec, cstatus(spec, state, ready=ready, restarts=restarts))],
            )
        )


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def check_limits(blocks: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (Slack allows {MAX_BLOCKS})")
    for i, block in enumerate(blocks):
        texts = [block.get("text") or {}, *(block.get("elements") or [])]
        for t in texts:
            if len(t.get("text", "")) > TEXT_LIMIT:
                problems.append(f"block {i} holds {len(t['text'])} characters (limit {TEXT_LIMIT})")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    load_all()
    with FakeKube() as kube, tempfile.TemporaryDirectory() as tmp:
        fill(kube, args.pods)
        path = kube.write_kubeconfig(Path(tmp) / "kubeconfig", context="prod")
        client = k8s_config.new_client_from_config(config_file=str(path), context="prod")
        ctx = Context(client=client, timeout=30, options={}, target="prod")
        fetch_ms, pods = timed(lambda: list_pods(ctx, "prod", None), args.repeat)
        table_ms, table = timed(lambda: pods_table(pods, title="Pods in prod on cluster prod"), args.repeat)
        render_ms, rendered = timed(lambda: result_blocks(table), args.repeat)
        client.close()
    blocks = rendered.as_dicts()
    problems = check_limits(blocks)
    size = len(json.dumps(blocks))
    print(f"pods: {len(pods)} ({table.values['unhealthy']} unhealthy), median of {args.repeat} runs")
    print(f"fetch (HTTP + client deserialisation): {fetch_ms:8.1f} ms")
    print(f"build table (status, sort, counts):    {table_ms:8.1f} ms")
    print(f"render to Block Kit:                   {render_ms:8.1f} ms  (goal < {GOAL_RENDER_MS:.0f} ms)")
    print(f"message: {len(blocks)} blocks, {size} bytes of JSON; rows left out: {rendered.omitted}")
    print(f"file attached: {'yes' if rendered.file else 'no'} ({len(rendered.file or '')} characters)")
    print("Slack limits: " + ("ok" if not problems else "; ".join(problems)))
    if problems or render_ms >= GOAL_RENDER_MS or not rendered.file:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
