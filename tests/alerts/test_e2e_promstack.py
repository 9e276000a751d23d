"""End to end with the real things: a Prometheus rule fires → Alertmanager → `chatops serve` → Slack.

The exporter's value flips; Prometheus (1 s scrape and evaluation) fires the rule; Alertmanager
(group_wait 1 s, no gossip) posts the group to the bot's real HTTP endpoint with the bearer token.
The fake Slack shows the group message, the incident channel with the runbook's diagnostics; the
value flips back and the message and the channel say resolved.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.alerts.payloads import RUNBOOK, TOKEN, config
from tests.alerts.served import serve
from tests.fakes.slack import FakeSlack
from tests.promstack import Alertmanager, Exporter, Prometheus
from tests.runbooks.fakehttp import SlowHealth

RULES = {
    "groups": [
        {
            "name": "test",
            "rules": [
                {
                    "alert": "BackendDown",
                    "expr": "backend_up == 0",
                    "for": "0s",
                    "labels": {"severity": "critical", "service": "backend"},
                    "annotations": {"summary": "backend is down: <!channel> please look"},
                }
            ],
        }
    ]
}
ROUTES = """    - {matchers: ['severity="critical"'], declare: P1, runbook: svc-check}"""


def _texts(slack: FakeSlack, channel_id: str) -> list[str]:
    return [m.get("text", "") for m in list(slack.messages.get(channel_id, []))]


def test_rule_fires_to_slack_incident_and_resolves(
    exporter: Exporter,
    start_prometheus: Callable[..., Prometheus],
    start_alertmanager: Callable[..., Alertmanager],
    fake_slack: FakeSlack,
    pg_url: str,
    tmp_path: Path,
) -> None:
    up = exporter.gauge("backend_up", "whether the backend answers")
    up.set(1)
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir()
    (rbdir / "svc-check.yaml").write_text(RUNBOOK)
    with SlowHealth(status=503) as health:
        bot = serve(
            fake_slack,
            tmp_path / "bot",
            config(routes=ROUTES, runbooks_dir=str(rbdir), health=health.url + "/health"),
            database_url=pg_url,
        )
        try:
            am = start_alertmanager(bot.url + "/alerts/alertmanager", bearer_token=TOKEN)
            prom = start_prometheus([exporter.target], rules=RULES, alertmanager=am.url)
            prom.wait_scraped(exporter.target)
            up.set(0)
            ops = fake_slack.channel_named("ops")
            assert ops is not None
            fake_slack.wait_for(
                lambda: any("FIRING (1) BackendDown" in t for t in _texts(fake_slack, ops.id)), timeout=45
            )
            incident = fake_slack.wait_for(
                lambda: next(
                    (c for c in list(fake_slack.channels.values()) if c.name.startswith("incident-")), None
                ),
                timeout=20,
            )
            fake_slack.wait_for(
                lambda: any("Service check" in t for t in _texts(fake_slack, incident.id)), timeout=30
            )
            # The diagnostics really ran against the service's health URL, and posted their output.
            fake_slack.wait_for(lambda: bool(health.hits), timeout=20)
            fake_slack.wait_for(
                lambda: any(m.get("thread_ts") for m in list(fake_slack.messages.get(incident.id, []))),
                timeout=20,
            )
            group_msg = next(m for m in fake_slack.messages[ops.id] if "BackendDown" in m.get("text", ""))
            assert "<!channel>" not in json.dumps(group_msg.get("blocks"))
            up.set(1)

            def resolved() -> bool:
                updates = [
                    c
                    for c in list(fake_slack.calls)
                    if c.method == "chat.update" and c.args.get("channel") == ops.id
                ]
                return bool(updates) and updates[-1].args["text"].startswith("RESOLVED BackendDown")

            fake_slack.wait_for(resolved, timeout=45)
            fake_slack.wait_for(
                lambda: any(
                    "Every alert of this incident has resolved" in t for t in _texts(fake_slack, incident.id)
                ),
                timeout=20,
            )
            assert len([m for m in fake_slack.messages[ops.id] if "BackendDown" in m.get("text", "")]) == 1
            assert len([c for c in fake_slack.channels.values() if c.name.startswith("incident-")]) == 1
        finally:
            bot.stop()
