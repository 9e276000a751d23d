"""The seeds' metric thresholds in runbooks, judged on a real Prometheus through `/runbook run`."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import RunningBot
from tests.integration.prom.appstack import Stack, pbot, stack

__all__ = ["pbot", "stack"]  # fixtures


def texts(blocks: Any) -> str:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    out = []
    for b in blocks or []:
        if isinstance(b.get("text"), dict):
            out.append(b["text"].get("text", ""))
        out += [e.get("text", "") for e in b.get("elements", []) or [] if isinstance(e, dict)]
    return "\n".join(str(t) for t in out)


def run(bot: RunningBot, text: str) -> str:
    """`/runbook run …` in a channel; the progress message once its verdict shows."""
    before = len([c for c in bot.slack.calls if c.method == "chat.postMessage"])
    assert bot.client.command("/runbook", text).status_code == 200

    def finished() -> str | None:
        posts = [c for c in bot.slack.calls if c.method == "chat.postMessage"][before:]
        if not posts:
            return None
        updates = [c for c in bot.slack.calls if c.method == "chat.update"]
        last = texts(updates[-1].args["blocks"]) if updates else ""
        return last if "Verdict" in last else None

    done: str = bot.slack.wait_for(finished, timeout=40)
    return done


def test_six_percent_errors_is_critical(pbot: RunningBot, stack: Stack) -> None:
    last = run(pbot, f"run high-error-rate service=backend metrics_url={stack.exporter.url}")
    assert ":red_circle: *Error rate (Prometheus)* `prom.check` — crit" in last
    assert "error_rate = 6% (crit &gt; 5%)" in last  # the value and the threshold it crossed
    assert ":red_circle: *Verdict:* CRIT" in last


def test_one_percent_errors_is_ok(pbot: RunningBot, stack: Stack) -> None:
    last = run(pbot, f"run high-error-rate service=steady metrics_url={stack.exporter.url}")
    assert ":large_green_circle: *Error rate (Prometheus)* `prom.check` — ok" in last
    assert "error_rate = 1% (ok; warn &gt; 2% / crit &gt; 5%)" in last
    # The exporter's own metrics step ran against the real endpoint too.
    assert "*Error metrics* `health.metrics` — ok" in last


def test_a_service_without_the_metric_says_which_key_to_add_and_the_rest_runs(
    pbot: RunningBot, stack: Stack
) -> None:
    last = run(pbot, f"run high-error-rate service=bare metrics_url={stack.exporter.url}")
    assert ":large_yellow_circle: *Error rate (Prometheus)* `prom.check` — warn" in last
    assert "add `services.bare.metrics.error_rate` (its PromQL) to chatops.yaml" in last
    assert "*Error metrics* `health.metrics` — ok" in last  # the rest ran
    assert ":hourglass_flowing_sand:" not in last


def test_slo_check_judges_availability_error_rate_and_latency(pbot: RunningBot, stack: Stack) -> None:
    last = run(pbot, "run slo-check service=backend")
    assert "error_rate = 6% (crit &gt; 5%)" in last
    assert "latency_p95 = " in last
    # No availability metric configured: the step names the key.
    assert "add `services.backend.metrics.availability`" in last
