"""HTTP plumbing for the /health handlers: URL checking, one bounded fetch, named failures.

A failed request is named for what it is (DNS lookup failed, connection refused, TLS
certificate verification failed, timed out) by walking the exception chain httpx keeps
(httpx error -> httpcore error -> OSError / ssl.SSLError). URLs are shown with passwords and
tokens redacted.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator

from handlers import Context
from handlers.errors import HandlerError, TargetUnavailable
from handlers.health.egress import EgressPolicy
from handlers.redact import redact

CONNECT_TIMEOUT = 3.0
MAX_BODY = 1 << 20  # health bodies: 1 MiB is plenty
USER_AGENT = "chatops-health/1"


def _http_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{redact(value)!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{redact(value)!r} is not an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An absolute http(s) URL."""


def is_url(value: str | None) -> bool:
    return bool(value) and "://" in str(value)


def shown(url: str) -> str:
    """A URL as users see it: userinfo passwords and token-like query values replaced."""
    return redact(url)


def http_client(ctx: Context[Any]) -> httpx.Client:
    if not isinstance(ctx.client, httpx.Client):
        raise HandlerError("no HTTP client is configured")
    return ctx.client


def check_allowed(ctx: Context[Any], url: str) -> None:
    """Refuse a URL the config does not name before any work (the transport checks it again)."""
    policy = ctx.options.get("egress")
    if isinstance(policy, EgressPolicy):
        policy.check_url(url)


class FetchError(TargetUnavailable):
    """A request that got no HTTP response; `cause` names why (DNS, refused, TLS, timeout)."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"{shown(url)}: {cause}")
        self.url = url
        self.cause = cause


@dataclass(frozen=True)
class Fetched:
    method: str
    url: str
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool
    elapsed_s: float

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe(exc: BaseException, url: str, timeout: float) -> str:
    """Name why a request failed: timeout, TLS, DNS, refused, reset, or a bad HTTP answer."""
    host = httpx.URL(url).host
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting to {host} (after {timeout:g} s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out: no response within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed for {host}: {cause.verify_message or cause.reason}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error with {host}: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}:{httpx.URL(url).port or _default_port(url)}"
        if isinstance(cause, ConnectionResetError):
            return f"connection reset by {host}"
    text = redact(" ".join(str(exc).split())) or type(exc).__name__
    lower = text.lower()
    if "certificate" in lower or "ssl" in lower or "tls" in lower:
        return f"TLS error with {host}: {text}"
    if "name or service not known" in lower or "nodename nor servname" in lower:
        return f"DNS lookup failed for {host}: {text}"
    if "refused" in lower:
        return f"connection refused by {host}: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{host} closed the connection or sent invalid HTTP: {text}"
    return f"request to {host} failed: {type(exc).__name__}: {text}"


def _default_port(url: str) -> int:
    return 443 if url.lower().startswith("https") else 80


def fetch(
    ctx: Context[Any], method: str, url: str, *, read_body: bool = True, max_body: int = MAX_BODY
) -> Fetched:
    """One request bounded by ctx.timeout (also in total, against a server that trickles)."""
    client = http_client(ctx)
    check_allowed(ctx, url)
    timeout = max(ctx.timeout, 0.1)
    limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
    started = time.perf_counter()
    try:
        with client.stream(method, url, timeout=limits, headers={"User-Agent": USER_AGENT}) as resp:
            chunks: list[bytes] = []
            size, truncated = 0, False
            if read_body:
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= max_body:
                        truncated = True
                        break
                    if time.perf_counter() - started > timeout:
                        raise FetchError(url, f"timed out: the body did not arrive within {timeout:g} s")
            elapsed = time.perf_counter() - started
            return Fetched(
                method=method,
                url=url,
                status=resp.status_code,
                reason=resp.reason_phrase,
                http_version=resp.http_version,
                # As sent (curl -I shows the server's spelling, not lowercased names).
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers.raw],
                body=b"".join(chunks)[:max_body],
                truncated=truncated,
                elapsed_s=elapsed,
            )
    except httpx.HTTPError as exc:
        raise FetchError(url, describe(exc, url, timeout)) from None
    except (httpx.InvalidURL, httpx.StreamError) as exc:
        raise FetchError(url, f"cannot request it: {redact(str(exc))}") from None
