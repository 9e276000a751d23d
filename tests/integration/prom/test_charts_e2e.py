"""Charts beside other answers: the post-mortem's timeline over the service's metrics, /k8s top."""

from __future__ import annotations

from pathlib import Path

from bot.charts.bars import LIMIT_COLOUR
from bot.charts.style import PALETTE
from bot.charts.timeline import KIND_COLOUR
from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import populate
from tests.fakes.slack import FakeSlack
from tests.integration.prom.appstack import Stack, pbot, stack, wait_uploads
from tests.pngcheck import has_colour, png_size_and_colours
from tests.support import message_text

__all__ = ["pbot", "stack"]  # fixtures


def incident(bot: RunningBot, text: str, channel: str = "C00000001") -> str:
    before = len(bot.slack.responses)
    assert bot.client.command("/incident", text, channel=channel).status_code == 200
    return message_text(bot.slack.wait_responses(before + 1, timeout=20)[before])


def test_postmortem_has_a_timeline_chart_over_error_rate_and_latency(pbot: RunningBot, stack: Stack) -> None:
    incident(pbot, "declare P1 Checkout errors --service backend")
    channel = pbot.slack.wait_for(
        lambda: [c.id for c in pbot.slack.channels.values() if c.name.startswith("incident-")]
    )[0]
    incident(pbot, "update Rolled back the release", channel=channel)
    incident(pbot, "status monitoring", channel=channel)
    incident(pbot, "resolve Rollback fixed it", channel=channel)
    said = incident(pbot, "postmortem", channel=channel)
    assert "The timeline chart is beside it." in said
    [md] = wait_uploads(pbot.slack, "-postmortem.md")
    assert md.decode().startswith("# Incident Report: #1")
    [png] = wait_uploads(pbot.slack, ".png")
    (width, height), colours = png_size_and_colours(png)
    assert width == 800
    assert height >= 600  # the timeline and two metric panels
    for kind in ("declared", "update", "mitigated", "resolved"):
        assert has_colour(colours, KIND_COLOUR[kind]), kind
    assert has_colour(colours, PALETTE[0])  # the metrics' lines


def test_postmortem_without_metrics_says_which_keys_to_add(pbot: RunningBot) -> None:
    incident(pbot, "declare P2 Slow pages --service bare")
    said = incident(pbot, "postmortem 1")
    assert "add `services.bare.metrics.error_rate` and `latency_p95`" in said
    [png] = wait_uploads(pbot.slack, ".png")
    assert png_size_and_colours(png)[0][0] == 800


def test_k8s_top_has_bars_beside_the_table(fake_slack: FakeSlack, tmp_path: Path) -> None:
    with FakeKube() as kube:
        populate(kube)
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
        bot = start_bot(
            fake_slack, tmp_path, f'clusters: {{prod: {{context: prod, kubeconfig: "{kubeconfig}"}}}}'
        )
        try:
            assert bot.client.command("/k8s", "top pods -n prod").status_code == 200
            [table] = fake_slack.wait_responses(1)
            assert "MEMORY/LIMIT" in message_text(table)
            [png] = wait_uploads(fake_slack, ".png")
            (width, _), colours = png_size_and_colours(png)
            assert width == 800
            assert has_colour(colours, PALETTE[0])  # use
            assert has_colour(colours, LIMIT_COLOUR)  # limits
        finally:
            stop_bot(bot)
