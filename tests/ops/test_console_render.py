"""How the console shows Slack mrkdwn and typed results in a terminal."""

from __future__ import annotations

from rich.console import Console

from bot.console import parse_line
from bot.render.console import mrkdwn, result_renderable
from handlers.results import Check, Group, KeyValues, Logs, Status, Table, Text


def shown(renderable: object) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_mrkdwn_becomes_plain_readable_text() -> None:
    text = mrkdwn(
        ":warning: *Deploy* `backend` by <@U0ALICE> in <#C123|ops>, "
        "see <https://x.io/r|the runbook> &amp; more"
    )
    assert text.plain == "⚠ Deploy backend by @U0ALICE in #ops, see the runbook (https://x.io/r) & more"
    bold = [text.plain[s.start : s.end] for s in text.spans if s.style == "bold"]
    assert bold == ["Deploy"]


def test_code_keeps_stars_and_brackets_as_typed() -> None:
    assert mrkdwn("`SELECT * FROM t WHERE a = [1]`").plain == "SELECT * FROM t WHERE a = [1]"


def test_results_render_as_tables_and_coloured_checks() -> None:
    table = Table(
        title="Pods in prod", columns=["NAME", "STATUS"], rows=[["api-[1]", "Running"]], summary="1 pod"
    )
    out = shown(result_renderable(table))
    assert "Pods in prod" in out
    assert "api-[1]" in out  # not taken for rich markup
    assert "NAME" in out
    group = Group(
        title="Checks",
        parts=[
            Check(status=Status.CRIT, detail="disk *full*"),
            KeyValues(items=[("Version", "16.2")]),
            Logs(lines=["line [x]"], note="last 1 line"),
            Text(text="done"),
        ],
    )
    out = shown(result_renderable(group))
    for piece in ("✖ CRIT  disk full", "Version", "16.2", "line [x]", "last 1 line", "done"):
        assert piece in out


def test_lines_are_read_like_slash_commands() -> None:
    assert parse_line("/k8s pods -n prod") == ("/k8s", "pods -n prod")
    assert parse_line("db ping main") == ("/db", "ping main")
    assert parse_line("help") == ("/chatops", "help")
    assert parse_line("   ") is None
