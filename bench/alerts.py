"""Alert intake under a storm: two `chatops serve` replicas on one PostgreSQL, each post sent to both.

2,000 alerts in 100 Alertmanager webhook posts of 20 (one group each), 10 posts in flight at a
time, every post sent to both replicas (as an Alertmanager HA pair does), fake Slack at 20 ms a
call. The route declares an incident for every group. Prints the webhook's p50/p99 against a
bare handler that only parses the JSON and answers 200 (same run, same server settings), the
alerts stored, incidents and Slack messages per group, and the time until every group is in Slack.
Goals: p99 <= 50 ms and <= 3x bare; exactly 2,000 stored; one incident and one message per group;
every group in Slack within 30 s.

    python bench/alerts.py [--posts 100] [--per-post 20] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.alerts.tables import alert_groups, alert_occurrences  # noqa: E402
from bot.store.tables import incidents  # noqa: E402
from tests.conftest import drop_pg_database, make_pg_database  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.promstack import free_port  # noqa: E402
from tests.support import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

TOKEN = "bench-alerts-token-0123456789"
CONFIG = f"""
slack: {{incidents_channel: incidents, ops_channel: ops}}
alerts:
  token: {TOKEN}
  channel: ops
  routes:
    - {{matchers: ['severity="critical"'], declare: P2}}
"""


def payloads(posts: int, per_post: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for g in range(posts):
        alerts = []
        for i in range(per_post):
            labels = {
                "alertname": f"Bench{g}",
                "severity": "critical",
                "service": "backend",
                "instance": f"h{i}:80",
            }
            alerts.append(
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"bench group {g} alert {i}"},
                    "startsAt": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": f"{g:06d}{i:06d}abcd",
                }
            )
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Bench{g}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "chatops",
            "groupLabels": {"alertname": f"Bench{g}"},
            "commonLabels": {"alertname": f"Bench{g}", "severity": "critical", "service": "backend"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
        out.append(json.dumps(body).encode())
    return out


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: exited early:\n{log.read_text()[-3000:] if log.exists() else ''}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def send(targets: list[tuple[str, bytes]], concurrency: int) -> tuple[list[float], list[dict[str, Any]]]:
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=concurrency * 2))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def one(item: tuple[str, bytes]) -> tuple[float, dict[str, Any]]:
        url, body = item
        started = time.perf_counter()
        r = client.post(url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
        return elapsed, r.json()

    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, targets))
    client.close()
    return [t for t, _ in results], [j for _, j in results]


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=100)
    ap.add_argument("--per-post", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=10)
    args = ap.parse_args()
    bodies = payloads(args.posts, args.per_post)
    warm = payloads(args.posts + 5, args.per_post)[args.posts :]  # other groups, to warm up connections
    db_url = make_pg_database("chatops_bench_alerts")
    engine = create_engine(db_url)
    procs: list[subprocess.Popen[bytes]] = []
    with FakeSlack(latency=0.02) as slack, tempfile.TemporaryDirectory() as tmp:
        try:
            Path(tmp, "chatops.yaml").write_text(CONFIG)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))},
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "CHATOPS_CONFIG": f"{tmp}/chatops.yaml",
                "DATABASE_URL": db_url,
            }
            replicas = []
            for i in range(2):
                port = free_port()
                log = Path(tmp, f"replica{i}.log")
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
                        env=env,
                        cwd=tmp,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                procs.append(proc)
                wait_up(f"http://127.0.0.1:{port}/healthz", proc, log)
                replicas.append(f"http://127.0.0.1:{port}/alerts/alertmanager")
            bare_port = free_port()
            bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_webhook.py"), str(bare_port)])
            procs.append(bare)
            bare_url = f"http://127.0.0.1:{bare_port}/"
            wait_up(bare_url, bare, Path(tmp, "none"))

            send([(bare_url, b) for b in warm for _ in range(2)], args.concurrency)
            bare_t, _ = send([(bare_url, b) for b in bodies for _ in range(2)], args.concurrency)
            send([(url, b) for b in warm for url in replicas], args.concurrency)
            started = time.perf_counter()
            bot_t, answers = send([(url, b) for b in bodies for url in replicas], args.concurrency)
            sent = time.perf_counter() - started
            # Every group in Slack: its message posted (the store records its ts).
            names = [f"Bench{g}" for g in range(args.posts)]
            in_slack = None
            deadline = time.perf_counter() + 120
            while time.perf_counter() < deadline:
                texts = [
                    c.args.get("text", "")
                    for c in slack.calls_to("chat.postMessage")
                    if c.args.get("channel") == "#ops"
                ]
                if all(any(f") {n} " in t for t in texts) for n in names):
                    in_slack = time.perf_counter() - started
                    break
                time.sleep(0.05)
            time.sleep(3)  # let the incidents and message updates settle before counting
            messages = [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == "#ops"]
            per_group = {n: sum(1 for c in messages if f") {n} " in c.args.get("text", "")) for n in names}
            channels = [
                c for c in slack.calls_to("conversations.create") if "bench" in c.args.get("name", "")
            ]
            keys = [f'{{}}:{{alertname="{n}"}}' for n in names]
            with engine.connect() as conn:
                stored = conn.execute(
                    select(func.count())
                    .select_from(alert_occurrences.join(alert_groups))
                    .where(alert_groups.c.group_key.in_(keys))
                ).scalar_one()
                total_incidents = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
            engine.dispose()
            drop_pg_database(db_url)

    warm_groups = 5
    accepted = sum(a["accepted"] for a in answers)
    dups = sum(a["duplicates"] for a in answers)
    n_alerts = args.posts * args.per_post
    p50, p99, b50, b99 = pct(bot_t, 50), pct(bot_t, 99), pct(bare_t, 50), pct(bare_t, 99)
    print(
        f"{n_alerts} alerts in {args.posts} posts of {args.per_post}, each sent to both of 2 replicas "
        f"(PostgreSQL), {args.concurrency} at a time, fake Slack at 20 ms a call:"
    )
    print(f"  bare handler (parse JSON, 200)  p50 {b50 * 1000:6.1f} ms   p99 {b99 * 1000:6.1f} ms")
    print(f"  chatops /alerts/alertmanager    p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms")
    ok = p99 <= 0.050 and p99 <= 3 * b99
    print(
        f"  ratio p50 {p50 / b50:4.2f}  p99 {p99 / b99:4.2f}   "
        f"goal (p99 <= 50 ms and <= 3x bare): {'met' if ok else 'NOT met'}"
    )
    print(f"  answers: accepted {accepted}, duplicates {dups} (all {len(answers)} posts in {sent:.1f} s)")
    print(
        f"  alerts stored: {stored}   goal exactly {n_alerts}: {'met' if stored == n_alerts else 'NOT met'}"
    )
    inc = total_incidents - warm_groups
    one_msg = all(v == 1 for v in per_group.values())
    print(
        f"  incidents: {inc} for {args.posts} groups (channels created: {len(channels) - warm_groups}); "
        f"Slack messages: {sum(per_group.values())}, per group min {min(per_group.values())} "
        f"max {max(per_group.values())}   "
        f"goal one each: {'met' if inc == args.posts and one_msg else 'NOT met'}"
    )
    shown = f"{in_slack:.1f} s" if in_slack is not None else "not within 120 s"
    print(
        f"  every group in Slack after {shown}   "
        f"goal <= 30 s: {'met' if in_slack and in_slack <= 30 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
