"""What was approved is what runs (issue 12 #6), and a whole-database delete is flagged (#15).

Each test asks for a destructive command through the real endpoint, lets the target move on
between the preview and the click (a deploy, new keys, another session), and confirms.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import update

from bot.slack.ids import ActionId
from bot.store.tables import pending_actions
from tests.conftest import PG_ADMIN, REDIS_URL, RunningBot, start_bot, stop_bot
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import populate
from tests.fakes.slack import FakeSlack
from tests.guard.conftest import block_text, blocks_of, buttons, stored
from tests.guard.test_slack_guard import answer, click

PIN_REDIS_DB = 14  # keys under a per-test prefix; nothing here is ever confirmed on `?*`


def redis_db_url() -> str:
    return REDIS_URL.rsplit("/", 1)[0] + f"/{PIN_REDIS_DB}"


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        populate(fake)
        yield fake


@pytest.fixture
def pbot(fake_slack: FakeSlack, tmp_path: Path, kube: FakeKube, redis_url: str) -> Iterator[RunningBot]:
    del redis_url  # checked reachable
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    config = f"""
clusters:
  prod: {{context: prod, kubeconfig: "{kubeconfig}"}}
databases:
  main: {{dsn: "{PG_ADMIN}"}}
redis:
  cache: {{url: "{redis_db_url()}"}}
access:
  operators: [U0ALICE]
"""
    running = start_bot(fake_slack, tmp_path, config)
    yield running
    stop_bot(running)


@pytest.fixture
def rkeys() -> Iterator[tuple[redis_lib.Redis, str]]:
    client = redis_lib.Redis.from_url(redis_db_url(), socket_timeout=5)
    prefix = f"chatops_pin_{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    keys = list(client.scan_iter(prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def ask(bot: RunningBot, command: str, text: str) -> tuple[str, dict[str, Any]]:
    """Type a destructive command; return the pending action's id and its preview message."""
    before = len(bot.slack.calls_to("chat.postMessage"))
    assert bot.client.command(command, text).status_code == 200
    call = bot.slack.wait_calls("chat.postMessage", before + 1)[before]
    action_id = str(buttons(blocks_of(call.args))[ActionId.CONFIRM.value]["value"])
    bot.slack.wait_for(lambda: stored(bot.runtime, action_id).message_ts)
    return action_id, call.args


def confirm(bot: RunningBot, action_id: str, key: str) -> str:
    click(bot, ActionId.CONFIRM, action_id, key=key)
    return block_text(answer(bot, key)["blocks"])


def image_of(kube: FakeKube) -> str:
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def test_undo_refuses_when_a_deploy_landed_after_its_preview(pbot: RunningBot, kube: FakeKube) -> None:
    """`rollout undo` previewed 3 → 2; a deploy made revision 4; the approved action reverted
    the hotfix (4 → 3). Now it refuses and names the new revision."""
    action_id, preview = ask(pbot, "/k8s", "rollout undo deploy/backend -n prod")
    assert "revision 3 → 2" in block_text(blocks_of(preview))
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    container = dep["spec"]["template"]["spec"]["containers"][0]["name"]
    hotfix = {
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": "backend:1.3-hotfix"}]}}}
    }
    r = httpx.patch(
        f"{kube.url}/apis/apps/v1/namespaces/prod/deployments/backend",
        content=json.dumps(hotfix),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert r.status_code == 200, r.text

    text = confirm(pbot, action_id, "undo")
    assert "did not run" in text
    assert "it is at revision 4 now" in text
    assert "revision 3 → 2" in text
    assert "Nothing was changed" in text
    assert image_of(kube) == "backend:1.3-hotfix"  # the hotfix stays


def test_undo_without_a_deploy_in_between_runs_what_was_previewed(pbot: RunningBot, kube: FakeKube) -> None:
    action_id, _ = ask(pbot, "/k8s", "rollout undo deploy/backend -n prod")
    text = confirm(pbot, action_id, "undo-ok")
    assert " ran: deployment backend in prod: revision 3 → 2" in text
    assert image_of(kube).endswith(":1.1")
    patch = [r for r in kube.requests if r.verb == "patch"][-1]
    assert patch.body[0] == {
        "op": "test",
        "path": "/metadata/annotations/deployment.kubernetes.io~1revision",
        "value": "3",
    }


def replicas_of(kube: FakeKube) -> int:
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    return int(dep["spec"]["replicas"])


def test_scale_refuses_when_the_count_moved_after_its_preview(pbot: RunningBot, kube: FakeKube) -> None:
    """`scale` previewed 3 → 5; an autoscaler (or a colleague) made it 4 before the click. Now it
    refuses and names the count it found, instead of setting 5 over a decision it never saw."""
    action_id, preview = ask(pbot, "/k8s", "scale deploy/backend 5 -n prod")
    assert "replicas 3 → 5" in block_text(blocks_of(preview))
    r = httpx.patch(
        f"{kube.url}/apis/apps/v1/namespaces/prod/deployments/backend/scale",
        content=json.dumps({"spec": {"replicas": 4}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text

    text = confirm(pbot, action_id, "scale")
    assert "did not run" in text
    assert "it has 4 replicas now" in text
    assert "3 → 5" in text
    assert "Nothing was changed" in text
    assert replicas_of(kube) == 4


def test_scale_without_a_change_in_between_runs_what_was_previewed(pbot: RunningBot, kube: FakeKube) -> None:
    action_id, _ = ask(pbot, "/k8s", "scale deploy/backend 5 -n prod")
    text = confirm(pbot, action_id, "scale-ok")
    assert " ran: deployment backend in prod: replicas 3 → 5" in text
    assert replicas_of(kube) == 5
    patch = [r for r in kube.requests if r.verb == "patch"][-1]
    assert patch.body[0] == {"op": "test", "path": "/spec/replicas", "value": 3}


def test_terminate_refuses_when_the_pid_is_another_session_than_previewed(pbot: RunningBot) -> None:
    """The pid AND its backend_start are pinned: a pid reused by a new session is not touched."""
    victim = psycopg.connect(PG_ADMIN, autocommit=True)
    try:
        row = victim.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pid = int(row[0])
        action_id, preview = ask(pbot, "/db", f"terminate {pid} main")
        assert f"pid {pid}" in block_text(blocks_of(preview))
        # The preview saw the session with this pid that started an hour earlier (the pid was
        # reused since): rewrite what the stored preview pinned, as that history would have.
        action = stored(pbot.runtime, action_id)
        pin = dict(action.preview.pin)
        assert pin["pid"] == pid
        assert pin["backend_start"]
        earlier = dict(pin, backend_start="2026-01-01T00:00:00+00:00")
        raw = {"summary": action.preview.summary, "details": list(action.preview.details), "pin": earlier}
        with pbot.runtime.store.engine.begin() as conn:
            conn.execute(
                update(pending_actions)
                .where(pending_actions.c.id == action_id)
                .values(preview=json.dumps(raw))
            )
        text = confirm(pbot, action_id, "term")
        assert "did not run" in text
        assert "is now a different session" in text
        assert "2026-01-01T00:00:00+00:00" in text
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still connected
    finally:
        victim.close()


def test_terminate_of_the_previewed_session_runs(pbot: RunningBot) -> None:
    victim = psycopg.connect(PG_ADMIN, autocommit=True)
    try:
        row = victim.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        action_id, _ = ask(pbot, "/db", f"terminate {row[0]} main")
        text = confirm(pbot, action_id, "term-ok")
        assert " ran: " in text
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
    finally:
        victim.close()


def test_delete_removes_exactly_the_previewed_keys(
    pbot: RunningBot, rkeys: tuple[redis_lib.Redis, str]
) -> None:
    client, prefix = rkeys
    client.mset({f"{prefix}old:{i}": "x" for i in range(5)})
    action_id, preview = ask(pbot, "/redis", f"delete {prefix}* cache")
    assert "Delete 5 keys" in block_text(blocks_of(preview))
    client.mset({f"{prefix}new:{i}": "x" for i in range(3)})  # written after the preview
    text = confirm(pbot, action_id, "del")
    assert "Deleted 5 keys" in text
    assert sorted(k.decode() for k in client.scan_iter(prefix + "*")) == [
        f"{prefix}new:{i}" for i in range(3)
    ]


def test_delete_refuses_when_far_more_keys_match_than_previewed(
    pbot: RunningBot, rkeys: tuple[redis_lib.Redis, str]
) -> None:
    client, prefix = rkeys
    client.mset({f"{prefix}page:{i}": "x" for i in range(1200)})  # too many to pin one by one
    action_id, preview = ask(pbot, "/redis", f"delete {prefix}* cache")
    assert "Delete 1,200 keys" in block_text(blocks_of(preview))
    client.mset({f"{prefix}page:{i}": "x" for i in range(1200, 4000)})
    text = confirm(pbot, action_id, "grow")
    assert "did not run" in text
    assert "the confirmed preview counted 1,200" in text
    assert len(list(client.scan_iter(prefix + "*", count=1000))) == 4000


def test_delete_of_every_key_warns_however_the_pattern_is_spelled(
    pbot: RunningBot, rkeys: tuple[redis_lib.Redis, str]
) -> None:
    """`/redis delete '?*'` had no "matches every key" warning (only `*` had)."""
    client, prefix = rkeys
    client.mset({f"{prefix}k:{i}": "x" for i in range(20)})
    action_id, preview = ask(pbot, "/redis", "delete '?*' cache")
    assert "matches EVERY key in db 14" in block_text(blocks_of(preview))
    click(pbot, ActionId.CANCEL, action_id, key="no")  # never run on a shared db
    assert "Cancelled" in block_text(answer(pbot, "no")["blocks"])


def test_a_delete_previewed_as_nothing_deletes_nothing(
    pbot: RunningBot, rkeys: tuple[redis_lib.Redis, str]
) -> None:
    client, prefix = rkeys
    action_id, preview = ask(pbot, "/redis", f"delete {prefix}* cache")
    assert "nothing would be deleted" in block_text(blocks_of(preview))
    client.mset({f"{prefix}late:{i}": "x" for i in range(4)})  # appear after the preview
    text = confirm(pbot, action_id, "none")
    assert "Deleted 0 keys" in text
    assert len(list(client.scan_iter(prefix + "*"))) == 4
