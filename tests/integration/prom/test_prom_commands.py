"""/prom through the bot's real endpoint (signed requests, fake Slack) against a real Prometheus."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.charts.style import PALETTE
from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.integration.prom.appstack import (
    QUEUES,
    Stack,
    bot_config,
    has_colour,
    pbot,
    png_size_and_colours,
    stack,
    wait_uploads,
)
from tests.promstack import Exporter, Prometheus, free_port
from tests.support import message_text

__all__ = ["pbot", "stack"]  # fixtures


def answer(bot: RunningBot, text: str) -> dict[str, object]:
    before = len(bot.slack.responses)
    assert bot.client.command("/prom", text).status_code == 200
    return bot.slack.wait_responses(before + 1, timeout=20)[before]


def test_query_keeps_promql_quotes_and_answers_a_table(pbot: RunningBot) -> None:
    reply = answer(pbot, 'query sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) > 0')
    text = message_text(reply)
    assert reply["response_type"] == "in_channel"
    assert "2 series (highest first)" in text
    assert 'service="backend"' in text.replace("&quot;", '"')
    assert text.index("backend") < text.index("steady")  # 6/s… before 1/s…


def test_query_with_slack_escaped_comparison(pbot: RunningBot) -> None:
    # Slack sends `<` as `&lt;`: the query still compares.
    reply = answer(pbot, 'query queue_depth{queue=~"q0.*"} &lt; 35')
    text = message_text(reply)
    assert "3 series" in text
    assert "q03" not in text


def test_bad_promql_answers_with_prometheus_error_and_its_position(pbot: RunningBot) -> None:
    reply = answer(pbot, "query sum(rate(http_requests_total[5m])")
    text = message_text(reply)
    assert reply["response_type"] == "ephemeral"
    assert "rejected the query" in text
    assert "1:" in text
    assert "parse error" in text


def test_graph_uploads_a_png_and_names_every_series(pbot: RunningBot) -> None:
    reply = answer(pbot, "graph queue_depth --since 10m")
    text = message_text(reply)
    assert f"{QUEUES} series over the last 10m" in text
    assert f"the 10 highest drawn, {QUEUES - 10} more named in the table" in text
    assert "q11" in text
    assert "q00" in text
    rows = [line for line in text.splitlines() if "q00" in line or "q01" in line]
    assert rows
    assert all(line.rstrip().endswith("no") for line in rows)
    [png] = wait_uploads(pbot.slack, ".png")
    (width, height), colours = png_size_and_colours(png)
    assert width == 800
    assert 420 <= height <= 700
    for colour in PALETTE[:10]:
        assert has_colour(colours, colour), f"series colour {colour} not drawn"


def test_graph_raises_the_step_to_stay_under_11000_points(pbot: RunningBot) -> None:
    # 4 h at 1 s would be 14,401 points a series.
    reply = answer(pbot, "graph queue_depth --since 4h --step 1s")
    text = message_text(reply)
    assert "a point every 2 s" in text
    assert "step raised to 2 s: Prometheus allows at most 11,000 points" in text


def test_service_metric_is_judged_and_charted(pbot: RunningBot) -> None:
    crit = message_text(answer(pbot, "backend error_rate"))
    assert ":red_circle:" in crit
    assert "error_rate = 6% (crit &gt; 5%)" in crit
    ok = message_text(answer(pbot, "steady error_rate"))
    assert ":large_green_circle:" in ok
    assert "error_rate = 1% (ok; warn &gt; 2% / crit &gt; 5%)" in ok
    # Slack sends `>` as `&gt;`.
    slow = message_text(answer(pbot, "backend latency_p95 --warn '&gt; 250ms'"))
    assert "latency_p95 = " in slow
    assert "(warn &gt; 250ms)" in slow
    pngs = wait_uploads(pbot.slack, ".png", count=3)
    (width, _height), colours = png_size_and_colours(pngs[0])
    assert width == 600  # the small chart
    assert has_colour(colours, PALETTE[0])
    assert has_colour(colours, "#d62728")  # the crit threshold line
    missing = message_text(answer(pbot, "bare error_rate"))
    assert "add `services.bare.metrics.error_rate` (its PromQL) to chatops.yaml" in missing


def test_alerts_and_targets(pbot: RunningBot, stack: Stack) -> None:
    alerts = message_text(answer(pbot, "alerts"))
    assert "1 firing, 1 pending" in alerts
    assert alerts.index("HighErrorRate") < alerts.index("SlowBurn")
    targets = message_text(answer(pbot, "targets"))
    assert "1 of 2 scrape targets down" in targets
    assert stack.dead in targets
    assert "connection refused" in targets


def test_ten_thousand_series_show_the_first_rows_and_the_whole_as_a_file(
    fake_slack: FakeSlack, tmp_path: Path, exporter: Exporter, start_prometheus: object
) -> None:
    many = exporter.gauge("many_series", "one per id", ["id"])
    for i in range(10_000):
        many.labels(f"{i:05d}").set(i)
    prom: Prometheus = start_prometheus([exporter.target])  # type: ignore[operator]
    prom.wait_for("count(many_series) == 10000")
    bot = start_bot(fake_slack, tmp_path, bot_config(prom.url))
    try:
        text = message_text(answer(bot, "query many_series"))
        assert "10,000 series (highest first)" in text
        assert 'id="09999"' in text.replace("&quot;", '"')  # the highest first
        assert "not shown here; the whole output is attached as a file" in text
        [whole] = wait_uploads(fake_slack, ".txt")
        assert whole.decode().count("many_series{") == 10_000
    finally:
        stop_bot(bot)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    worker = threading.Thread(target=accept, daemon=True)
    worker.start()
    yield int(srv.getsockname()[1])
    stop.set()
    worker.join(2)
    for conn in held:
        conn.close()
    srv.close()


def test_prometheus_down_or_slow_is_named_within_its_timeout(
    fake_slack: FakeSlack, tmp_path: Path, silent_port: int
) -> None:
    closed = free_port()
    config = f"""
prometheus:
  down: {{url: "http://127.0.0.1:{closed}", default: true, timeout: 1s}}
  slow: {{url: "http://127.0.0.1:{silent_port}", timeout: 1s}}
"""
    bot = start_bot(fake_slack, tmp_path, config)
    try:
        down = message_text(answer(bot, "query up"))
        assert f"Prometheus down at http://127.0.0.1:{closed} is not answering: connection refused" in down
        slow = message_text(answer(bot, "alerts -p slow"))
        assert (
            f"Prometheus slow at http://127.0.0.1:{silent_port} is not answering: no answer within 1 s"
            in slow
        )
    finally:
        stop_bot(bot)
