"""Server views: ping, info, latency, slowlog."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis
from pydantic import Field

from handlers import Client, handler
from handlers.humanize import count, duration, millis, pct, show_bytes, size
from handlers.params import Params, arg
from handlers.redact import redact
from handlers.redis.common import (
    MEMORY_CRIT_PCT,
    MEMORY_WARN_PCT,
    RedisContext,
    address,
    calls,
    db_number,
    instance_arg,
    label,
    text,
)
from handlers.results import Check, Group, KeyValues, Result, Status, Table, Value


class Target(Params):
    instance: str | None = instance_arg()


@handler("redis.ping", Target, client=Client.REDIS)
def ping(ctx: RedisContext, params: Target) -> KeyValues:
    """PING the instance and report the round-trip time, version and role.

    `/redis ping [instance]`
    """
    with calls(ctx) as client:
        client.ping()  # the first call may also open the connection; time the next one
        started = time.perf_counter()
        client.ping()
        rtt_ms = (time.perf_counter() - started) * 1000
        try:
            server = client.info("server")
            role = text(client.info("replication").get("role", ""))
        except redis.exceptions.ResponseError:  # INFO renamed away on some managed services
            server, role = {}, ""
    return KeyValues(
        title=f"{label(ctx)} is up",
        items=(
            ("Round trip (PING)", millis(rtt_ms)),
            ("Version", text(server.get("redis_version", "unknown"))),
            ("Role", role or "unknown"),
            ("Uptime", duration(server.get("uptime_in_seconds"))),
            ("Address", f"{address(client)} db {db_number(client)}"),
        ),
        values={"up": True, "rtt_ms": round(rtt_ms, 3), "version": text(server.get("redis_version", ""))},
    )


Section = Literal["server", "clients", "memory", "stats", "keyspace", "replication"]


# INFO as redis-py parses it: numbers, strings and, for db0… and slave0…, dicts of fields.
InfoReply = dict[str, Any]


class Info(Params):
    section: Section | None = arg(None, flags=("--section", "-s"), help="only this section")
    instance: str | None = instance_arg()


def _memory_check(ctx: RedisContext, info: dict[str, Any]) -> tuple[Check, float | None]:
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    policy = text(info.get("maxmemory_policy", ""))
    if limit <= 0:
        host = int(info.get("total_system_memory", 0))
        detail = f"{size(used)} used; no maxmemory set, so Redis grows until the host's memory runs out" + (
            f" ({size(host)})" if host else ""
        )
        return Check(title=f"Memory of {label(ctx)}", status=Status.OK, detail=detail), None
    used_pct = round(100.0 * used / limit, 1)
    status = (
        Status.CRIT
        if used_pct >= MEMORY_CRIT_PCT
        else Status.WARN
        if used_pct >= MEMORY_WARN_PCT
        else Status.OK
    )
    detail = (
        f"{size(used)} of {size(limit)} maxmemory used ({pct(used_pct)}); eviction policy {policy}. "
        f"Thresholds: warn {MEMORY_WARN_PCT:.0f}%, critical {MEMORY_CRIT_PCT:.0f}%."
    )
    return Check(title=f"Memory of {label(ctx)}", status=status, detail=detail), used_pct


@handler("redis.info", Info, client=Client.REDIS)
def info(ctx: RedisContext, params: Info) -> Group:
    """INFO summarised: server, clients, memory (warn at 80% of maxmemory), stats, keyspace, replication.

    Stats include the keyspace hit ratio; replication shows each replica's lag.
    `/redis info [instance] [--section memory]`
    """
    with calls(ctx) as client:
        data: InfoReply = client.info()
    keyspace = _numbered(data, "db")
    replicas = _numbered(data, "slave")
    master_offset = int(data.get("master_repl_offset", 0))
    check, used_pct = _memory_check(ctx, data)
    facts = _facts(data, keyspace, replicas, master_offset, used_pct)
    sections: dict[str, Result] = {
        "server": _server_section(data, facts),
        "clients": _clients_section(facts),
        "memory": _memory_section(data, facts, check),
        "stats": _stats_section(data, facts),
        "keyspace": _keyspace_section(keyspace),
        "replication": _replication(data, replicas, master_offset),
    }
    chosen = [params.section] if params.section else list(sections)
    return Group(title=f"INFO {label(ctx)}", parts=[sections[s] for s in chosen], values=facts.values())


def _numbered(data: InfoReply, prefix: str) -> dict[str, InfoReply]:
    """INFO's numbered entries (db0, db1…; slave0…), each a dict of its fields."""
    return {k: v for k, v in data.items() if re.fullmatch(rf"{prefix}\d+", k) and isinstance(v, dict)}


@dataclass(frozen=True)
class _Facts:
    """INFO's numbers, parsed once; `values()` names them for runbook checks."""

    version: str
    uptime_s: int
    connected_clients: int
    maxclients: int
    blocked_clients: int
    used_memory: int
    maxmemory: int
    used_pct: float | None
    fragmentation_ratio: float
    ops_per_sec: int
    hits: int
    misses: int
    evicted_keys: int
    expired_keys: int
    rejected_connections: int
    keys: int
    role: str
    connected_replicas: int
    max_replica_lag_bytes: int
    master_link_up: bool  # only meaningful on a replica

    @property
    def hit_pct(self) -> float | None:
        lookups = self.hits + self.misses
        return round(100.0 * self.hits / lookups, 2) if lookups else None

    def values(self) -> dict[str, Value]:
        """The named facts runbook checks compare (`used_pct`, `hit_pct`, `max_replica_lag_bytes`…)."""
        out: dict[str, Value] = {
            "version": self.version,
            "uptime_s": self.uptime_s,
            "connected_clients": self.connected_clients,
            "maxclients": self.maxclients,
            "clients_pct": round(100.0 * self.connected_clients / self.maxclients, 1)
            if self.maxclients
            else None,
            "blocked_clients": self.blocked_clients,
            "used_memory": self.used_memory,
            "maxmemory": self.maxmemory,
            "used_pct": self.used_pct,
            "fragmentation_ratio": self.fragmentation_ratio,
            "ops_per_sec": self.ops_per_sec,
            "hits": self.hits,
            "misses": self.misses,
            "hit_pct": self.hit_pct,
            "evicted_keys": self.evicted_keys,
            "expired_keys": self.expired_keys,
            "rejected_connections": self.rejected_connections,
            "keys": self.keys,
            "role": self.role,
            "connected_replicas": self.connected_replicas,
            "max_replica_lag_bytes": self.max_replica_lag_bytes,
        }
        if self.role == "slave":
            out["master_link_up"] = self.master_link_up
        return out


def _facts(
    data: InfoReply,
    keyspace: dict[str, InfoReply],
    replicas: dict[str, InfoReply],
    master_offset: int,
    used_pct: float | None,
) -> _Facts:
    return _Facts(
        version=text(data.get("redis_version", "")),
        uptime_s=int(data.get("uptime_in_seconds", 0)),
        connected_clients=int(data.get("connected_clients", 0)),
        maxclients=int(data.get("maxclients", 0)),
        blocked_clients=int(data.get("blocked_clients", 0)),
        used_memory=int(data.get("used_memory", 0)),
        maxmemory=int(data.get("maxmemory", 0)),
        used_pct=used_pct,
        fragmentation_ratio=float(data.get("mem_fragmentation_ratio", 0) or 0),
        ops_per_sec=int(data.get("instantaneous_ops_per_sec", 0)),
        hits=int(data.get("keyspace_hits", 0)),
        misses=int(data.get("keyspace_misses", 0)),
        evicted_keys=int(data.get("evicted_keys", 0)),
        expired_keys=int(data.get("expired_keys", 0)),
        rejected_connections=int(data.get("rejected_connections", 0)),
        keys=sum(int(v.get("keys", 0)) for v in keyspace.values()),
        role=text(data.get("role", "")),
        connected_replicas=int(data.get("connected_slaves", 0)),
        max_replica_lag_bytes=max(
            (master_offset - int(v.get("offset", 0)) for v in replicas.values()), default=0
        ),
        master_link_up=text(data.get("master_link_status", "")) == "up",
    )


def _server_section(data: InfoReply, f: _Facts) -> KeyValues:
    return KeyValues(
        title="Server",
        items=(
            ("Version", f.version),
            ("Mode", text(data.get("redis_mode", ""))),
            ("Role", f.role),
            ("Uptime", duration(f.uptime_s)),
        ),
    )


def _clients_section(f: _Facts) -> KeyValues:
    return KeyValues(
        title="Clients",
        items=(
            ("Connected", f"{count(f.connected_clients)} of {count(f.maxclients)} maxclients"),
            ("Blocked (BLPOP etc.)", count(f.blocked_clients)),
            ("Rejected connections", count(f.rejected_connections)),
        ),
    )


def _memory_section(data: InfoReply, f: _Facts, check: Check) -> Group:
    return Group(
        title="Memory",
        parts=(
            check,
            KeyValues(
                title="Memory",
                items=(
                    ("Used / peak", f"{size(f.used_memory)} / {size(data.get('used_memory_peak'))}"),
                    ("Fragmentation ratio", f"{f.fragmentation_ratio:.2f}"),
                    ("Evicted keys", count(f.evicted_keys)),
                ),
            ),
        ),
    )


def _stats_section(data: InfoReply, f: _Facts) -> KeyValues:
    lookups = f"{pct(f.hit_pct) or 'no lookups yet'} ({count(f.hits)} hits, {count(f.misses)} misses)"
    return KeyValues(
        title="Stats",
        items=(
            ("Ops/sec", count(f.ops_per_sec)),
            ("Hit ratio", lookups),
            ("Expired / evicted keys", f"{count(f.expired_keys)} / {count(f.evicted_keys)}"),
            ("Commands processed", count(data.get("total_commands_processed"))),
        ),
    )


def _keyspace_section(keyspace: dict[str, InfoReply]) -> Table:
    return Table(
        title="Keyspace",
        columns=("db", "keys", "with expiry", "avg TTL"),
        rows=[
            (db, count(v.get("keys")), count(v.get("expires")), duration(int(v.get("avg_ttl", 0)) / 1000))
            for db, v in sorted(keyspace.items(), key=lambda kv: int(kv[0][2:]))
        ],
        summary="" if keyspace else "No keys.",
    )


def _replication(data: dict[str, Any], replicas: dict[str, Any], master_offset: int) -> Result:
    if text(data.get("role", "")) == "slave":
        return KeyValues(
            title="Replication",
            items=(
                ("Role", "replica"),
                ("Master", f"{text(data.get('master_host', ''))}:{data.get('master_port', '')}"),
                ("Link", text(data.get("master_link_status", ""))),
                ("Last contact", f"{data.get('master_last_io_seconds_ago', '?')} s ago"),
            ),
        )
    return Table(
        title="Replication",
        columns=("replica", "state", "lag", "behind"),
        rows=[
            (
                f"{text(v.get('ip', ''))}:{v.get('port', '')}",
                text(v.get("state", "")),
                f"{v.get('lag', '?')} s",
                size(master_offset - int(v.get("offset", 0))),
            )
            for v in replicas.values()
        ],
        summary=f"master with {len(replicas)} replicas" if replicas else "master with no replicas",
    )


class Latency(Params):
    count: Annotated[int, Field(ge=1, le=1000)] = arg(20, flags=("-n", "--count"), help="how many PINGs (20)")
    instance: str | None = instance_arg()


@handler("redis.latency", Latency, client=Client.REDIS)
def latency(ctx: RedisContext, params: Latency) -> KeyValues:
    """N PINGs in a row: min, average and max round trip, as `redis-cli --latency` shows.

    `/redis latency [instance] [-n 20]`
    """
    samples: list[float] = []
    deadline = time.monotonic() + ctx.timeout
    with calls(ctx) as client:
        client.ping()  # open the connection outside the measurement
        while len(samples) < params.count and time.monotonic() < deadline:
            started = time.perf_counter()
            client.ping()
            samples.append((time.perf_counter() - started) * 1000)
    ordered = sorted(samples)
    values = {
        "samples": len(samples),
        "min_ms": round(ordered[0], 3),
        "avg_ms": round(statistics.fmean(samples), 3),
        "max_ms": round(ordered[-1], 3),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
    }
    return KeyValues(
        title=f"Latency of {label(ctx)} ({len(samples)} PINGs)",
        items=(
            ("min", millis(values["min_ms"])),
            ("avg", millis(values["avg_ms"])),
            ("max", millis(values["max_ms"])),
            ("p50 / p99", f"{millis(values['p50_ms'])} / {millis(values['p99_ms'])}"),
        ),
        values=values,
    )


class Slowlog(Params):
    count: Annotated[int, Field(ge=1, le=128)] = arg(
        10, flags=("-n", "--count"), help="how many entries (10)"
    )
    instance: str | None = instance_arg()


@handler("redis.slowlog", Slowlog, client=Client.REDIS)
def slowlog(ctx: RedisContext, params: Slowlog) -> Table:
    """The newest SLOWLOG entries: when, how long, the command and the client.

    `/redis slowlog [instance] [-n 10]`
    """
    with calls(ctx) as client:
        entries = client.slowlog_get(params.count)
        total = int(client.slowlog_len())
        try:
            threshold = text(client.config_get("slowlog-log-slower-than").get("slowlog-log-slower-than", ""))
        except redis.exceptions.ResponseError:  # CONFIG is disabled on some managed services
            threshold = ""
    now = time.time()
    slowest = max((int(e["duration"]) for e in entries), default=0) / 1000
    summary = f"{total} entries in the slow log"
    if threshold:
        summary += f" (commands slower than {millis(int(threshold) / 1000)})"
    return Table(
        title=f"Slow log of {label(ctx)}",
        columns=("id", "when", "took", "command", "client"),
        rows=[
            (
                str(e["id"]),
                f"{duration(now - int(e['start_time']))} ago",
                millis(int(e["duration"]) / 1000),
                redact(show_bytes(e.get("command", b""), 120)),
                text(e.get("clientaddress", b"")) + (f" ({text(n)})" if (n := e.get("client_name")) else ""),
            )
            for e in entries
        ],
        summary=summary,
        values={"entries": len(entries), "length": total, "slowest_ms": round(slowest, 3)},
    )
