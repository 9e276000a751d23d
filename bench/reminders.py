"""Status reminders at scale: 1,000 open incidents all due at once, two scheduler replicas.

Both replicas share one PostgreSQL (a throw-away database of their own) and tick at the same
moment; each has its own engine, WebClient and bounded posting pool, as two pods would. The
fake Slack API answers every call after `--latency` seconds. Printed: the time until every
reminder is posted, how many each replica posted, duplicates and misses.
Goal: every reminder within 60 s, zero duplicates.

    python bench/reminders.py [--incidents 1000] [--latency 0.02] [--workers 16] [--replicas 2]

Last figures (this machine, 1,000 incidents, 20 ms Slack, 16 posting workers a replica):
2 replicas: every reminder posted in 2.6–2.8 s, 500 + 500, 0 duplicates, 0 missing;
1 replica: 3.5 s. (Without the pool, one by one, it would be ~25 s of Slack latency alone.)
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import make_web_client  # noqa: E402
from bot.config import ChatopsConfig, Settings  # noqa: E402
from bot.incidents.deps import IncidentDeps  # noqa: E402
from bot.incidents.reminders import Reminders  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.incidents.seed import seed_due_incidents  # noqa: E402
from tests.support import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

PG_ADMIN = os.environ.get("CHATOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def create_database() -> str:
    name = f"chatops_bench_reminders_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def counting(reminders: Reminders, name: str, sent: dict[str, int]) -> Callable[[datetime], None]:
    def participant(now: datetime) -> None:
        sent[name] = reminders.run(now)

    return participant


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.02, help="seconds the fake Slack takes per call")
    ap.add_argument("--workers", type=int, default=16, help="posting threads per replica")
    ap.add_argument("--replicas", type=int, default=2)
    args = ap.parse_args()

    url = create_database()
    try:
        with FakeSlack(latency=args.latency) as slack:
            settings = Settings.model_validate(
                {
                    "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": slack.api_url,
                }
            )
            Store(url).upgrade()
            stores = [Store(url) for _ in range(args.replicas)]
            channels = seed_due_incidents(stores[0].engine, slack, args.incidents, due=NOW)
            replicas = []
            sent: dict[str, int] = {}
            for i, store in enumerate(stores):
                name = f"replica-{i + 1}"
                desk = IncidentDeps(store.engine, ChatopsConfig(), make_web_client(settings), lambda: NOW)
                reminders = Reminders(desk, workers=args.workers)
                scheduler = Scheduler(desk.clock)
                # The participant as the bot registers it, counting what this replica posted.
                scheduler.add("incident-reminders", counting(reminders, name, sent))
                replicas.append((name, scheduler, reminders))

            start = threading.Barrier(len(replicas) + 1)
            finished: dict[str, float] = {}

            def tick(name: str, scheduler: Scheduler) -> None:
                start.wait()
                scheduler.tick(NOW)
                finished[name] = time.perf_counter()

            threads = [threading.Thread(target=tick, args=(n, s)) for n, s, _ in replicas]
            for t in threads:
                t.start()
            start.wait()
            began = time.perf_counter()
            for t in threads:
                t.join()
            elapsed = max(finished.values()) - began

            posted = Counter(
                m["text"].split(" a status update for incident #")[1].split(" ")[0]
                for cid in channels.values()
                for m in slack.messages.get(cid, [])
                if "a status update for incident #" in m["text"]
            )
            duplicates = sum(n - 1 for n in posted.values() if n > 1)
            missing = args.incidents - len(posted)
            for _name, _scheduler, reminders in replicas:
                reminders.close()
            for store in stores:
                store.close()
    finally:
        drop_database(url)

    print(f"incidents due at once:       {args.incidents}")
    print(f"replicas x posting workers:  {args.replicas} x {args.workers}")
    print(f"fake Slack latency per call: {args.latency * 1000:.0f} ms")
    for name in sorted(finished):
        print(f"{name}: posted {sent.get(name, 0):4d}, tick done at {finished[name] - began:.2f} s")
    print(f"every reminder posted in:    {elapsed:.2f} s  (goal < 60 s)")
    print(f"reminders posted:            {sum(posted.values())}")
    print(f"duplicates:                  {duplicates}  (goal 0)")
    print(f"missing:                     {missing}")
    print(f"throughput:                  {sum(posted.values()) / elapsed:.0f} reminders/s")
    if duplicates or missing or elapsed >= 60:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
