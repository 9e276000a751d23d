"""Time-to-ack of `chatops serve` (HTTP mode) against a bare Bolt app that only acks.

Sends N signed slash commands (C at a time) to each server, in the same run, and prints p50
and p99 time-to-ack for both and their ratio. Goal: p99 ratio <= 1.5 and p99 < 100 ms. Also
prints how many whoami answers reached the fake Slack's response_url, and when the last did.

    python bench/ack.py [--requests 500] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import BOT_TOKEN, SIGNING_SECRET, command_body, sign  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            httpx.post(url, content=b"", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def measure(url: str, response_url: str, n: int, concurrency: int, text: str = "whoami") -> list[float]:
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=concurrency))

    def one(i: int) -> float:
        body = command_body("/chatops", text, user=f"U{i:08d}", response_url=response_url)
        headers = sign(body)
        started = time.perf_counter()
        r = client.post(url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code}")
        return elapsed

    for i in range(20):  # warm up connections and code paths
        one(i)
    with ThreadPoolExecutor(concurrency) as pool:
        times = list(pool.map(one, range(n)))
    client.close()
    return times


def responses(fake: subprocess.Popen[str]) -> int:
    """Messages the fake Slack has had on response_url so far."""
    assert fake.stdin is not None
    assert fake.stdout is not None
    fake.stdin.write("responses\n")
    fake.stdin.flush()
    return int(fake.stdout.readline())


def answers_after(fake: subprocess.Popen[str], expected: int, acked: float) -> tuple[int, float]:
    """Wait (up to 30 s) for `expected` answers; how many came, and how long after `acked`."""
    deadline = time.monotonic() + 30
    while (count := responses(fake)) < expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return count, time.monotonic() - acked


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args()

    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_slack_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    slack_url = fake.stdout.readline().strip()
    api_url, response_url = slack_url + "/api/", slack_url + "/response/"
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "serve.log", "w+") as log:
        bot_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
            "CHATOPS_CONFIG": f"{tmp}/chatops.yaml",
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
        }
        env.pop("SLACK_APP_TOKEN", None)
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(bot_port), "--host", "127.0.0.1"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare_bolt.py"), str(bare_port), SIGNING_SECRET, api_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            bot_url = f"http://127.0.0.1:{bot_port}/slack/events"
            bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
            wait_up(bot_url, bot)
            wait_up(bare_url, bare)
            c0 = cpu_seconds(bare.pid)
            bare_t = measure(bare_url, response_url + "bare", args.requests, args.concurrency)
            bare_cpu = cpu_seconds(bare.pid) - c0
            c0 = cpu_seconds(bot.pid)
            before = responses(fake)
            bot_t = measure(bot_url, response_url + "bot", args.requests, args.concurrency)
            answered, answers_s = answers_after(fake, before + 20 + args.requests, time.monotonic())
            answered -= before
            time.sleep(1)  # let the work after the acks finish, so its CPU is counted
            bot_cpu = cpu_seconds(bot.pid) - c0
            c0 = cpu_seconds(bot.pid)
            help_t = measure(bot_url, response_url + "help", args.requests, args.concurrency, "help")
            time.sleep(1)
            help_cpu = cpu_seconds(bot.pid) - c0
        except SystemExit:
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            for p in (bot, bare):
                p.terminate()
                p.wait(timeout=30)
            fake.communicate("", timeout=30)

    rows = [
        ("bare Bolt (ack only)", bare_t, bare_cpu),
        ("chatops: whoami", bot_t, bot_cpu),
        ("chatops: help", help_t, help_cpu),
    ]
    print(f"{args.requests} signed slash commands, {args.concurrency} at a time, time to ack:")
    print("  (whoami is answered after the ack, through response_url; help is answered in the ack)")
    for name, t, cpu in rows:
        print(
            f"  {name:22s} p50 {pct(t, 50) * 1000:7.1f} ms   p99 {pct(t, 99) * 1000:7.1f} ms"
            f"   server CPU {cpu * 1000 / len(t):5.2f} ms/request"
        )
    print(
        f"  whoami answers through response_url: {answered} of {20 + args.requests} "
        f"(with the warm-up), the last {answers_s * 1000:.0f} ms after the last ack"
    )
    for name, t in (("whoami", bot_t), ("help", help_t)):
        r50, r99 = pct(t, 50) / pct(bare_t, 50), pct(t, 99) / pct(bare_t, 99)
        met = "met" if r99 <= 1.5 and pct(t, 99) < 0.1 else "NOT met"
        print(
            f"  ratio {name:6s} / bare  p50 {r50:5.2f}   p99 {r99:5.2f}   "
            f"goal (p99 ratio <= 1.5 and p99 < 100 ms): {met}"
        )


if __name__ == "__main__":
    main()
