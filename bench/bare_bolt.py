"""The baseline for bench/ack.py: a bare Bolt app with one listener that only acks,
behind the same WSGI server (cheroot) and adapter as `chatops serve`."""

from __future__ import annotations

import sys
from typing import Any

from cheroot import wsgi
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


def main() -> None:
    port, secret, api_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    # Same Slack API as the bot (Bolt's authorisation calls auth.test on the first request).
    app = App(signing_secret=secret, client=WebClient(token="xoxb-bare", base_url=api_url))

    @app.command("/chatops")
    def ack_only(ack: Any) -> None:
        ack()

    # The same server settings as `chatops serve` (bot/web.py): 16 threads, a 256-deep backlog.
    server = wsgi.Server(("127.0.0.1", port), SlackRequestHandler(app), numthreads=16, request_queue_size=256)
    server.safe_start()


if __name__ == "__main__":
    main()
