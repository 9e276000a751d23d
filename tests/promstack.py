"""Real Prometheus and Alertmanager for tests, plus a small exporter whose values a test sets.

Both binaries come from Debian (`apt-get install prometheus prometheus-alertmanager`; `.ci/run`
installs them when missing). Each instance runs on a free loopback port with its own data
directory, scrapes and evaluates every second, and is stopped when the test ends. A binary that
is missing or an instance that does not become ready fails the test and names it, with the end
of its log: nothing is skipped.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
READY_TIMEOUT = 30.0  # seconds for an instance to answer /-/ready


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback test servers)
        return json.loads(resp.read())


def _binary(path: str, package: str) -> str:
    found = shutil.which(path)
    if found is None:
        pytest.fail(f"{path} is missing: install Debian's {package} package (.ci/run does)")
    return found


class _Process:
    """A server process on a loopback port, its log kept for failure messages."""

    name = "server"

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_ready()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"{self.name} on {self.url} was not ready after {READY_TIMEOUT:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log_file.close()


class Prometheus(_Process):
    """Prometheus 2.x scraping `targets` every second and evaluating `rules` every second."""

    name = "Prometheus"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result list (vector); raises with Prometheus's error when it fails."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            body = _get_json(url)
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"Prometheus refused {expr!r}: {exc.read().decode(errors='replace')}"
            ) from exc
        result = body["data"]["result"]
        return list(result) if isinstance(result, list) else [{"value": result}]

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Poll an instant query until `predicate(result)` holds; fail naming the last result."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if predicate(result):
                return result
            time.sleep(0.25)
        pytest.fail(f"Prometheus: {expr!r} did not match within {timeout:.0f} s; last result {result}")

    def wait_scraped(self, target: str, timeout: float = 30.0) -> None:
        """Wait until `target` (host:port) has been scraped successfully at least once."""
        self.wait_for(f'up{{instance="{target}"}} == 1', timeout=timeout)

    def alerts(self) -> list[dict[str, Any]]:
        """Prometheus's own view of its alerts (pending and firing)."""
        return list(_get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"])


class Alertmanager(_Process):
    """Alertmanager 0.25 without clustering, grouping and resending every second."""

    name = "Alertmanager"

    def alerts(self) -> list[dict[str, Any]]:
        return list(_get_json(f"{self.url}/api/v2/alerts"))

    def silences(self) -> list[dict[str, Any]]:
        return list(_get_json(f"{self.url}/api/v2/silences"))

    def active_silences(self) -> list[dict[str, Any]]:
        return [s for s in self.silences() if s.get("status", {}).get("state") == "active"]


class Exporter:
    """A /metrics endpoint on a free port with its own registry; tests create metrics and set them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.port = free_port()
        self._server, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self.target = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.target}/metrics"

    def counter(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> Counter:
        return Counter(name, doc, labelnames, registry=self.registry)

    def gauge(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> Gauge:
        return Gauge(name, doc, labelnames, registry=self.registry)

    def histogram(
        self,
        name: str,
        doc: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
    ) -> Histogram:
        return Histogram(name, doc, labelnames, buckets=buckets, registry=self.registry)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def prometheus_config(
    targets: Sequence[str], *, rule_file: str | None, alertmanager: str | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": "test", "static_configs": [{"targets": list(targets)}]}],
    }
    if rule_file:
        config["rule_files"] = [rule_file]
    if alertmanager:
        target = alertmanager.removeprefix("http://").removeprefix("https://").rstrip("/")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    return config


def start_prometheus_in(
    workdir: Path,
    targets: Sequence[str],
    *,
    rules: str | dict[str, Any] | None = None,
    alertmanager: str | None = None,
) -> Prometheus:
    """Start Prometheus in `workdir`. `rules` is a rule file (YAML text or its dict)."""
    binary = _binary(PROMETHEUS_BIN, "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    rule_file = None
    if rules is not None:
        rule_path = workdir / "rules.yml"
        rule_path.write_text(rules if isinstance(rules, str) else yaml.safe_dump(rules))
        rule_file = str(rule_path)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(
        yaml.safe_dump(prometheus_config(targets, rule_file=rule_file, alertmanager=alertmanager))
    )
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Resolved and firing alerts reach Alertmanager within a second, not a minute.
        "--rules.alert.resend-delay=1s",
        "--web.enable-lifecycle",
    ]
    return Prometheus(argv, port, workdir / "prometheus.log")


def alertmanager_config(
    webhook_url: str,
    *,
    bearer_token: str | None,
    group_by: Sequence[str],
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
) -> dict[str, Any]:
    webhook: dict[str, Any] = {"url": webhook_url, "send_resolved": True}
    if bearer_token is not None:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": bearer_token}}
    return {
        "route": {
            "receiver": "chatops",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": "chatops", "webhook_configs": [webhook]}],
    }


def start_alertmanager_in(
    workdir: Path,
    webhook_url: str,
    *,
    bearer_token: str | None = None,
    group_by: Sequence[str] = ("alertname", "service"),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> Alertmanager:
    """Start Alertmanager in `workdir`, sending every group to `webhook_url` (resolved too)."""
    binary = _binary(ALERTMANAGER_BIN, "prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(
        yaml.safe_dump(
            alertmanager_config(
                webhook_url,
                bearer_token=bearer_token,
                group_by=group_by,
                group_wait=group_wait,
                group_interval=group_interval,
                repeat_interval=repeat_interval,
            )
        )
    )
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance, no peers
    ]
    return Alertmanager(argv, port, workdir / "alertmanager.log")
