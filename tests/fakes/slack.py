"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that records every call.

It answers the methods the bot uses with realistic payloads, keeps channels and messages,
and can be told to fail a method with a Slack error or with HTTP 429 + Retry-After. It also
accepts file uploads (files.getUploadURLExternal's upload URL) and response_url posts.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER = "UBOT0001"
TEAM = "T0TEST001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float


@dataclass
class _Failure:
    error: str | None
    status: int
    retry_after: int | None
    times: int


@dataclass
class Channel:
    id: str
    name: str
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    is_private: bool = False


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) makes concurrent clients wait a second for a SYN retry.
    request_queue_size = 256


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; point the bot at `slack.api_url`."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.uploads: dict[str, bytes] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.unknown_users: set[str] = set()  # users.info answers user_not_found for these
        self.pins: list[tuple[str, str]] = []
        self.bookmarks: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.homes: dict[str, dict[str, Any]] = {}  # App Home views by user id (views.publish)
        # Messages by channel id, oldest first (chat.postMessage and post_as_user), for history.
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self.socket_mode_url = ""  # set by a test to answer apps.connections.open
        self._holds: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        for name in ("general", "incidents", "ops"):
            self.add_channel(name)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # bound to 127.0.0.1 above, so the host is text
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/response/{key}"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test controls ---------------------------------------------------------------------

    def hold(self, method: str) -> threading.Event:
        """Calls of `method` are recorded, then wait (up to 30 s) until the returned event is set."""
        gate = threading.Event()
        self._holds[method] = gate
        return gate

    def fail(self, method: str, error: str = "internal_error", *, times: int = 1) -> None:
        """The next `times` calls of `method` answer ok=false with `error`."""
        self._failures.setdefault(method, []).append(_Failure(error, 200, None, times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with Retry-After."""
        self._failures.setdefault(method, []).append(_Failure("ratelimited", 429, retry_after, times))

    def server_error(self, method: str, *, status: int = 503, times: int = 1) -> None:
        self._failures.setdefault(method, []).append(_Failure(None, status, None, times))

    def add_channel(self, name: str, *, members: set[str] | None = None) -> Channel:
        cid = f"C{next(self._ids):08d}"
        ch = Channel(cid, name, members=set(members or {BOT_USER}))
        self.channels[cid] = ch
        return ch

    def channel_named(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, pred: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `pred()` is truthy (listeners run after the ack); fail naming what was awaited."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = pred()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for Slack calls; got {self.summary()}"
                    )
                self._cond.wait(min(left, 0.05))

    def wait_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        def ready() -> list[Call] | None:
            found = [x for x in self.calls if x.method == method]
            return found if len(found) >= count else None

        return self.wait_for(ready, timeout)  # type: ignore[no-any-return]

    def wait_responses(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.wait_for(lambda: list(self.responses) if len(self.responses) >= count else None, timeout)  # type: ignore[no-any-return]

    def record_response(self, payload: dict[str, Any]) -> None:
        """A message the user sees, posted to response_url or returned in an ack."""
        with self._cond:
            self.responses.append(payload)
            self._cond.notify_all()

    def summary(self) -> str:
        return ", ".join(c.method for c in self.calls) + f" | {len(self.responses)} response_url posts"

    # -- the API ---------------------------------------------------------------------------

    def _record(self, method: str, args: dict[str, Any]) -> None:
        with self._cond:
            self.calls.append(Call(method, args, time.time()))
            self._cond.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            f = queue[0]
            f.times -= 1
            if f.times <= 0:
                queue.pop(0)
            return f

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return {
                **ok,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "chatops",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "B0TEST001",
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            if not self.socket_mode_url:
                return {"ok": False, "error": "not_allowed_token_type"}
            return {**ok, "url": self.socket_mode_url}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            channel = str(args.get("channel", ""))
            if channel.startswith("#"):
                named = self.channel_named(channel[1:])
                channel = named.id if named else ""
            elif channel and channel not in self.channels and not channel.startswith(("C", "D", "G", "U")):
                named = self.channel_named(channel)
                channel = named.id if named else ""
            if not channel or (channel.startswith("C") and channel not in self.channels):
                return {"ok": False, "error": "channel_not_found"}
            if method == "chat.postEphemeral":
                return {**ok, "message_ts": self._new_ts()}
            ts = str(args["ts"]) if method == "chat.update" else self._new_ts()
            if method == "chat.postMessage":
                self._keep(channel, {"text": args.get("text", ""), "user": BOT_USER, "ts": ts}, args)
            return {
                **ok,
                "channel": channel,
                "ts": ts,
                "message": {
                    "type": "message",
                    "text": args.get("text", ""),
                    "user": BOT_USER,
                    "ts": ts,
                    "bot_id": "B0TEST001",
                },
            }
        if method == "conversations.create":
            name = str(args.get("name", ""))
            if self.channel_named(name):
                return {"ok": False, "error": "name_taken"}
            if not name or len(name) > 80 or name != name.lower():
                return {"ok": False, "error": "invalid_name_specials"}
            return {**ok, "channel": self._channel_json(self.add_channel(name))}
        if method in (
            "conversations.invite",
            "conversations.setTopic",
            "conversations.setPurpose",
            "conversations.info",
            "conversations.join",
            "conversations.archive",
        ):
            ch = self.channels.get(str(args.get("channel", "")))
            if ch is None:
                return {"ok": False, "error": "channel_not_found"}
            if method == "conversations.invite":
                users = [u for u in str(args.get("users", "")).split(",") if u]
                already = [u for u in users if u in ch.members]
                ch.members.update(users)
                if already and len(already) == len(users):
                    return {"ok": False, "error": "already_in_channel"}
            elif method == "conversations.setTopic":
                ch.topic = str(args.get("topic", ""))
            elif method == "conversations.setPurpose":
                ch.purpose = str(args.get("purpose", ""))
            elif method == "conversations.join":
                ch.members.add(BOT_USER)
            return {**ok, "channel": self._channel_json(ch)}
        if method == "conversations.history":
            cid = str(args.get("channel", ""))
            if cid not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
            latest, oldest = args.get("latest"), args.get("oldest")
            found = []
            for m in reversed(self.messages.get(cid, [])):  # newest first, as Slack answers
                when = float(m["ts"])
                if latest is not None and (when > float(latest) or (when == float(latest) and not inclusive)):
                    continue
                if oldest is not None and (when < float(oldest) or (when == float(oldest) and not inclusive)):
                    continue
                found.append(m)
            limit = int(args.get("limit") or 100)
            return {**ok, "messages": found[:limit], "has_more": len(found) > limit}
        if method == "pins.add":
            self.pins.append((str(args.get("channel")), str(args.get("timestamp"))))
            return ok
        if method == "bookmarks.add":
            bm = {
                "id": f"Bk{next(self._ids):08d}",
                "channel_id": args.get("channel_id"),
                "title": args.get("title"),
                "link": args.get("link"),
                "type": args.get("type", "link"),
            }
            self.bookmarks.append(bm)
            return {**ok, "bookmark": bm}
        if method == "reactions.add":
            self.reactions.append(dict(args))
            return ok
        if method == "users.info":
            uid = str(args.get("user", ""))
            if uid in self.unknown_users:
                return {"ok": False, "error": "user_not_found"}
            user = self.users.get(
                uid,
                {
                    "id": uid,
                    "name": uid.lower(),
                    "real_name": f"User {uid}",
                    "profile": {"display_name": uid.lower(), "real_name": f"User {uid}"},
                    "tz": "UTC",
                    "is_bot": False,
                },
            )
            return {**ok, "user": user}
        if method == "usergroups.users.list":
            gid = str(args.get("usergroup", ""))
            if gid not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {**ok, "users": list(self.usergroups[gid])}
        if method == "files.getUploadURLExternal":
            fid = f"F{next(self._ids):08d}"
            return {**ok, "upload_url": f"{self.url}/upload/{fid}", "file_id": fid}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            parsed = json.loads(files) if isinstance(files, str) else files or []
            return {
                **ok,
                "files": [
                    {"id": f["id"], "title": f.get("title", ""), "name": f.get("title", "")} for f in parsed
                ],
            }
        if method == "views.publish":
            uid = str(args.get("user_id", ""))
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not uid.startswith(("U", "W")) or not isinstance(view, dict) or view.get("type") != "home":
                return {"ok": False, "error": "invalid_arguments"}
            # Slack's hash of the published view comes back in app_home_opened's `view`.
            digest = f"h{next(self._ts)}"
            with self._lock:
                self.homes[uid] = {**view, "hash": digest}
            return {**ok, "view": {"id": f"V{next(self._ids):08d}", **view, "hash": digest}}
        if method == "chat.getPermalink":
            cid, ts = str(args.get("channel", "")), str(args.get("message_ts", ""))
            if cid not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            if not any(m["ts"] == ts for m in self.messages.get(cid, [])):
                return {"ok": False, "error": "message_not_found"}
            link = f"https://test.slack.com/archives/{cid}/p{ts.replace('.', '')}"
            return {**ok, "channel": cid, "permalink": link}
        if method in ("views.open", "views.update", "views.push"):
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {**ok, "view": {"id": f"V{next(self._ids):08d}", **(view or {})}}
        return {"ok": False, "error": "unknown_method"}

    def _keep(self, channel: str, message: dict[str, Any], args: dict[str, Any]) -> None:
        for key in ("thread_ts", "blocks"):
            if args.get(key):
                message[key] = args[key]
        with self._lock:
            self.messages.setdefault(channel, []).append({"type": "message", **message})

    def post_as_user(self, channel: str, user: str, text: str) -> str:
        """A person's message in a channel (for pins and reactions); returns its ts."""
        ts = self._new_ts()
        self._keep(channel, {"text": text, "user": user, "ts": ts}, {})
        return ts

    def _channel_json(self, ch: Channel) -> dict[str, Any]:
        return {
            "id": ch.id,
            "name": ch.name,
            "is_channel": True,
            "is_private": ch.is_private,
            "created": int(time.time()),
            "is_archived": False,
            "is_member": BOT_USER in ch.members,
            "topic": {"value": ch.topic},
            "purpose": {"value": ch.purpose},
            "num_members": len(ch.members),
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_a: Any) -> None:
                return

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(404, {"ok": False, "error": "not_found"})

            def do_POST(self) -> None:
                raw = self._body()
                path = urlparse(self.path).path
                if path.startswith("/response/"):
                    payload = json.loads(raw or b"{}")
                    fake.record_response({"key": path.rsplit("/", 1)[-1], **payload})
                    self._send(200, b"ok")
                    return
                if path.startswith("/upload/"):
                    fake.uploads[path.rsplit("/", 1)[-1]] = raw
                    self._send(200, b"OK - %d" % len(raw))
                    return
                if not path.startswith("/api/"):
                    self._send(404, {"ok": False, "error": "not_found"})
                    return
                method = path[len("/api/") :]
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or b"{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    query = parse_qs(urlparse(self.path).query)
                    args.update({k: v[0] for k, v in query.items()})
                auth = self.headers.get("Authorization", "")
                if auth:
                    args.setdefault("_token", auth.removeprefix("Bearer "))
                if fake.latency:
                    time.sleep(fake.latency)
                fake._record(method, args)
                gate = fake._holds.get(method)
                if gate is not None:
                    gate.wait(30)
                failure = fake._take_failure(method)
                if failure is not None:
                    if failure.status == 429:
                        self._send(
                            429,
                            {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(failure.retry_after or 1)},
                        )
                    elif failure.status != 200:
                        self._send(failure.status, b"upstream error")
                    else:
                        self._send(200, {"ok": False, "error": failure.error})
                    return
                self._send(200, fake.api(method, args))

        return Handler
