"""POST /alerts/alertmanager and /alerts/grafana through the bot's real HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from bot.alerts import store as astore
from tests.alerts.conftest import count_occurrences, pipeline_of
from tests.alerts.payloads import T0, TOKEN, alert, config, grafana, group, post
from tests.conftest import RunningBot, drop_pg_database
from tests.fakes.slack import FakeSlack


def _messages(slack: FakeSlack, channel: str = "ops") -> list[dict[str, Any]]:
    ch = slack.channel_named(channel)
    assert ch is not None
    return list(slack.messages.get(ch.id, []))


def test_auth_size_method_and_payload_errors(make_bot: Callable[..., RunningBot], db_url: str) -> None:
    bot = make_bot(config(), database_url=db_url)
    body = group([alert()])
    assert post(bot.url, body, token="wrong-token-0123456789").status_code == 401
    r = httpx.post(bot.url + "/alerts/alertmanager", json=body, timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(bot.url + "/alerts/alertmanager", timeout=5).status_code == 405
    r = post(bot.url, b"{not json")
    assert r.status_code == 400
    assert "not JSON" in r.json()["error"]
    r = post(bot.url, {"version": "4", "status": "firing"})
    assert r.status_code == 400
    assert "groupKey" in r.json()["error"]
    assert "alerts" in r.json()["error"]
    r = post(bot.url, {**body, "version": "3"})
    assert r.status_code == 400
    assert "version" in r.json()["error"]
    big = {**body, "commonAnnotations": {"x": "y" * (1 << 20)}}
    r = post(bot.url, big)
    assert r.status_code == 413
    assert count_occurrences(bot.runtime.store.engine) == 0


def test_stored_once_replays_and_duplicates(
    make_bot: Callable[..., RunningBot], db_url: str, fake_slack: FakeSlack
) -> None:
    bot = make_bot(config(), database_url=db_url)
    a1, a2 = alert("HighErrorRate"), alert("HighErrorRate", labels={"instance": "b:80"})
    body = group([a1, a2, a1])  # a duplicate inside one post, too
    r = post(bot.url, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "duplicates": 1}
    # Alertmanager resends the whole group every group_interval; an HA peer sends it again.
    for _ in range(3):
        assert post(bot.url, body).json() == {"accepted": 0, "duplicates": 3}
    assert count_occurrences(bot.runtime.store.engine) == 2
    assert pipeline_of(bot).wait_idle()
    fake_slack.wait_for(lambda: len(_messages(fake_slack)) >= 1)
    assert len(_messages(fake_slack)) == 1
    # Resolution of one alert: accepted (a change), the one message is updated in place.
    resolved = {**a1, "status": "resolved", "endsAt": "2026-12-01T09:05:00Z"}
    assert post(bot.url, group([resolved, a2])).json() == {"accepted": 1, "duplicates": 1}
    assert pipeline_of(bot).wait_idle()
    updates = fake_slack.wait_calls("chat.update")
    assert "1 firing, 1 resolved" in json.dumps(updates[-1].args["blocks"])
    assert len(_messages(fake_slack)) == 1


def test_resolved_before_firing_stays_resolved(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = make_bot(config())
    firing = alert("DiskFull")
    resolved = {**firing, "status": "resolved", "endsAt": "2026-12-01T09:03:00Z"}
    assert post(bot.url, group([resolved])).json() == {"accepted": 1, "duplicates": 0}
    # The delayed firing copy of the same occurrence arrives later: it changes nothing.
    assert post(bot.url, group([firing])).json() == {"accepted": 0, "duplicates": 1}
    assert pipeline_of(bot).wait_idle()
    posted = fake_slack.wait_calls("chat.postMessage")
    assert posted[0].args["text"].startswith("RESOLVED DiskFull")
    assert not astore.firing_groups(bot.runtime.store.engine)
    # A new occurrence (a new startsAt) fires again.
    again = alert("DiskFull", starts=T0 + timedelta(minutes=10))
    assert post(bot.url, group([again])).json() == {"accepted": 1, "duplicates": 0}
    assert pipeline_of(bot).wait_idle()
    assert len(astore.firing_groups(bot.runtime.store.engine)) == 1


def test_grafana_payload(make_bot: Callable[..., RunningBot], fake_slack: FakeSlack) -> None:
    bot = make_bot(config())
    r = post(bot.url, grafana([alert("GrafanaCPU")]), path="/alerts/grafana")
    assert r.status_code == 200
    assert r.json() == {"accepted": 1, "duplicates": 0}
    assert pipeline_of(bot).wait_idle()
    assert fake_slack.wait_calls("chat.postMessage")[0].args["text"].startswith("FIRING (1) GrafanaCPU")


def test_store_unreachable_is_503(make_bot: Callable[..., RunningBot], pg_url: str) -> None:
    bot = make_bot(config(), database_url=pg_url)
    drop_pg_database(pg_url)
    r = post(bot.url, group([alert()]))
    assert r.status_code == 503
    assert r.headers["Retry-After"]
    assert "state store" in r.json()["error"]


def test_alerts_not_configured(make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot("")
    assert post(bot.url, group([alert()]), token=TOKEN).status_code == 404


def test_slack_refusals_are_retried_by_the_sweep(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    ops = fake_slack.channel_named("ops")
    assert ops is not None
    bot = make_bot(config().replace("channel: ops", f"channel: {ops.id}"))
    # Not a member of the alerts channel: the bot joins it and posts.
    fake_slack.fail("chat.postMessage", "not_in_channel")
    post(bot.url, group([alert("Joined")]))
    assert pipeline_of(bot).wait_idle()
    assert fake_slack.calls_to("conversations.join")
    assert len(_messages(fake_slack)) == 1
    # Slack down for a while: the webhook was still answered 200 (stored); the sweep posts it later.
    fake_slack.server_error("chat.postMessage", status=500, times=10)
    r = post(bot.url, group([alert("LaterShown")]))
    assert r.json() == {"accepted": 1, "duplicates": 0}
    assert pipeline_of(bot).wait_idle()
    assert len(_messages(fake_slack)) == 1
    fake_slack._failures.clear()  # Slack is back
    pipe = pipeline_of(bot)
    pipe.sweep(bot.runtime.clock())
    assert pipe.wait_idle()
    texts = [m["text"] for m in _messages(fake_slack)]
    assert any(t.startswith("FIRING (1) LaterShown") for t in texts)


def test_only_an_authorized_post_holds_group_work_until_its_answer_is_written(
    make_bot: Callable[..., RunningBot], tmp_path: Any
) -> None:
    # bot.acks: group work waits while a webhook's answer is owed; a stranger's post owes none.
    import io

    bot = make_bot(config(), database_url=f"sqlite:///{tmp_path / 'acks.db'}")
    route = bot.server.web.routes["/alerts/alertmanager"]
    acks = bot.runtime.acks

    def call(token: str) -> Any:
        data = json.dumps(group([alert()])).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
        }
        return route(environ, lambda status, headers, *exc: None)

    def held() -> bool:
        acks.max_defer = 0.3
        started = time.monotonic()
        acks.wait_quiet()
        return time.monotonic() - started >= 0.25

    stranger = call("wrong-token-0123456789")
    assert held() is False
    owner = call(TOKEN)
    assert held() is True  # until the server has written the answer
    owner.close()
    assert held() is False
    del stranger
