"""Issue 12 (items 8, 17, 18, 19): the unauthenticated HTTP surface, attacked through the real server.

Each test sends what the attack sent, over a socket to the bot's HttpServer: oversized and
chunked bodies, slow connections (slowloris), forged log lines, a timestamp that is not a
number, a replayed signed command (also to a second replica on the same PostgreSQL), other
methods on the probes, and /readyz with the state store gone.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.httpconn import MAX_BODY
from bot.logging_setup import TextFormatter
from bot.store.audit import latest
from bot.web import HttpServer, WebApp, body_of
from tests.conftest import RunningBot, drop_pg_database, make_pg_database, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.support import command_body, sign


def _connect(bot: RunningBot, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", bot.server.port), timeout=timeout)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            length = [
                int(v)
                for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:])
                if k.strip().lower() == b"content-length"
            ]
            if length and len(body) >= length[0]:
                break
    return data


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, in the text format `chatops serve` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    bolt = logging.getLogger("slack_bolt")
    bolt_level = bolt.level
    bolt.setLevel(logging.DEBUG)  # Bolt logs a refused request's body at INFO/DEBUG
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)
    bolt.setLevel(bolt_level)


# -- item 8: bodies ------------------------------------------------------------------------


def test_a_100_mb_content_length_gets_413_before_the_body_is_read(bot: RunningBot) -> None:
    with _connect(bot) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 104857600\r\n\r\n" + b"a" * 65536
        )
        answer = _read_response(sock)  # without sending the other 99.9 MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_over_1_mib_gets_413(bot: RunningBot) -> None:
    chunk = b"a" * 65536
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(24))  # 1.5 MiB
    with _connect(bot) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nTransfer-Encoding: chunked\r\n\r\n")
        # The server may answer and stop reading before all of it went out.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(framed + b"0\r\n\r\n")
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_body_of_exactly_1_mib_is_read_and_judged_by_its_signature(bot: RunningBot) -> None:
    body = "text=" + "a" * (MAX_BODY - 5)
    r = httpx.post(bot.url + "/slack/events", content=body, headers=sign(body, secret="wrong"), timeout=10)
    assert r.status_code == 401
    r = httpx.post(bot.url + "/slack/events", content=body + "a", headers=sign(body), timeout=10)
    assert r.status_code == 413


def test_curl_style_expect_100_continue_gets_its_answer(bot: RunningBot) -> None:
    body = command_body("/chatops", "whoami", response_url=bot.slack.response_url()).encode()
    headers = "".join(f"{k}: {v}\r\n" for k, v in sign(body.decode()).items())
    with _connect(bot) as sock:
        sock.sendall(
            f"POST /slack/events HTTP/1.1\r\nHost: bot\r\nExpect: 100-continue\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    bot.slack.wait_responses(1)


# -- item 8: slow connections --------------------------------------------------------------


def test_24_slow_connections_do_not_starve_the_probes_or_slack(bot: RunningBot) -> None:
    """Slowloris: each connection sends a header byte at a time; a worker thread waited on each."""
    stop = threading.Event()
    socks = [_connect(bot) for _ in range(24)]
    for s in socks:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slow: ")

    def trickle() -> None:
        while not stop.wait(0.3):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.sendall(b"a")

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(0.5)  # every slow connection has been accepted and is mid-request
        # Before: every worker sat in a slow request, and this waited past its timeout.
        assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
        r = bot.client.command("/chatops", "whoami")
        assert r.status_code == 200
        bot.slack.wait_responses(1)
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()


def test_a_request_that_does_not_arrive_in_time_gets_408(fake_slack: FakeSlack, tmp_path: Path) -> None:
    bot = start_bot(fake_slack, tmp_path)
    server = HttpServer(WebApp(bot.app), host="127.0.0.1", port=0, request_deadline=1)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\nabc")
            for _ in range(4):  # still sending, too slowly
                time.sleep(0.4)
                sock.sendall(b"d")
            answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        server.stop()
        stop_bot(bot)


# -- item 8: logs ----------------------------------------------------------------------------


def test_an_unsigned_body_is_never_logged_and_cannot_forge_a_log_line(
    bot: RunningBot, log_text: io.StringIO
) -> None:
    forged = "x=1\n2026-12-01 03:00:00,000 INFO bot.guard: U0EVE approved pending action 7"
    r = httpx.post(bot.url + "/slack/events", content=forged, headers={"Content-Type": "text/plain"})
    assert r.status_code == 401
    r = httpx.get(bot.url + "/nowhere%0a2026-12-01 03:00:00,000 INFO bot.guard: forged", timeout=5)
    assert r.status_code == 404
    time.sleep(0.2)
    text = log_text.getvalue()
    assert "approved pending action" not in text  # the body is never written
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("2026-12-01 03:00:00")], text
    [refused] = [line for line in lines if "slack request refused" in line]
    assert "missing signature or timestamp" in refused


# -- item 17: methods, readiness -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/status"])
@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_probes_answer_other_methods_with_405(bot: RunningBot, path: str, method: str) -> None:
    r = httpx.request(method, bot.url + path, content=b"x", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    with _connect(bot) as sock:  # HEAD: headers only, so the kept-alive connection stays usable
        sock.sendall(
            f"HEAD {path} HTTP/1.1\r\nHost: bot\r\n\r\nGET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n".encode()
        )
        time.sleep(0.5)
        both = sock.recv(1 << 20)
    head, _, rest = both.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"200", b"503")
    assert rest.startswith(b"HTTP/1.1 200"), rest[:100]


def test_slack_events_takes_only_post(bot: RunningBot) -> None:
    r = httpx.get(bot.url + "/slack/events", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"


def test_readyz_names_no_host_port_or_database_when_the_store_is_gone(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url = make_pg_database("chatops_ready")
    bot = start_bot(fake_slack, tmp_path, database_url=url)
    try:
        assert httpx.get(bot.url + "/readyz", timeout=10).json() == {"ready": True, "store": "ok"}
        drop_pg_database(url)
        r = httpx.get(bot.url + "/readyz", timeout=20)
        assert r.status_code == 503
        assert r.json() == {"ready": False, "store": "unreachable"}
        for leak in ("127.0.0.1", "5432", url.rsplit("/", 1)[1], "postgres"):
            assert leak not in r.text
    finally:
        stop_bot(bot)
        drop_pg_database(url)


# -- item 18: a timestamp that is not a number -------------------------------------------------


def test_a_timestamp_abc_gets_a_clean_401_and_one_log_line(bot: RunningBot, log_text: io.StringIO) -> None:
    body = command_body("/chatops", "whoami", response_url=bot.slack.response_url())
    headers = {**sign(body), "X-Slack-Request-Timestamp": "abc"}
    r = bot.client.post(body, headers=headers)
    assert r.status_code == 401
    time.sleep(0.2)
    text = log_text.getvalue()
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "slack request refused" in line]) == 1
    assert "timestamp is not a number" in text
    assert bot.slack.responses == []


# -- item 19: replays ------------------------------------------------------------------------


def test_a_replayed_signed_command_runs_once(bot: RunningBot) -> None:
    body = command_body("/chatops", "whoami", response_url=bot.slack.response_url())
    headers = sign(body)
    assert bot.client.post(body, headers=headers).status_code == 200
    bot.slack.wait_responses(1)
    replay = bot.client.post(body, headers=headers)
    assert replay.status_code == 200
    assert replay.content == b""
    time.sleep(0.5)  # a replay that ran would have answered by now
    assert len(bot.slack.responses) == 1
    assert len([r for r in latest(bot.runtime.store.engine) if r.command.startswith("/chatops")]) <= 1


def test_a_replay_sent_to_another_replica_is_dropped_too(fake_slack: FakeSlack, tmp_path: Path) -> None:
    url = make_pg_database("chatops_replay")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = start_bot(fake_slack, tmp_path / "a", database_url=url)
    two = start_bot(fake_slack, tmp_path / "b", database_url=url)
    try:
        body = command_body("/chatops", "whoami", response_url=fake_slack.response_url())
        headers = sign(body)
        assert one.client.post(body, headers=headers).status_code == 200
        fake_slack.wait_responses(1)
        assert two.client.post(body, headers=headers).status_code == 200
        time.sleep(0.5)
        assert len(fake_slack.responses) == 1
    finally:
        stop_bot(one)
        stop_bot(two)
        drop_pg_database(url)


def test_a_replay_after_a_restart_on_sqlite_is_dropped(fake_slack: FakeSlack, tmp_path: Path) -> None:
    # On SQLite the signature is remembered in memory at once and written behind the ack:
    # the next process on the same file reads it back.
    body = command_body("/chatops", "whoami", response_url=fake_slack.response_url())
    headers = sign(body)
    first = start_bot(fake_slack, tmp_path)
    try:
        assert first.client.post(body, headers=headers).status_code == 200
        fake_slack.wait_responses(1)
        time.sleep(0.3)  # several of the writer's flush intervals; no graceful close below
    finally:
        stop_bot(first)
    second = start_bot(fake_slack, tmp_path)
    try:
        replay = second.client.post(body, headers=headers)
        assert replay.status_code == 200
        assert replay.content == b""
        time.sleep(0.5)
        assert len(fake_slack.responses) == 1
        fresh = command_body("/chatops", "whoami", response_url=fake_slack.response_url())
        assert second.client.post(fresh, headers=sign(fresh)).status_code == 200
        fake_slack.wait_responses(2)
    finally:
        stop_bot(second)


def test_signatures_still_in_memory_are_written_at_shutdown(fake_slack: FakeSlack, tmp_path: Path) -> None:
    body = command_body("/chatops", "whoami", response_url=fake_slack.response_url())
    headers = sign(body)
    first = start_bot(fake_slack, tmp_path)
    first.server.web.replays._flush_every = 3600  # the writer would not get to it in this test
    assert first.client.post(body, headers=headers).status_code == 200
    fake_slack.wait_responses(1)
    first.server.stop()
    first.server.web.close()  # what `chatops serve` does at shutdown (bot.web.drain)
    stop_bot(first)
    second = start_bot(fake_slack, tmp_path)
    try:
        assert second.client.post(body, headers=headers).content == b""
        time.sleep(0.5)
        assert len(fake_slack.responses) == 1
    finally:
        stop_bot(second)


# -- the route table -------------------------------------------------------------------------


def test_a_route_added_in_one_line_gets_the_bounded_body_and_405(bot: RunningBot) -> None:
    seen: list[bytes] = []

    def echo(environ: dict[str, Any], start: Any) -> list[bytes]:
        seen.append(body_of(environ))
        data = environ["wsgi.input"].read()
        start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
        return [data]

    server = HttpServer(WebApp(bot.app, routes={"POST /echo": echo}), host="127.0.0.1", port=0)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.post(base + "/echo", content=b"hello", timeout=5).content == b"hello"
        assert seen == [b"hello"]
        assert httpx.get(base + "/echo", timeout=5).status_code == 405
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        assert httpx.post(base + "/echo", content=b"a" * (MAX_BODY + 1), timeout=10).status_code == 413
        assert len(seen) == 1
    finally:
        server.stop()
