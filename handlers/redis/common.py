"""Shared plumbing for the Redis handlers: the target field, errors naming the instance, SCAN.

The client is a `redis.Redis` with decode_responses=False, so keys and values are bytes and
shown binary-safe. Every redis-py failure becomes a message that names the instance and the
cause (refused, DNS, timeout, authentication); secrets are redacted.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import redis
from pydantic import AfterValidator

from handlers import Context
from handlers.errors import Forbidden, HandlerError, InvalidRequest, TargetUnavailable
from handlers.params import arg
from handlers.redact import redact

# Seeds: "Redis memory >80%" is a warning; memory over 90% is critical.
MEMORY_WARN_PCT = 80.0
MEMORY_CRIT_PCT = 90.0
# Seeds: "Queue size >100" is a warning.
QUEUE_WARN = 100
SCAN_COUNT = 1000  # the COUNT hint per SCAN call
MAX_SCANNED = 1_000_000  # keys a listing or a preview examines at most
DELETE_BATCH = 500
PREVIEW_SAMPLE = 10


def instance_arg() -> Any:
    return arg(
        None,
        positional=True,
        flags=("--instance", "-i"),
        help="a configured Redis instance (default: the default one)",
    )


MAX_WILDCARDS = 16  # Redis matches globs by backtracking: `*a*a*a…` is bounded here


def _pattern(value: str) -> str:
    if not value or len(value) > 1024:
        raise ValueError("give a key pattern such as cache:* (at most 1024 characters)")
    wildcards = value.count("*") + value.count("?")
    if wildcards > MAX_WILDCARDS:
        raise ValueError(f"the pattern has {wildcards} wildcards (* and ?); use at most {MAX_WILDCARDS}")
    return value


KeyPattern = Annotated[str, AfterValidator(_pattern)]
"""A Redis glob pattern for SCAN MATCH."""


def key_bytes(name: str) -> bytes:
    """A key as typed; `\\xNN` escapes (as the listings show binary keys) become those bytes."""
    if re.search(r"\\x[0-9a-fA-F]{2}", name):
        try:
            return codecs.escape_decode(name.encode("utf-8"))[0]
        except ValueError as exc:  # `\x41\x4`: another escape is missing a digit
            raise InvalidRequest(
                f"key {name!r}: {exc}; write each byte as \\x and two hex digits (\\x04)"
            ) from None
    return name.encode("utf-8")


# What the bot gives a Redis handler: the instance's client (bot/services.py builds it).
RedisContext = Context[redis.Redis]


def label(ctx: RedisContext) -> str:
    return f"redis {ctx.target}" if ctx.target else "redis"


def address(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def db_number(client: redis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db", 0) or 0)


def redis_client(ctx: RedisContext) -> redis.Redis:
    if not isinstance(ctx.client, redis.Redis):
        raise HandlerError(f"{label(ctx)}: no Redis client is configured for it")
    return ctx.client


@contextmanager
def calls(ctx: RedisContext) -> Iterator[redis.Redis]:
    """The client; any redis-py failure becomes a HandlerError naming the instance and cause."""
    client = redis_client(ctx)
    where = f"{label(ctx)} at {address(client)}"
    try:
        yield client
    except redis.exceptions.AuthenticationError as exc:
        raise Forbidden(f"{where}: authentication failed: {message(exc)}") from None
    except redis.exceptions.TimeoutError as exc:
        raise TargetUnavailable(f"{where}: timed out ({message(exc)})") from None
    except redis.exceptions.ConnectionError as exc:
        raise TargetUnavailable(f"{where}: {connect_cause(exc)}") from None
    except redis.exceptions.NoPermissionError as exc:
        raise Forbidden(f"{where}: the bot's Redis user lacks a permission: {message(exc)}") from None
    except redis.exceptions.ResponseError as exc:
        raise HandlerError(f"{where}: {message(exc)}") from None
    except redis.exceptions.RedisError as exc:
        raise HandlerError(f"{where}: {type(exc).__name__}: {message(exc)}") from None


def message(exc: BaseException) -> str:
    return redact(" ".join((str(exc) or type(exc).__name__).split()))[:300]


def connect_cause(exc: BaseException) -> str:
    text = message(exc)
    lower = text.lower()
    if "refused" in lower:
        return f"connection refused ({text})"
    if "name or service not known" in lower or "nodename nor servname" in lower or "resolution" in lower:
        return f"DNS lookup failed ({text})"
    if "timed out" in lower or "timeout" in lower:
        return f"timed out ({text})"
    if "ssl" in lower or "certificate" in lower:
        return f"TLS error ({text})"
    return f"cannot connect ({text})"


def text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def scan(
    client: redis.Redis, pattern: str, *, want: int | None, deadline: float
) -> tuple[list[bytes], int, bool]:
    """SCAN MATCH until `want` keys, the end, MAX_SCANNED or the deadline: (keys, calls, complete)."""
    found: dict[bytes, None] = {}  # SCAN may return a key twice; keep the first order
    cursor, calls = 0, 0
    while True:
        reply: Any = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
        cursor, batch = int(reply[0]), reply[1]
        calls += 1
        found.update(dict.fromkeys(batch))
        if cursor == 0:
            return list(found), calls, True
        if (want is not None and len(found) >= want) or calls * SCAN_COUNT >= MAX_SCANNED:
            return list(found), calls, False
        if time.monotonic() >= deadline:
            return list(found), calls, False
