"""The baseline for bench/alerts.py: a bare webhook that parses the JSON body and answers 200,
behind the same WSGI server (cheroot) and settings as `chatops serve`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from cheroot import wsgi


def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = json.loads(environ["wsgi.input"].read(length) or b"{}")
    body = json.dumps({"accepted": len(data.get("alerts", [])), "duplicates": 0}).encode()
    start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    server = wsgi.Server(("127.0.0.1", int(sys.argv[1])), app, numthreads=16, request_queue_size=256)
    server.safe_start()


if __name__ == "__main__":
    main()
