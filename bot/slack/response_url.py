"""Answers to a slash command's response_url, on pooled keep-alive connections.

Bolt's `respond()` opens a new connection for every answer (a new TLS handshake to Slack
each time); this posts the same JSON through one urllib3 pool, with timeouts, and retries
429 (honouring Retry-After), 5xx and dropped connections. bench/ack.py shows the CPU saved.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from handlers.redact import redact

MAX_RETRY_AFTER = 3.0  # seconds: a longer Retry-After is not waited out inside a request


class CappedRetry(urllib3.Retry):
    """urllib3's Retry, but a Retry-After longer than MAX_RETRY_AFTER ends the retries at once
    (the caller falls back and says so) instead of holding the listener for it."""

    def sleep_for_retry(self, response: urllib3.BaseHTTPResponse) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > MAX_RETRY_AFTER:
            raise urllib3.exceptions.MaxRetryError(None, "", f"rate-limited: Retry-After {wait:.0f} s")  # type: ignore[arg-type]
        return super().sleep_for_retry(response)


def make_pool() -> urllib3.PoolManager:
    """Built with the runtime (never at import) and shared by every answer it sends."""
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=16,
        timeout=urllib3.Timeout(connect=3.0, read=10.0),
        retries=CappedRetry(
            total=2,
            backoff_factor=0.2,
            status_forcelist=(429, 500, 502, 503, 504),
            # POST too: a 429 or a refused connection means Slack took nothing, so a retry is safe.
            allowed_methods=None,
            respect_retry_after_header=True,
        ),
    )


class ResponseUrlError(Exception):
    pass


class ResponseUrl:
    """A `respond(**message)` callable for one response_url."""

    def __init__(self, url: str, pool: urllib3.PoolManager) -> None:
        self.url = url
        self.pool = pool

    def __call__(self, **message: Any) -> None:
        payload = {k: v for k, v in message.items() if v is not None}
        try:
            resp = self.pool.request(
                "POST",
                self.url,
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ResponseUrlError(redact(f"response_url unreachable: {exc}")) from None
        # Slack answers 404 for an expired response_url (30 minutes, or 5 uses).
        if resp.status >= 400:
            raise ResponseUrlError(f"response_url answered HTTP {resp.status}")
