"""Benchmark: `/db activity` through the handler's warm pool vs `psql -c` as the seeds run it.

The seeds' runbooks start a new `psql` process (and a new connection) for every check. The
handler reuses a pooled connection. This runs the same `pg_stat_activity` query N times each
way and prints the medians and their ratio. Goal: handler time at most 0.2 of psql's.

    python bench/db_vs_psql.py [--dsn "host=127.0.0.1 user=postgres dbname=test"] [--runs 200]

Last figures (2 cores, PostgreSQL 15.20 on 127.0.0.1, 200 runs each):
    handler (warm pool): median 0.467 ms, p90 0.654 ms
    psql -c (new process): median 33.120 ms, p90 42.873 ms
    ratio 0.014 (goal <= 0.2: met)
"""

from __future__ import annotations

import argparse
import glob
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from handlers import Context, load_all
from handlers.db.sessions import ACTIVITY_SQL
from handlers.redact import redact


def psql_binary() -> str:
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1:]), None)
    if found is None:
        sys.exit("psql not found: install the PostgreSQL client")
    return found


def literal_sql(dsn: str) -> str:
    """The handler's query with its parameter rendered, so psql runs exactly the same SQL."""
    with psycopg.connect(dsn) as conn:
        return psycopg.ClientCursor(conn).mogrify(ACTIVITY_SQL, {"all": False})


def time_runs(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()

    pool: ConnectionPool[Any] = ConnectionPool(
        args.dsn, min_size=1, max_size=2, kwargs={"application_name": "chatops"}, open=True
    )
    pool.wait(timeout=10)
    spec = load_all(("handlers.db",)).get("db.activity")
    assert spec is not None
    ctx = Context(client=pool, timeout=5, options={"statement_timeout_ms": 5000}, target="bench")
    params = spec.params()
    sql = literal_sql(args.dsn)
    psql = psql_binary()
    command = [psql, args.dsn, "-X", "-q", "-A", "-t", "-c", sql]

    def via_handler() -> None:
        spec.fn(ctx, params)

    def via_psql() -> None:
        subprocess.run(command, check=True, capture_output=True, timeout=30)

    time_runs(via_handler, 10)  # warm the pool and the server's caches alike
    time_runs(via_psql, 3)
    handler_ms = time_runs(via_handler, args.runs)
    psql_ms = time_runs(via_psql, args.runs)
    pool.close()

    h, p = statistics.median(handler_ms), statistics.median(psql_ms)
    ratio = h / p
    print(f"target: {redact(args.dsn)}  runs: {args.runs} each")
    print(f"handler (warm pool, db.activity): median {h:8.3f} ms   p90 {_p90(handler_ms):8.3f} ms")
    print(f"psql -c (new process each time):  median {p:8.3f} ms   p90 {_p90(psql_ms):8.3f} ms")
    print(f"ratio handler/psql: {ratio:.3f}  (goal <= 0.2: {'met' if ratio <= 0.2 else 'NOT met'})")


def _p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1]


if __name__ == "__main__":
    main()
