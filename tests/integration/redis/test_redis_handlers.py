"""The /redis handlers against real Redis servers, with keys seeded per test."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis

from handlers import Context
from handlers.errors import Forbidden, HandlerError, InvalidRequest, NotFound, TargetUnavailable
from handlers.results import Check, Group, KeyValues, Status, Table, Text
from tests.values import num


def test_ping_reports_the_round_trip(run) -> None:
    result = run("redis.ping")
    assert isinstance(result, KeyValues)
    assert result.values["up"] is True
    assert num(result.values, "rtt_ms") > 0
    assert dict(result.items)["Address"] == "127.0.0.1:6379 db 11"


def test_info_summarises_each_section(run, shared, prefix) -> None:
    shared.set(prefix + "hit", "1")
    shared.get(prefix + "hit")
    shared.get(prefix + "miss")
    result = run("redis.info")
    assert isinstance(result, Group)
    titles = [p.title for p in result.parts]
    assert titles == ["Server", "Clients", "Memory", "Stats", "Keyspace", "Replication"]
    v = result.values
    assert v["role"] == "master"
    assert num(v, "connected_clients") >= 1
    assert num(v, "keys") >= 1
    assert 0 < num(v, "hit_pct") < 100
    keyspace = next(p for p in result.parts if p.title == "Keyspace")
    assert isinstance(keyspace, Table)
    assert any(r[0] == "db11" for r in keyspace.rows)
    only = run("redis.info", section="memory")
    assert [p.title for p in only.parts] == ["Memory"]


def _fill_to(client: redis.Redis, pct: float, tag: str) -> float:
    """Write 64 kB values until memory use reaches `pct` of maxmemory."""
    maxmemory = client.config_get("maxmemory")["maxmemory"]
    assert maxmemory is not None
    limit = int(maxmemory)
    i = 0
    while True:
        used = int(client.info("memory")["used_memory"])
        if 100 * used / limit >= pct:
            return 100 * used / limit
        client.set(f"fill:{tag}:{i}", b"x" * 65536)
        i += 1


def test_memory_warns_at_80_and_is_critical_at_90_percent(registry, private_redis) -> None:
    private_redis.flushall()
    ctx = Context(client=private_redis, timeout=5, target="sessions")
    spec = registry.get("redis.info")

    def memory_check() -> Check:
        result = spec.fn(ctx, spec.params.model_validate({"section": "memory"}))
        check = result.parts[0].parts[0]
        assert isinstance(check, Check)
        return check

    assert memory_check().status is Status.OK
    _fill_to(private_redis, 82, "a")
    check = memory_check()
    assert check.status is Status.WARN
    assert "maxmemory" in check.detail
    _fill_to(private_redis, 91, "b")
    assert memory_check().status is Status.CRIT
    result = spec.fn(ctx, spec.params())
    assert result.values["used_pct"] >= 90
    private_redis.flushall()


def test_no_maxmemory_is_said_plainly(run) -> None:
    result = run("redis.info", section="memory")
    check = result.parts[0].parts[0]
    assert check.status is Status.OK
    assert "no maxmemory set" in check.detail
    assert result.values["used_pct"] is None


def test_latency_takes_n_pings(run) -> None:
    result = run("redis.latency", count=15)
    v = result.values
    assert v["samples"] == 15
    assert 0 < v["min_ms"] <= v["avg_ms"] <= v["max_ms"]


def test_slowlog_lists_recent_slow_commands(registry, private_redis) -> None:
    private_redis.slowlog_reset()
    private_redis.set("slow:key", "v")
    ctx = Context(client=private_redis, timeout=5, target="sessions")
    spec = registry.get("redis.slowlog")
    result = spec.fn(ctx, spec.params.model_validate({"count": 5}))
    assert isinstance(result, Table)
    assert any("SET slow:key v" in r[3] for r in result.rows)
    assert num(result.values, "length") >= 1
    assert "slower than 0.00 ms" in result.summary


def test_keys_uses_scan_and_caps_the_listing(run, shared, prefix) -> None:
    shared.mset({f"{prefix}ratelimit:ip:{i}": i for i in range(150)})
    shared.set(prefix + "other", "x")
    shared.expire(f"{prefix}ratelimit:ip:7", 300)
    capped = run("redis.keys", pattern=f"{prefix}ratelimit:*", limit=20)
    assert isinstance(capped, Table)
    assert len(capped.rows) == 20
    assert capped.values["shown"] == 20
    assert num(capped.values, "scanned") >= 1
    every = run("redis.keys", pattern=f"{prefix}ratelimit:*", limit=1000)
    assert every.values["complete"] is True
    assert every.values["matched"] == 150
    assert every.values["scanned"] == every.values["dbsize"]
    assert "scanned all" in every.summary
    rows = {r[0]: r for r in every.rows}
    assert rows[f"{prefix}ratelimit:ip:7"][1:] == ("string", rows[f"{prefix}ratelimit:ip:7"][2])
    assert rows[f"{prefix}ratelimit:ip:7"][2] != "no expiry"
    assert rows[f"{prefix}ratelimit:ip:8"][2] == "no expiry"


def test_keys_and_key_are_binary_safe(run, shared, prefix) -> None:
    name = prefix.encode() + b"bin:\xff\x00"
    shared.set(name, b"\x00\x01payload\xfe")
    listed = run("redis.keys", pattern=prefix + "bin:*")
    shown = listed.rows[0][0]
    assert shown == prefix + "bin:\\xff\\x00"
    found = run("redis.key", name=shown)
    assert found.values["type"] == "string"
    assert dict(found.items)["Value"] == "\\x00\\x01payload\\xfe"


def test_key_shows_type_ttl_size_and_a_preview(run, shared, prefix) -> None:
    shared.hset(prefix + "user:1", mapping={"name": "Ada", "plan": "pro"})
    shared.expire(prefix + "user:1", 600)
    shared.rpush(prefix + "jobs", *[f"job-{i}" for i in range(30)])
    shared.zadd(prefix + "board", {"ada": 3, "bob": 1})
    h = run("redis.key", name=prefix + "user:1")
    assert h.values["type"] == "hash"
    assert h.values["size"] == 2
    assert 590 < h.values["ttl_s"] <= 600
    assert "name=Ada" in dict(h.items)["Value"]
    lst = run("redis.key", name=prefix + "jobs")
    assert lst.values["size"] == 30
    assert lst.values["ttl_s"] == -1
    assert dict(lst.items)["Value"].startswith("job-0, job-1")
    assert "job-10" not in dict(lst.items)["Value"], "a short preview"
    z = run("redis.key", name=prefix + "board")
    assert "bob (1)" in dict(z.items)["Value"]


def test_key_preview_hides_secrets(run, shared, prefix) -> None:
    shared.set(prefix + "cfg", "postgresql://app:Hunter2Secret@db:5432/app")
    assert "Hunter2Secret" not in repr(run("redis.key", name=prefix + "cfg"))


def test_a_missing_key_is_named(run, prefix) -> None:
    with pytest.raises(NotFound, match=rf"redis cache: no key {prefix}nope in db 11"):
        run("redis.key", name=prefix + "nope")


def test_llen_warns_over_100_queued(run, shared, prefix) -> None:
    shared.rpush(prefix + "queue:forecasts", *range(120))
    shared.rpush(prefix + "queue:emails", *range(3))
    busy = run("redis.llen", queue=prefix + "queue:forecasts")
    assert isinstance(busy, Check)
    assert busy.status is Status.WARN
    assert busy.values == {"length": 120, "exists": True}
    assert run("redis.llen", queue=prefix + "queue:emails").status is Status.OK
    empty = run("redis.llen", queue=prefix + "queue:none")
    assert empty.values == {"length": 0, "exists": False}
    shared.set(prefix + "notalist", "x")
    with pytest.raises(InvalidRequest, match="is a string, not a list"):
        run("redis.llen", queue=prefix + "notalist")


def test_delete_preview_counts_and_samples_without_deleting(preview, shared, prefix) -> None:
    shared.mset({f"{prefix}cache:page:{i}": "html" for i in range(1200)})
    shown = preview("redis.delete", pattern=prefix + "cache:*")
    assert shown.summary == f"Delete 1,200 keys matching '{prefix}cache:*' on redis cache db 11"
    assert sum(d.startswith("e.g. ") for d in shown.details) == 10
    assert shared.exists(f"{prefix}cache:page:0") == 1
    nothing = preview("redis.delete", pattern=prefix + "nothing:*")
    assert "nothing would be deleted" in nothing.summary


def test_delete_unlinks_matching_keys_in_batches(run, shared, prefix) -> None:
    shared.mset({f"{prefix}cache:page:{i}": "html" for i in range(1200)})
    shared.set(prefix + "ratelimit:api:ip:1.2.3.4", 99)
    result = run("redis.delete", pattern=prefix + "cache:*")
    assert isinstance(result, Text)
    assert result.values == {"deleted": 1200, "batches": 3, "complete": True}
    assert list(shared.scan_iter(match=prefix + "cache:*", count=1000)) == []
    assert shared.get(prefix + "ratelimit:api:ip:1.2.3.4") == b"99", "other keys stay"
    reset = run("redis.delete", pattern=prefix + "ratelimit:api:ip:1.2.3.4")
    assert reset.values["deleted"] == 1


def test_patterns_must_not_be_empty(registry) -> None:
    with pytest.raises(ValueError, match="pattern"):
        registry.get("redis.delete").params.model_validate({"pattern": ""})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _down(url: str) -> Context[Any]:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return Context(client=client, timeout=2, target="sessions")


def test_a_redis_that_is_down_is_named_with_the_cause(registry) -> None:
    ctx = _down(f"redis://127.0.0.1:{free_port()}/11")
    for name, params in (("redis.ping", {}), ("redis.keys", {"pattern": "*"}), ("redis.info", {})):
        spec = registry.get(name)
        with pytest.raises(
            TargetUnavailable, match=r"redis sessions at 127\.0\.0\.1:\d+: connection refused"
        ):
            spec.fn(ctx, spec.params.model_validate(params))


def test_an_unknown_host_is_a_dns_failure(registry) -> None:
    spec = registry.get("redis.ping")
    with pytest.raises(TargetUnavailable, match="DNS lookup failed"):
        spec.fn(_down("redis://cache.nonexistent.invalid:6379/0"), spec.params())


def test_a_password_in_the_url_never_reaches_the_message(registry, private_redis) -> None:
    secret = "S3cretRedisPw"
    spec = registry.get("redis.ping")
    with pytest.raises(HandlerError) as refused:
        spec.fn(_down(f"redis://:{secret}@127.0.0.1:{free_port()}/11"), spec.params())
    assert secret not in str(refused.value)
    port = private_redis.connection_pool.connection_kwargs["port"]
    private_redis.acl_setuser(
        "reader", enabled=True, passwords=["+TheRightOne"], commands=["+@all"], keys=["*"]
    )
    with pytest.raises(Forbidden) as rejected:
        spec.fn(_down(f"redis://reader:{secret}@127.0.0.1:{port}/0"), spec.params())
    assert secret not in str(rejected.value)
    assert "authentication failed" in str(rejected.value)
