"""Issue 12, item 5: every command goes through the access rules, not only handlers.

Through the signed endpoint: a chat member who is neither the incident's commander, one of
its role holders nor an operator cannot resolve it, change its severity, give out roles or
post a public update (by command, button or form); rules narrow declare per severity,
`/runbook run` and the rest; `/chatops audit` answers operators only, ephemerally.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.slack.ids import ActionId, CallbackId
from bot.store.audit import latest
from tests.conftest import stop_bot
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import (
    CONFIG,
    Clock,
    Harness,
    input_select,
    input_text,
    start_incident_bot,
    texts,
    view_submission,
)

ACCESS = """
access:
  operators: [U0OPS]
  rules:
    - {handlers: ["incident.declare", "incident.severity"], severities: [P0], need: operators}
    - {handlers: ["runbook.run"], need: operators}
"""


@pytest.fixture
def guarded(fake_slack: FakeSlack, tmp_path: Path, clock: Clock) -> Iterator[Harness]:
    running = start_incident_bot(fake_slack, tmp_path, clock, config=CONFIG + ACCESS)
    yield Harness(running, fake_slack, clock)
    stop_bot(running)


def test_a_bystander_cannot_resolve_reclassify_reassign_or_publish(guarded: Harness) -> None:
    inc = guarded.declare("P2 Checkout errors")  # by U0ALICE: she is the commander
    for text in (
        f"resolve #{inc.id} nothing to see",
        f"severity {inc.id} P3",
        f"assign {inc.id} commander <@U0MALLORY>",
        f"update #{inc.id} --public All fixed, go home",
    ):
        [answer] = guarded.command(text, user="U0MALLORY")
        shown = texts(answer)
        assert ":no_entry:" in shown, text
        assert "its commander, one of its role holders, or the operator role (access.operators)" in shown
    after = guarded.incident(inc.id)
    assert after.is_open
    assert (after.severity, after.commander) == ("P2", "U0ALICE")
    # Audited as refused (the row is written just after the answer goes out).
    refusals = guarded.slack.wait_for(lambda: latest(guarded.engine, user="U0MALLORY", limit=10)[3:])
    refusals = latest(guarded.engine, user="U0MALLORY", limit=10)
    assert [e.outcome for e in refusals] == ["refused"] * 4

    # Anyone may still post an update in the channel and acknowledge.
    [answer] = guarded.command(f"update #{inc.id} Looking at the logs", user="U0MALLORY")
    assert "Update recorded" in texts(answer)
    [answer] = guarded.command(f"ack {inc.id}", user="U0MALLORY")
    assert "acknowledged" in texts(answer)


def test_role_holders_and_operators_may(guarded: Harness) -> None:
    inc = guarded.declare("P2 Search slow")
    guarded.command(f"assign {inc.id} tech-lead <@U0BOB>")
    [answer] = guarded.command(f"severity {inc.id} P1", user="U0BOB")
    assert "is now P1" in texts(answer)
    [answer] = guarded.command(f"update #{inc.id} --public Search is degraded", user="U0BOB")
    assert "Update recorded" in texts(answer)
    [answer] = guarded.command(f"resolve #{inc.id} Reindexed", user="U0OPS")
    assert "resolved" in texts(answer)
    assert not guarded.incident(inc.id).is_open


def test_declare_per_severity(guarded: Harness) -> None:
    [answer] = guarded.command("declare P0 Everything is down", user="U0MALLORY")
    assert "Declaring a P0 incident needs the operator role (access.operators)" in texts(answer)
    assert guarded.slack.calls_to("conversations.create") == []
    inc = guarded.declare("P2 Slow avatars", user="U0MALLORY")  # anyone may declare the rest
    assert inc.commander == "U0MALLORY"
    [answer] = guarded.command(f"severity {inc.id} P0", user="U0MALLORY")  # its commander, but P0
    assert "needs the operator role" in texts(answer)
    [answer] = guarded.command("declare P0 Everything is down", user="U0OPS")
    assert "declared" in texts(answer)


def test_the_resolve_button_and_form_refuse_a_bystander(guarded: Harness) -> None:
    inc = guarded.declare("P1 Card payments failing")
    channel = inc.channel_id or ""
    before = len(guarded.slack.responses)
    guarded.bot.client.action(ActionId.INCIDENT_RESOLVE, str(inc.id), user="U0MALLORY", channel=channel)
    guarded.slack.wait_for(lambda: len(guarded.slack.responses) > before)
    assert "its commander" in texts(guarded.slack.responses[-1])
    assert guarded.slack.calls_to("views.open") == []
    # A forged submission of the form (no button click) is refused too.
    resolve = view_submission(
        CallbackId.INCIDENT_RESOLVE,
        {"summary": input_text("gone")},
        {"incident": inc.id, "channel": channel},
        user="U0MALLORY",
    )
    assert guarded.bot.client.post(resolve).status_code == 200
    # Told in the channel, or by direct message when the bot cannot post there.
    guarded.slack.wait_for(lambda: [c for c in guarded.slack.calls if "its commander" in str(c.args)])
    assert guarded.incident(inc.id).is_open


def test_runbook_run_and_audit_follow_the_rules(guarded: Harness) -> None:
    before = len(guarded.slack.responses)
    guarded.bot.client.command("/runbook", "run high-db-cpu", user="U0MALLORY")
    guarded.bot.client.command("/chatops", "audit", user="U0MALLORY")
    guarded.slack.wait_for(lambda: len(guarded.slack.responses) >= before + 2)
    run, audit = (texts(a) for a in guarded.slack.responses[before : before + 2])
    assert "`runbook.run` needs the operator role" in run
    assert "Reading the audit log needs the operator role" in audit

    guarded.bot.client.command("/chatops", "audit", user="U0OPS")
    guarded.slack.wait_for(lambda: len(guarded.slack.responses) >= before + 3)
    answer = guarded.slack.responses[before + 2]
    assert answer["response_type"] == "ephemeral"
    assert "U0MALLORY" in texts(answer)
    assert "refused" in texts(answer)


def test_check_config_rejects_a_rule_that_names_nothing(tmp_path: Path) -> None:
    (tmp_path / "chatops.yaml").write_text(
        """
access:
  rules:
    - {handlers: ["incident.reslove"], need: operators}
    - {handlers: ["chatops.audit"], need: approval}
    - {handlers: ["k8s.scale", "runbook.*"], need: operators}
"""
    )
    env = {"CHATOPS_CONFIG": str(tmp_path / "chatops.yaml"), "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    result = CliRunner().invoke(cli, ["check-config"], env=env)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "access.rules[0].handlers: 'incident.reslove' names no handler or command" in out
    assert "access.rules[1]: need: approval applies to destructive handlers" in out
    assert "access.rules[2]" not in out


def test_the_declare_form_follows_the_severity_rule(guarded: Harness) -> None:
    form = view_submission(
        CallbackId.INCIDENT_DECLARE,
        {"severity": input_select("P0"), "title": input_text("Everything is down")},
        {"channel": "C00000001"},
        user="U0MALLORY",
    )
    assert guarded.bot.client.post(form).status_code == 200
    guarded.slack.wait_for(
        lambda: [c for c in guarded.slack.calls if "Declaring a P0 incident needs" in str(c.args)]
    )
    assert guarded.slack.calls_to("conversations.create") == []
