"""Cold start of the `chatops` command, each figure against a baseline measured in the same run.

    python bench/startup.py [--runs 5]

Prints, as the median of --runs:
  - `python -c pass`                 the interpreter alone (baseline for the CLI figures);
  - `chatops --help`                 (goal <= 0.3 s);
  - `chatops console -c "/db ping"`  against the local PostgreSQL (goal <= 1.0 s);
  - a bare Bolt app (bench/bare_bolt.py): time until its port answers, and its RSS;
  - `chatops serve` (HTTP mode): time until /readyz answers 200 (goal <= 1.0 s), and its RSS
    then, before any Kubernetes command (goal <= 100 MiB).
The commands run from an empty temporary directory, as an installed bot would.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import ChatopsConfig  # noqa: E402
from tests.support import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

PG = os.environ.get("CHATOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_run(argv: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def time_until_up(
    argv: list[str], env: dict[str, str], cwd: str, probe: Callable[[], bool]
) -> tuple[float, float]:
    """Seconds from spawn until `probe()` is true, and the process's RSS (MiB) at that moment."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = started + 30
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"{argv} exited early with {proc.returncode}:\n{err[-3000:]}")
            if probe():
                return time.perf_counter() - started, rss_mib(proc.pid)
            time.sleep(0.01)
        raise SystemExit(f"{argv} did not come up in 30 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def answers(url: str, want: int | None = None) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            r = httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            return False
        return want is None or r.status_code == want

    return probe


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    fake = subprocess.Popen(
        [py, str(ROOT / "bench" / "fake_slack_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    api_url = fake.stdout.readline().strip() + "/api/"
    user = getpass.getuser()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "chatops.yaml"
        text = f"databases:\n  main: {{dsn: '{PG}'}}\n"
        if "console" in ChatopsConfig.model_fields:  # the OS account -> Slack user id map
            text += f"console:\n  users: {{{user}: U0BENCH01}}\n"
        config.write_text(text)
        run_dir = Path(tmp) / "empty"
        run_dir.mkdir()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
            "CHATOPS_CONFIG": str(config),
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "CHATOPS_USER": "U0BENCH01",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("SLACK_APP_TOKEN", None)
        cwd = str(run_dir)
        timed_run([py, "-m", "bot", "db", "upgrade"], env, cwd)  # migrations are not what we time
        rows: dict[str, list[float]] = {k: [] for k in ("pass", "help", "console", "bare", "serve")}
        rss: dict[str, list[float]] = {"bare": [], "serve": []}
        for _ in range(args.runs):
            rows["pass"].append(timed_run([py, "-c", "pass"], env, cwd))
            rows["help"].append(timed_run([py, "-m", "bot", "--help"], env, cwd))
            rows["console"].append(timed_run([py, "-m", "bot", "console", "-c", "/db ping"], env, cwd))
            port = free_port()
            t, m = time_until_up(
                [py, str(ROOT / "bench" / "bare_bolt.py"), str(port), SIGNING_SECRET, api_url],
                env,
                cwd,
                answers(f"http://127.0.0.1:{port}/slack/events"),
            )
            rows["bare"].append(t)
            rss["bare"].append(m)
            port = free_port()
            t, m = time_until_up(
                [py, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env,
                cwd,
                answers(f"http://127.0.0.1:{port}/readyz", 200),
            )
            rows["serve"].append(t)
            rss["serve"].append(m)
    fake.communicate("", timeout=30)

    base, bare = median(rows["pass"]), median(rows["bare"])
    bare_rss = median(rss["bare"])
    print(f"cold start, median of {args.runs} runs (from an empty directory):")
    print(f"  python -c pass                      {base:6.2f} s")
    for key, label, goal in (
        ("help", "chatops --help", 0.3),
        ("console", 'chatops console -c "/db ping"', 1.0),
    ):
        v = median(rows[key])
        met = "met" if v <= goal else "NOT met"
        print(f"  {label:34s}  {v:6.2f} s  ({v / base:4.1f}x python -c pass; goal <= {goal} s: {met})")
    print(f"  bare Bolt app, port answers        {bare:6.2f} s  RSS {bare_rss:6.1f} MiB")
    serve, serve_rss = median(rows["serve"]), median(rss["serve"])
    print(
        f"  chatops serve, /readyz 200         {serve:6.2f} s  RSS {serve_rss:6.1f} MiB"
        f"  ({serve / bare:4.1f}x / {serve_rss / bare_rss:4.1f}x the bare app;"
        f" goal <= 1.0 s: {'met' if serve <= 1.0 else 'NOT met'},"
        f" <= 100 MiB: {'met' if serve_rss <= 100 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
