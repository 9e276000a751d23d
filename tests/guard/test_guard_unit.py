"""Unit tests (no I/O): access rules and their messages, the Block Kit, stored params."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.commands.target import Target
from bot.config import parse_config
from bot.guard import Access, ActionResult, ActionResultKind, MessageRef, PendingAction, Status
from bot.guard.pending import encode_params
from bot.render.slack import MAX_BLOCKS, TEXT_LIMIT
from bot.slack.confirm import (
    Offer,
    approval_message,
    mrkdwn,
    notice_message,
    outcome_message,
    preview_message,
)
from bot.slack.ids import ActionId
from handlers import Client, HandlerSpec
from handlers.params import Duration, Namespace, Params, arg
from handlers.results import Logs, Preview, Text

CONFIG = parse_config(
    """
access:
  operators: [U0OPS, S0SRE]
  approvers: [U0LEAD]
  rules:
    - {handlers: ["k8s.*"], namespaces: ["prod*"], need: approval}
    - {handlers: ["db.terminate"], need: approval}
    - {handlers: ["k8s.secrets"], need: operators}
    - {handlers: ["db.audit_dump"], databases: ["main"], need: approvers}
"""
)


class K8sParams(Params):
    namespace: Namespace = arg("default", flags=("-n",))
    cluster: str | None = arg(None, flags=("--cluster",))
    wait: Duration = arg(timedelta(seconds=30), flags=("--wait",))
    names: list[str] = arg([], positional=True)
    force: bool = arg(False, flags=("--force",))


def spec(name: str, *, destructive: bool, client: Client = Client.KUBERNETES) -> HandlerSpec:
    command, _, sub = name.partition(".")
    return HandlerSpec(
        name=name,
        fn=lambda ctx, p: Text(text=""),
        params=K8sParams,
        client=client,
        destructive=destructive,
        preview=(lambda ctx, p: Preview(summary="")) if destructive else None,
        command=command,
        sub=sub,
    )


def test_read_only_is_open_to_everyone_and_destructive_needs_an_operator() -> None:
    access = Access(CONFIG)
    prod = Target(cluster="main", namespace="prod-eu")
    assert access.check("U0ANY", spec("k8s.pods", destructive=False), prod).allowed
    refused = access.check("U0ANY", spec("k8s.scale", destructive=True), prod)
    assert not refused.allowed
    assert refused.reason == (
        "k8s.scale on cluster main, namespace prod-eu changes things and needs the operator role "
        "(access.operators); you have: everyone"
    )
    allowed = access.check("U0OPS", spec("k8s.scale", destructive=True), prod)
    assert allowed.allowed
    assert allowed.needs_approval
    staging = access.check("U0OPS", spec("k8s.scale", destructive=True), Target(namespace="staging"))
    assert staging.allowed
    assert not staging.needs_approval


def test_rules_can_narrow_read_only_handlers() -> None:
    access = Access(CONFIG)
    secrets_ = access.check("U0ANY", spec("k8s.secrets", destructive=False), Target(namespace="x"))
    assert not secrets_.allowed
    assert "k8s.secrets on namespace x needs the operator role (access.operators)" in secrets_.reason
    dump = access.check(
        "U0OPS", spec("db.audit_dump", destructive=False, client=Client.POSTGRES), Target(database="main")
    )
    assert dump.reason.startswith("db.audit_dump on database main needs the approver role (access.approvers)")
    assert "you have: everyone, operator" in dump.reason
    assert access.check("U0LEAD", spec("db.audit_dump", destructive=False), Target(database="main")).allowed
    assert access.check("U0ANY", spec("db.audit_dump", destructive=False), Target(database="other")).allowed


def test_approver_check_names_the_role() -> None:
    access = Access(CONFIG)
    assert access.check_approver("U0LEAD", "db.terminate", "database main").allowed
    no = access.check_approver("U0OPS", "db.terminate", "database main")
    assert no.reason == (
        "Approving db.terminate on database main needs the approver role (access.approvers); "
        "you have: everyone, operator"
    )


def test_group_members_are_cached_and_survive_a_slack_outage() -> None:
    calls: list[str] = []
    answers: list[set[str] | Exception] = [{"U0CAROL"}, RuntimeError("slack down")]

    def resolve(group: str) -> set[str]:
        calls.append(group)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    access = Access(CONFIG, resolve)
    assert access.is_operator("U0CAROL")
    assert access.is_operator("U0CAROL")
    assert calls == ["S0SRE"]  # cached
    access._ttl = 0  # the cache lapses...
    assert access.is_operator("U0CAROL")  # ...and Slack fails: the last known members still count
    assert calls == ["S0SRE", "S0SRE"]


def test_params_read_back_exactly_from_the_store() -> None:
    params = K8sParams(namespace="prod", wait=timedelta(minutes=2), names=["a", "b"], force=True)
    stored = encode_params(params)
    assert json.loads(stored)["wait"] == 120.0
    assert K8sParams.model_validate_json(stored) == params


def _action(**over: object) -> PendingAction:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": "A" * 32,
        "requester": "U0OPS",
        "handler": "k8s.scale",
        "params": {},
        "target": "cluster main, namespace prod",
        "preview": Preview(summary="deployment api: replicas 3 → 0", details=("image api:1.2",)),
        "channel_id": "C1",
        "message_ts": "1.1",
        "response_url": None,
        "created_at": now,
        "expires_at": now + timedelta(minutes=10),
        "status": Status.EXECUTED,
        "needs_approval": True,
        "confirmed_by": "U0OPS",
        "confirmed_at": now,
        "approved_by": "U0LEAD",
        "decided_by": "U0LEAD",
        "decided_at": now,
        "result": None,
        "incident_id": None,
        "request_id": "r",
        "command": "/k8s",
        "text": "scale api 0 -n prod",
        "approval_ts": "2.2",
        "finished_at": now,
    }
    values.update(over)
    return PendingAction(**values)  # type: ignore[arg-type]


def test_preview_buttons_carry_only_the_id_and_stay_within_slack_limits() -> None:
    huge = Preview(summary="<b>&" + "x" * 5000, details=[f"pod {i}" for i in range(100)])
    offer = Offer.of(_action(preview=huge, status=Status.PENDING))
    msg = preview_message(offer, ["U0LEAD", "S0LEADS"])
    # slack_sdk validates every length here; the JSON is nested dicts the asserts index into.
    dicts: list[dict[str, Any]] = msg.as_dicts()
    actions = [b for b in dicts if b["type"] == "actions"]
    [buttons] = [b["elements"] for b in actions]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ActionId.CONFIRM.value, "A" * 32),
        (ActionId.CANCEL.value, "A" * 32),
    ]
    dialog = buttons[0]["confirm"]
    assert len(dialog["text"]["text"]) <= 300
    assert dialog["title"]["text"] == "Run k8s.scale?"
    body = json.dumps(dicts, ensure_ascii=False)
    assert "<b>" not in body
    assert "&lt;b&gt;" in body
    assert "… and 80 more" in body
    assert "<!subteam^S0LEADS>" in body
    assert all(len(b.get("text", {}).get("text", "")) <= TEXT_LIMIT for b in dicts)


def test_approval_message_offers_approve_with_a_dialog_and_reject() -> None:
    msg = approval_message(_action(status=Status.AWAITING_APPROVAL), ["U0LEAD"])
    blocks: list[dict[str, Any]] = msg.as_dicts()
    [actions] = [b for b in blocks if b["type"] == "actions"]
    approve, reject = actions["elements"]
    assert (approve["action_id"], approve["value"]) == (ActionId.APPROVE.value, "A" * 32)
    assert (reject["action_id"], reject["value"]) == (ActionId.REJECT.value, "A" * 32)
    assert "confirm" in approve


def test_a_long_result_is_cut_to_fifty_blocks_and_kept_whole_for_a_file() -> None:
    logs = Logs(title="restarted", lines=[f"line {i} " + "y" * 200 for i in range(3000)])
    res = ActionResult(ActionResultKind.EXECUTED, "`k8s.scale` ran.", _action(), result=logs)
    msg = outcome_message(res)
    assert len(msg.blocks) <= MAX_BLOCKS
    assert msg.file is not None
    assert "line 2999" in msg.file
    assert ActionId.CONFIRM.value not in json.dumps(msg.as_dicts())


def test_guard_messages_keep_mentions_and_escape_the_rest() -> None:
    assert mrkdwn("<@U0OPS> ran `a < b && c > d` for <!subteam^S0SRE>") == (
        "<@U0OPS> ran `a &lt; b &amp;&amp; c &gt; d` for <!subteam^S0SRE>"
    )
    res = ActionResult(ActionResultKind.REFUSED, "Only <@U0OPS>, who asked for it, can confirm `k8s.scale`.")
    assert res.text == "Only @U0OPS, who asked for it, can confirm k8s.scale."
    assert "<@U0OPS>" in json.dumps(notice_message(res).as_dicts())


@pytest.mark.parametrize(
    ("kind", "ok", "final"),
    [
        (ActionResultKind.EXECUTED, True, True),
        (ActionResultKind.FAILED, False, True),
        (ActionResultKind.AWAITING_APPROVAL, True, False),
        (ActionResultKind.CANCELLED, True, True),
        (ActionResultKind.REJECTED, True, True),
        (ActionResultKind.EXPIRED, False, True),
        (ActionResultKind.REFUSED, False, False),
        (ActionResultKind.ALREADY, False, False),
        (ActionResultKind.UNKNOWN, False, False),
        (ActionResultKind.ERROR, False, False),
    ],
)
def test_result_kinds(kind: ActionResultKind, ok: bool, final: bool) -> None:
    res = ActionResult(kind, "m")
    assert (res.ok, res.final) == (ok, final)


def test_message_ref_defaults() -> None:
    assert MessageRef() == MessageRef("", None, None)
