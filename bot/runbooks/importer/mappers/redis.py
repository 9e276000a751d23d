"""`redis-cli …` → the redis.* handlers; the instance (`-h`, `-u`) becomes the `instance` param."""

from __future__ import annotations

from collections.abc import Callable

from bot.runbooks.importer.mappers.common import (
    Manual,
    Mapped,
    Opts,
    Result,
    Site,
    Unmappable,
    integer,
    parse_opts,
    value,
)
from bot.runbooks.importer.shell import Command, Stage, Word

VALUES = {"-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s", "-r", "-i", "--pattern", "--count"}
SWITCHES = {"--latency", "--latency-history", "--latency-dist", "--bigkeys", "--memkeys", "--stat"}
SWITCHES |= {"--scan", "--raw", "--no-raw", "-c", "--tls", "--no-auth-warning", "-e", "--verbose"}
SECTIONS = {"server", "clients", "memory", "stats", "keyspace", "replication"}
CHANGING = {"del", "unlink", "flushall", "flushdb", "set", "setex", "expire", "persist", "config", "shutdown"}
CHANGING |= {"lpush", "rpush", "lpop", "rpop", "hset", "hdel", "incr", "decr", "rename", "save", "bgsave"}
ONE_KEY = {"get", "type", "ttl", "pttl", "exists", "strlen", "hgetall", "lrange", "smembers", "memory"}


def instance_site(opts: Opts, via: str = "") -> Site:
    url = opts.get("-u")
    if url is not None:
        return Site("instance", url.text, hint=f"-u {url.text}")
    host = opts.get("-h")
    bits = [f"-h {host.text}"] if host is not None else []
    port = opts.get("-p")
    if port is not None:
        bits.append(f"-p {port.text}")
    db = opts.get("-n")
    if db is not None:
        bits.append(f"-n {db.text}")
    if via:
        bits.append(via)
    return Site("instance", host.text if host is not None else None, hint=" ".join(bits))


def map_redis(stage: Stage, cmd: Command, via: str = "") -> Result:
    opts = parse_opts(stage.words[1:], VALUES, SWITCHES)
    if opts.unknown:
        return Manual(f"{', '.join(opts.unknown)}: redis-cli options with no equivalent")
    try:
        handler, args, notes = _command(opts)
    except Unmappable as exc:
        return Manual(exc.reason, changes=exc.changes)
    if cmd.filters:
        notes.append("the output is not filtered: " + " | ".join(" ".join(s.argv) for s in cmd.filters))
    args["instance"] = instance_site(opts, via)
    return Mapped(handler, args, notes)


Answer = tuple[str, dict[str, object], list[str]]
"""A handler, its args and notes for the plan."""


def _command(opts: Opts) -> Answer:
    words = opts.positionals
    if opts.has("--latency", "--latency-history", "--latency-dist"):
        return "redis.latency", {}, ["redis.latency sends a fixed number of PINGs and stops"]
    if opts.has("--scan"):
        given = opts.get("--pattern")
        return "redis.keys", {"pattern": value(given) if given is not None else "*"}, []
    if opts.has("--stat"):
        return "redis.info", {"section": "stats"}, ["shows INFO stats once (--stat keeps printing)"]
    if opts.has("--bigkeys", "--memkeys"):
        raise Unmappable("no handler samples the biggest keys (--bigkeys/--memkeys)")
    if not words:
        raise Unmappable("opens an interactive redis-cli session")
    verb = words[0].text.lower()
    args = words[1:]
    by_verb = _one_key if verb in ONE_KEY else _VERBS.get(verb)
    answer = by_verb(verb, args) if by_verb is not None else None
    if answer is not None:
        return answer
    if verb in ("del", "unlink") and len(args) == 1:
        return "redis.delete", {"pattern": value(args[0])}, []
    if verb in CHANGING:
        raise Unmappable(f"{verb.upper()} changes data; no handler runs it", changes=True)
    raise Unmappable(f"no handler for redis-cli {verb.upper()}")


# One function per redis-cli verb with a handler: its answer, or None when these args have none
# (then `_command` goes on to DEL/UNLINK, the changing verbs and the "no handler" message).


def _ping(verb: str, args: list[Word]) -> Answer | None:
    return ("redis.ping", {}, []) if not args else None


def _info(verb: str, args: list[Word]) -> Answer | None:
    if not args:
        return "redis.info", {}, []
    section = args[0].text.lower()
    if section in SECTIONS and len(args) == 1:
        return "redis.info", {"section": section}, []
    if section in ("all", "everything", "default") and len(args) == 1:
        return "redis.info", {}, ["shows every section redis.info summarises"]
    raise Unmappable(f"INFO {section}: redis.info summarises {', '.join(sorted(SECTIONS))}")


def _llen(verb: str, args: list[Word]) -> Answer | None:
    return ("redis.llen", {"queue": value(args[0])}, []) if len(args) == 1 else None


def _keys(verb: str, args: list[Word]) -> Answer | None:
    if len(args) != 1:
        return None
    return "redis.keys", {"pattern": value(args[0])}, ["redis.keys uses SCAN, never KEYS"]


def _scan(verb: str, args: list[Word]) -> Answer | None:
    rest = [w.text.lower() for w in args]
    pattern = "*"
    if "match" in rest:
        at = rest.index("match")
        if at + 1 < len(args):
            return "redis.keys", {"pattern": value(args[at + 1])}, []
    return "redis.keys", {"pattern": pattern}, []


def _dbsize(verb: str, args: list[Word]) -> Answer | None:
    if args:
        return None
    return "redis.info", {"section": "keyspace"}, ["the keyspace section counts the keys of each db"]


def _slowlog(verb: str, args: list[Word]) -> Answer | None:
    if not (args and args[0].text.lower() == "get"):
        return None
    found: dict[str, object] = {}
    if len(args) > 1:
        found["count"] = integer(args[1], "SLOWLOG GET count")
    return "redis.slowlog", found, []


def _client(verb: str, args: list[Word]) -> Answer | None:
    if not (args and args[0].text.lower() == "list"):
        return None
    return "redis.info", {"section": "clients"}, ["shows client counts, not each connection"]


def _one_key(verb: str, args: list[Word]) -> Answer | None:
    """The ONE_KEY verbs (GET, TTL, MEMORY USAGE, LRANGE key …): redis.key on that key."""
    key_args = args[1:] if verb == "memory" and args and args[0].text.lower() == "usage" else args
    if verb == "memory" and not (args and args[0].text.lower() == "usage"):
        raise Unmappable("MEMORY subcommands other than USAGE have no handler")
    if verb == "lrange":
        key_args = key_args[:1]
    if len(key_args) != 1:
        return None
    notes = [] if verb == "get" else [f"redis.key shows the key's type, TTL, size and a preview ({verb})"]
    return "redis.key", {"name": value(key_args[0])}, notes


_VERBS: dict[str, Callable[[str, list[Word]], Answer | None]] = {
    "ping": _ping,
    "info": _info,
    "llen": _llen,
    "keys": _keys,
    "scan": _scan,
    "dbsize": _dbsize,
    "slowlog": _slowlog,
    "client": _client,
}
