"""Keys: list by pattern (SCAN), inspect one, queue length, and delete by pattern."""

from __future__ import annotations

import time
from typing import Annotated, Any

import redis
from pydantic import Field

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest, NotFound, TargetMoved
from handlers.humanize import count, duration, show_bytes, size
from handlers.params import Params, arg
from handlers.pin import pinned
from handlers.redact import redact
from handlers.redis.common import (
    DELETE_BATCH,
    PREVIEW_SAMPLE,
    QUEUE_WARN,
    SCAN_COUNT,
    KeyPattern,
    calls,
    db_number,
    instance_arg,
    key_bytes,
    label,
    scan,
    text,
)
from handlers.results import Check, KeyValues, Pin, Preview, Status, Table, Text, Value


class Keys(Params):
    pattern: KeyPattern = arg(..., positional=True, help="a glob pattern: cache:*, ratelimit:api:*")
    limit: Annotated[int, Field(ge=1, le=1000)] = arg(100, flags=("-n", "--limit"), help="keys shown (100)")
    instance: str | None = instance_arg()


@handler("redis.keys", Keys, client=Client.REDIS)
def keys(ctx: Context[Any], params: Keys) -> Table:
    """Keys matching a pattern, with type and TTL; uses SCAN (never KEYS), capped.

    `/redis keys PATTERN [instance] [-n 100]`
    """
    deadline = time.monotonic() + ctx.timeout * 0.8
    with calls(ctx) as client:
        dbsize = int(client.dbsize())
        found, scan_calls, complete = scan(client, params.pattern, want=params.limit, deadline=deadline)
        shown = found[: params.limit]
        pipe = client.pipeline(transaction=False)
        for key in shown:
            pipe.type(key)
            pipe.pttl(key)
        replies = pipe.execute(raise_on_error=False)
    scanned = dbsize if complete else min(dbsize, scan_calls * SCAN_COUNT)
    if complete:
        summary = (
            f"{len(found)} keys match {params.pattern!r}; "
            f"scanned all {count(dbsize)} keys of db {db_number(client)}."
        )
    else:
        summary = (
            f"Showing the first {len(shown)} matches of {params.pattern!r}; stopped after scanning about "
            f"{count(scanned)} of {count(dbsize)} keys (there may be more)."
        )
    rows = []
    for i, key in enumerate(shown):
        kind, ttl = replies[2 * i], replies[2 * i + 1]
        rows.append((show_bytes(key), text(kind) if not isinstance(kind, Exception) else "?", _ttl(ttl)))
    return Table(
        title=f"Keys {params.pattern} on {label(ctx)}",
        columns=("key", "type", "TTL"),
        rows=rows,
        summary=summary,
        values={
            "matched": len(found),
            "shown": len(shown),
            "scanned": scanned,
            "dbsize": dbsize,
            "complete": complete,
        },
    )


def _ttl(pttl: Any) -> str:
    if isinstance(pttl, Exception) or pttl is None:
        return "?"
    ms = int(pttl)
    if ms == -1:
        return "no expiry"
    if ms == -2:
        return "gone"
    return duration(ms / 1000)


class Key(Params):
    name: str = arg(..., positional=True, help="the key (\\xNN escapes for binary bytes)")
    instance: str | None = instance_arg()


def _size(client: redis.Redis, key: bytes, kind: str) -> int | None:
    """Bytes of a string, elements of a collection; None for a type without a size command."""
    sizes: dict[str, Any] = {
        "string": client.strlen,
        "list": client.llen,
        "set": client.scard,
        "zset": client.zcard,
        "hash": client.hlen,
        "stream": client.xlen,
    }
    fn = sizes.get(kind)
    return None if fn is None else int(fn(key))


def _preview(client: redis.Redis, key: bytes, kind: str) -> str:
    """A short look at the value: the start of a string, the first few elements of a collection."""
    items: list[str]
    if kind == "string":
        value: Any = client.getrange(key, 0, 255)
        return show_bytes(value, 200)
    if kind == "list":
        members: Any = client.lrange(key, 0, 9)
        items = [show_bytes(m, 80) for m in members]
    elif kind == "set":
        scanned: Any = client.sscan(key, 0, count=10)
        items = [show_bytes(m, 80) for m in scanned[1][:10]]
    elif kind == "zset":
        pairs: Any = client.zrange(key, 0, 9, withscores=True)
        items = [f"{show_bytes(m, 60)} ({s:g})" for m, s in pairs]
    elif kind == "hash":
        fields: Any = client.hscan(key, 0, count=10)
        items = [f"{show_bytes(f, 40)}={show_bytes(v, 60)}" for f, v in list(fields[1].items())[:10]]
    elif kind == "stream":
        entries: Any = client.xrevrange(key, count=3)
        items = [
            f"{text(eid)} "
            + " ".join(f"{show_bytes(k, 30)}={show_bytes(v, 40)}" for k, v in (e or {}).items())
            for eid, e in entries or []
        ]
    else:
        return ""
    return ", ".join(items)


@handler("redis.key", Key, client=Client.REDIS)
def key(ctx: Context[Any], params: Key) -> KeyValues:
    """One key: type, TTL, size, memory and a short, binary-safe preview of its value.

    `/redis key NAME [instance]`
    """
    name = key_bytes(params.name)
    with calls(ctx) as client:
        pipe = client.pipeline(transaction=False)
        pipe.type(name)
        pipe.pttl(name)
        pipe.memory_usage(name)
        kind_raw, pttl, memory = pipe.execute(raise_on_error=False)
        kind = text(kind_raw)
        if kind == "none":
            raise NotFound(f"{label(ctx)}: no key {show_bytes(name)} in db {db_number(client)}")
        length = _size(client, name, kind)
        preview = redact(_preview(client, name, kind))
    unit = "bytes" if kind == "string" else "elements"
    memory_bytes = int(memory) if isinstance(memory, int) else None
    ttl_s = None if isinstance(pttl, Exception) else (int(pttl) / 1000 if int(pttl) >= 0 else int(pttl))
    return KeyValues(
        title=f"Key {show_bytes(name)} on {label(ctx)}",
        items=(
            ("Type", kind),
            ("TTL", _ttl(pttl)),
            ("Size", f"{count(length)} {unit}" if length is not None else "unknown"),
            ("Memory", size(memory_bytes) if memory_bytes is not None else "unknown"),
            ("Value", preview or "(empty)"),
        ),
        values={"exists": True, "type": kind, "ttl_s": ttl_s, "size": length, "memory_bytes": memory_bytes},
    )


class Llen(Params):
    queue: str = arg(..., positional=True, help="the list used as a queue, e.g. queue:forecasts")
    warn: Annotated[int, Field(ge=0)] = arg(
        QUEUE_WARN, flags=("--warn",), help="warn above this length (100)"
    )
    instance: str | None = instance_arg()


@handler("redis.llen", Llen, client=Client.REDIS)
def llen(ctx: Context[Any], params: Llen) -> Check:
    """Length of a list used as a queue; warns above 100 (the seeds' queue threshold).

    `/redis llen QUEUE [instance] [--warn 100]`
    """
    name = key_bytes(params.queue)
    with calls(ctx) as client:
        pipe = client.pipeline(transaction=False)
        pipe.type(name)
        pipe.llen(name)
        kind_raw, length = pipe.execute(raise_on_error=False)
    kind = text(kind_raw)
    if kind not in ("list", "none"):
        raise InvalidRequest(f"{label(ctx)}: key {params.queue} is a {kind}, not a list (see /redis key)")
    n = int(length)
    status = Status.WARN if n > params.warn else Status.OK
    detail = (
        f"{count(n)} items waiting (warning above {params.warn})"
        if kind == "list"
        else "empty: the key does not exist (Redis removes an empty list)"
    )
    return Check(
        title=f"Queue {params.queue} on {label(ctx)}",
        status=status,
        detail=detail,
        values={"length": n, "exists": kind == "list"},
    )


class Delete(Params):
    pattern: KeyPattern = arg(
        ..., positional=True, help="the keys to delete: cache:*, ratelimit:api:ip:1.2.3.4"
    )
    instance: str | None = instance_arg()


# A preview that found at most this many keys (all of them) pins the keys themselves: the
# confirmed run deletes exactly those. Beyond it, the count is pinned instead.
PIN_KEYS = 1000
# A pattern matching this share of the keys scanned is flagged as a whole-database delete,
# however it is spelled (`*`, `?*`, `[a-z]*` on a db of lowercase keys).
WHOLE_DB = 0.9
# The confirmed run refuses when this many more keys match than the preview counted.
GROWTH = 1.1


def preview_delete(ctx: Context[Any], params: Delete) -> Preview:
    deadline = time.monotonic() + ctx.timeout * 0.8
    with calls(ctx) as client:
        found, scan_calls, complete = scan(client, params.pattern, want=None, deadline=deadline)
        dbsize = int(client.dbsize())
    db = db_number(client)
    where = f"{label(ctx)} db {db}"
    if not found and complete:
        return Preview(
            summary=f"No keys match {params.pattern!r} on {where}: nothing would be deleted",
            pin={"pattern": params.pattern, "count": 0, "complete": True, "keys": []},
        )
    n = f"{count(len(found))}" if complete else f"at least {count(len(found))}"
    details = [f"e.g. {show_bytes(k)}" for k in found[:PREVIEW_SAMPLE]]
    scanned = dbsize if complete else min(dbsize, scan_calls * SCAN_COUNT)
    if not complete:
        details.append(f"(counting stopped after scanning about {count(scanned)} of {count(dbsize)} keys)")
    summary = f"Delete {n} keys matching {params.pattern!r} on {where}"
    if scanned and len(found) >= WHOLE_DB * scanned:
        share = min(100, round(100 * len(found) / scanned))
        details.insert(
            0,
            f"this pattern matches EVERY key in db {db} ({count(dbsize)} keys)"
            if share >= 100 and complete
            else f"this pattern matches nearly EVERY key in db {db}: {share}% of the keys scanned",
        )
    details.append("Keys are removed with UNLINK in batches; memory is freed in the background.")
    pin: dict[str, Value | list[str]] = {"pattern": params.pattern, "count": len(found), "complete": complete}
    if complete and len(found) <= PIN_KEYS:
        pin["keys"] = [k.hex() for k in found]
    return Preview(summary=summary, details=details, pin=pin)


def _delete_pinned(ctx: Context[Any], params: Delete, keys: list[str]) -> Text:
    """Delete exactly the keys the confirmed preview listed (those that still exist)."""
    names = [bytes.fromhex(k) for k in keys]
    deleted, batches = 0, 0
    with calls(ctx) as client:
        for start in range(0, len(names), DELETE_BATCH):
            deleted += int(client.unlink(*names[start : start + DELETE_BATCH]))
            batches += 1
    where = f"{label(ctx)} db {db_number(client)}"
    gone = len(names) - deleted
    outcome = (
        f"Deleted {count(deleted)} keys matching {params.pattern!r} on {where}: the keys the preview listed"
    )
    outcome += f" ({count(gone)} of them had gone already)." if gone else "."
    outcome += " Keys that match and appeared after the preview were left."
    return Text(
        title=f"Deleted {params.pattern} on {label(ctx)}",
        text=outcome,
        values={"deleted": deleted, "batches": batches, "complete": True, "previewed": len(names)},
    )


def _check_growth(ctx: Context[Any], params: Delete, pin: Pin) -> None:
    """Refuse when far more keys match now than the confirmed preview counted."""
    counted = pin.get("count")
    was = counted if isinstance(counted, int) else 0
    deadline = time.monotonic() + ctx.timeout * 0.8
    with calls(ctx) as client:
        found, _calls, complete = scan(
            client, params.pattern, want=int(was * GROWTH) + 101, deadline=deadline
        )
    if len(found) > was * GROWTH + 100:
        raise TargetMoved(
            f"{label(ctx)}: {'more than ' if not complete else ''}{count(len(found))} keys match "
            f"{params.pattern!r} now, and the confirmed preview counted {count(was)}; refusing to delete "
            "them. Nothing was deleted; ask again for a fresh preview."
        )


@handler("redis.delete", Delete, client=Client.REDIS, destructive=True, preview=preview_delete)
def delete(ctx: Context[Any], params: Delete) -> Text:
    """Delete the keys matching a pattern (SCAN + UNLINK in batches): clear a cache, reset a rate limit.

    `/redis delete PATTERN [instance]`
    """
    pin = pinned(ctx)
    if pin is not None:
        keys = pin.get("keys")
        if isinstance(keys, list):
            return _delete_pinned(ctx, params, [str(k) for k in keys])
        _check_growth(ctx, params, pin)
    deleted, batches = 0, 0
    deadline = time.monotonic() + ctx.timeout * 2.5
    complete = False
    with calls(ctx) as client:
        cursor, pending = 0, []
        while True:
            cursor, batch = client.scan(cursor=cursor, match=params.pattern, count=SCAN_COUNT)
            pending.extend(batch)
            done = cursor == 0
            while len(pending) >= DELETE_BATCH or (done and pending):
                chunk, pending = pending[:DELETE_BATCH], pending[DELETE_BATCH:]
                deleted += int(client.unlink(*chunk))
                batches += 1
            if done:
                complete = True
                break
            if time.monotonic() >= deadline:
                if pending:
                    deleted += int(client.unlink(*pending))
                    batches += 1
                break
    where = f"{label(ctx)} db {db_number(client)}"
    outcome = f"Deleted {count(deleted)} keys matching {params.pattern!r} on {where}."
    if not complete:
        outcome += " Stopped at the time limit with keys left to scan: run the command again to continue."
    return Text(
        title=f"Deleted {params.pattern} on {label(ctx)}",
        text=outcome,
        values={"deleted": deleted, "batches": batches, "complete": complete},
    )
