"""`chatops serve` as a subprocess (the real command), for the end-to-end and crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack import FakeSlack
from tests.promstack import free_port
from tests.support import BOT_TOKEN, SIGNING_SECRET


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def serve(slack: FakeSlack, workdir: Path, config: str, *, database_url: str) -> Served:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "chatops.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "CHATOPS_CONFIG": str(workdir / "chatops.yaml"),
            "DATABASE_URL": database_url,
        }
    )
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    served = Served(proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chatops serve exited early:\n{served.tail()}")
        try:
            if httpx.get(served.url + "/readyz", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    served.stop()
    pytest.fail(f"chatops serve did not become ready within 30 s:\n{served.tail()}")
