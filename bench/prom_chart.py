"""Range query and chart render: 10 series × 1,000 points from a real Prometheus.

Backfills 10 series of 1,000 samples each (15 s apart, ending an hour ago) with
`promtool tsdb create-blocks-from openmetrics`, starts Prometheus on that data, then times the
bot's own code: `handlers.prom.query.query_range` (HTTP + JSON) and `bot.charts.render` of the
`/prom graph` chart (matplotlib → PNG, on the canvas bot.charts picks). Prints the medians of
7 runs after a warm-up, the first (cold) render, the PNG's size, and the goals: render ≤ 300 ms
and ≤ 3 × the query.

    python bench/prom_chart.py
"""

from __future__ import annotations

import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

SERIES = 10
POINTS = 1_000
STEP = 15.0
RUNS = 7


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backfill(workdir: Path, end: float) -> float:
    """Write the OpenMetrics file and build TSDB blocks from it; the first sample's time."""
    start = end - (POINTS - 1) * STEP
    lines = ["# HELP bench_latency_seconds p95 latency per route", "# TYPE bench_latency_seconds gauge"]
    for s in range(SERIES):
        for i in range(POINTS):
            value = 0.2 + 0.05 * s + 0.1 * math.sin(i / 25 + s)
            lines.append(f'bench_latency_seconds{{route="/api/r{s}"}} {value:.6f} {start + i * STEP:.0f}')
    lines.append("# EOF")
    source = workdir / "bench.om"
    source.write_text("\n".join(lines) + "\n")
    promtool = shutil.which("promtool") or sys.exit("promtool is missing: apt-get install prometheus")
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(workdir / "data")],
        check=True,
        capture_output=True,
    )
    return start


def start_prometheus(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus") or sys.exit("prometheus is missing: apt-get install prometheus")
    (workdir / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:  # noqa: S310 (loopback)
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    sys.exit(f"Prometheus did not become ready:\n{(workdir / 'prometheus.log').read_text()[-2000:]}")


def main() -> None:
    import httpx

    from bot import charts
    from bot.prometheus import PrometheusConfig, build_client
    from handlers import Context
    from handlers.figures import LineChart
    from handlers.prom.query import line_chart, query_range

    with tempfile.TemporaryDirectory(prefix="prom-bench-") as tmp:
        workdir = Path(tmp)
        end = (time.time() // STEP) * STEP - 3600
        start = backfill(workdir, end)
        proc, url = start_prometheus(workdir)
        try:
            client = build_client(PrometheusConfig(url=url))
            ctx: Context[httpx.Client] = Context(client=client, timeout=10.0, target="bench")
            expr = "bench_latency_seconds"

            def query() -> list[tuple[str, list[tuple[float, float]]]]:
                return query_range(ctx, expr, start, end, STEP)

            found = query()  # warm-up (and check)
            points = sum(len(p) for _, p in found)
            if len(found) != SERIES or points != SERIES * POINTS:
                sys.exit(f"expected {SERIES} × {POINTS} points, got {len(found)} series, {points} points")
            q_times = []
            for _ in range(RUNS):
                t = time.perf_counter()
                found = query()
                q_times.append(time.perf_counter() - t)
            chart = line_chart(expr, found, "seconds", since=timedelta(seconds=end - start), step=STEP)
            assert isinstance(chart, LineChart)
            t = time.perf_counter()
            png = charts.render(chart)
            cold = time.perf_counter() - t
            r_times = []
            for _ in range(RUNS):
                t = time.perf_counter()
                png = charts.render(chart)
                r_times.append(time.perf_counter() - t)
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    q, r = statistics.median(q_times), statistics.median(r_times)
    print(f"range query: {SERIES} series × {POINTS} points, median of {RUNS}: {q * 1000:.1f} ms")
    from bot.charts.style import canvas_of, figure

    canvas = type(canvas_of(figure((1.0, 1.0)))).__module__
    print(f"render (matplotlib → PNG on {canvas}), median of {RUNS}: {r * 1000:.1f} ms", end="")
    print(f" (first, cold: {cold * 1000:.0f} ms)")
    print(f"render / query: {r / q:.1f}×")
    print(f"PNG: {len(png):,} bytes")
    print(f"goal render ≤ 300 ms: {'met' if r <= 0.3 else 'NOT met'}; ", end="")
    print(f"render ≤ 3 × query: {'met' if r <= 3 * q else 'NOT met'}")


if __name__ == "__main__":
    main()
