"""Talking to Prometheus's HTTP API (v1): bounded, timed, and every failure in words.

Errors name the instance (`Prometheus main at http://prometheus:9090`) and the cause: refused,
timed out, an HTTP status, or Prometheus's own message for bad PromQL (which carries the
position, `1:9: parse error: unexpected "}"`).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from handlers import Context
from handlers.errors import HandlerError, InvalidRequest, TargetUnavailable
from handlers.redact import redact

MAX_BYTES = 64 * 1024 * 1024  # a response larger than this is refused, not read into memory
MAX_POINTS = 11_000
CONNECT_TIMEOUT = 3.0  # Prometheus refuses range queries over this many points per series


class BadQuery(InvalidRequest):
    """Prometheus rejected the PromQL (its message says where)."""


def where(ctx: Context[httpx.Client]) -> str:
    """`Prometheus main at http://prometheus:9090` (no credentials, no path)."""
    parts = urlsplit(str(ctx.client.base_url))
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    name = f" {ctx.target}" if ctx.target else ""
    return f"Prometheus{name} at {parts.scheme}://{host}{port}"


def _cause(exc: httpx.HTTPError, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {min(timeout, CONNECT_TIMEOUT):g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection refused (is it running?)"
        if "name" in text or "resolve" in text or "known" in text:
            return f"cannot resolve the host name ({exc})"
        return f"cannot connect ({exc})"
    return f"{type(exc).__name__}: {exc}"


def get(ctx: Context[httpx.Client], path: str, params: dict[str, str] | None = None) -> Any:
    """GET /api/v1/PATH; the `data` of a success, else a HandlerError naming the cause."""
    timeout = ctx.timeout
    # httpx's read timeout is per read: a server that trickles bytes is cut by this deadline.
    deadline = time.monotonic() + timeout
    limits = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
    try:
        with ctx.client.stream("GET", f"/api/v1/{path}", params=params, timeout=limits) as resp:
            body = bytearray()
            for chunk in resp.iter_bytes():
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the answer did not arrive within the timeout")
                body += chunk
                if len(body) > MAX_BYTES:
                    raise InvalidRequest(
                        f"{where(ctx)}: the answer is larger than {MAX_BYTES // 2**20} MB; "
                        "narrow the query (add label matchers, or aggregate with sum by (...))"
                    )
            status = resp.status_code
    except httpx.HTTPError as exc:
        raise TargetUnavailable(f"{where(ctx)} is not answering: {_cause(exc, timeout)}") from None
    try:
        doc = json.loads(bytes(body))
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("status") == "error":
        kind, msg = str(doc.get("errorType", "")), redact(str(doc.get("error", "")))
        if kind == "bad_data" or status == 400:
            raise BadQuery(f"{where(ctx)} rejected the query: {msg}")
        if kind == "timeout":
            raise TargetUnavailable(f"{where(ctx)}: the query timed out in Prometheus ({msg})")
        raise HandlerError(f"{where(ctx)}: {kind or 'error'}: {msg}")
    if status == 401 or status == 403:
        raise HandlerError(
            f"{where(ctx)} answered HTTP {status}: check the `headers:` (Authorization) of this instance"
        )
    if status >= 300 or not isinstance(doc, dict) or "data" not in doc:
        snippet = bytes(body[:200]).decode("utf-8", "replace").strip()
        raise TargetUnavailable(
            f"{where(ctx)} answered HTTP {status}, not the Prometheus API: {redact(snippet)!r}"
        )
    return doc["data"]


def number(text: Any) -> float:
    """A sample value ("0.25", "NaN", "+Inf") as a float."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
