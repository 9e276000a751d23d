"""The incident listeners one by one: called as Bolt calls them, with a real `Ack` and a
WebClient on the fake Slack API, without going through the HTTP endpoint."""

from __future__ import annotations

import json

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.incidents import records
from bot.slack.listeners.incidents import (
    ListenerDeps,
    Press,
    acknowledge,
    on_button,
    resolve_submitted,
)
from bot.slack.listeners.modals import declare_submitted
from tests.incidents.conftest import Harness

CHANNEL_META = '{"channel": "C00000001"}'


def _client(harness: Harness) -> WebClient:
    return WebClient(token="xoxb-test", base_url=harness.slack.api_url)


def _view(
    values: dict[str, dict[str, object]], metadata: str = '{"channel": "C00000001"}'
) -> dict[str, object]:
    return {
        "private_metadata": metadata,
        "state": {"values": {block: {"value": element} for block, element in values.items()}},
    }


def test_a_declare_form_with_a_short_title_is_refused_in_the_ack(harness: Harness) -> None:
    deps = ListenerDeps(harness.bot.runtime)
    ack = Ack()
    view = _view(
        {
            "severity": {"type": "static_select", "selected_option": {"value": "P9"}},
            "title": {"type": "plain_text_input", "value": " x "},
        }
    )
    declare_submitted(deps, ack, {"user": {"id": "U0BOB"}}, view, _client(harness))
    assert ack.response is not None
    errors = json.loads(ack.response.body)["errors"]
    assert errors["severity"] == "Pick a severity."
    assert "at least 3 characters" in errors["title"]
    assert records.list_open(harness.engine) == []


def test_acknowledge_records_who_acknowledged(harness: Harness) -> None:
    inc = harness.declare("P2 Search is slow")
    acknowledge(ListenerDeps(harness.bot.runtime), Press("U0CAROL", "C1", str(inc.id), ""), _Silent())
    assert harness.incident(inc.id).acknowledged_by == "U0CAROL"


def test_a_button_naming_no_incident_is_answered_and_audited_as_a_failure(harness: Harness) -> None:
    ack = Ack()
    body = {"user": {"id": "U0BOB"}, "channel": {"id": "C00000001"}}
    on_button(
        ListenerDeps(harness.bot.runtime),
        "ack",
        acknowledge,
        ack,
        body,
        {"value": "not-a-number"},
        Respond(response_url=harness.slack.response_url()),
        _client(harness),
    )
    assert ack.response is not None
    assert ack.response.status == 200
    [answer] = harness.slack.wait_responses()
    assert "does not name an incident" in str(answer["text"])


def test_resolving_an_incident_someone_already_resolved_is_refused_in_the_form(harness: Harness) -> None:
    inc = harness.declare("P3 Thumbnails missing")
    deps = ListenerDeps(harness.bot.runtime)
    view = _view({"summary": {"type": "plain_text_input", "value": "fixed"}}, f'{{"incident": {inc.id}}}')
    # U0ALICE declared it: its commander may resolve it (a bystander may not: test_access.py).
    resolve_submitted(deps, Ack(), {"user": {"id": "U0ALICE"}}, view, _client(harness))
    assert not harness.incident(inc.id).is_open
    second = Ack()
    resolve_submitted(deps, second, {"user": {"id": "U0ALICE"}}, view, _client(harness))
    assert second.response is not None
    assert json.loads(second.response.body)["errors"] == {"summary": "This incident is already resolved."}


class _Silent:
    """A responder for a press whose answer this test does not read."""

    def say(self, text: str, **_: object) -> None:
        del text

    def result(self, result: object, **_: object) -> None:
        del result

    def error(self, text: str) -> None:
        raise AssertionError(text)

    def ask_confirmation(self, outcome: object) -> None:
        raise AssertionError(outcome)
