"""Slack's Socket Mode endpoint, faked: a real WebSocket server the bot connects to.

FakeSlack answers apps.connections.open with this server's ws:// URL; a test then pushes
envelopes (a slash command, say) and reads the acknowledgements the bot sends back.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._conn: ServerConnection | None = None
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=t1&app_id=A0TEST001"

    def _handle(self, conn: ServerConnection) -> None:
        self._conn = conn
        conn.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake"},
                    "connection_info": {"app_id": "A0TEST001"},
                }
            )
        )
        self.connected.set()
        for message in conn:
            self.acks.put(json.loads(message))

    def push(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send an envelope (kind: slash_commands, interactive, events_api); returns its id.
        `retry_attempt` > 0 is Slack delivering an event again."""
        assert self._conn is not None, "the bot has not connected"
        envelope_id = uuid.uuid4().hex
        self._conn.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": retry_attempt,
                    **({"retry_reason": "timeout"} if retry_attempt else {}),
                }
            )
        )
        return envelope_id

    def close(self) -> None:
        self._server.shutdown()
