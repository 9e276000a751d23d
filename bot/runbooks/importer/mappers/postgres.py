"""`psql -c "…"`, `pg_isready` and SQL blocks → the db.* handlers. The SQL itself is never run.

The database a command reached (`-h`, `-d`, a URI) is a per-site value: the handlers take a
chatops.yaml database target, so it becomes the `database` param (see importer.params).
"""

from __future__ import annotations

from bot.runbooks.importer.mappers.common import (
    Manual,
    Mapped,
    Opts,
    Result,
    Site,
    Unmappable,
    parse_opts,
    value,
)
from bot.runbooks.importer.shell import Command, Stage, Word
from bot.runbooks.importer.sql import SqlMatch, classify, split

PSQL_VALUES = {"-h", "--host", "-p", "--port", "-U", "--username", "-d", "--dbname", "-c", "--command"}
PSQL_VALUES |= {
    "-f",
    "--file",
    "-v",
    "--set",
    "--variable",
    "-P",
    "--pset",
    "-o",
    "--output",
    "-F",
    "-R",
    "-T",
}
PSQL_SWITCHES = {"-t", "-A", "-x", "-q", "-X", "-w", "-W", "-e", "-E", "-a", "-b", "-n", "-s", "-S", "-1"}
PSQL_SWITCHES |= {"--no-psqlrc", "--csv", "-H", "--tuples-only", "--no-align", "--expanded", "--quiet"}
PSQL_ALIASES = {"--host": "-h", "--port": "-p", "--username": "-U", "--dbname": "-d", "--command": "-c"}
PSQL_ALIASES |= {"--file": "-f", "--output": "-o"}
ISREADY_VALUES = {"-h", "--host", "-p", "--port", "-U", "--username", "-d", "--dbname", "-t", "--timeout"}
ISREADY_SWITCHES = {"-q", "--quiet"}


def database_site(opts: Opts, via: str = "") -> Site:
    """The database a psql/pg_isready command reached, as the `database` param's source."""
    host = opts.get("-h")
    name = opts.get("-d")
    positional = opts.positionals[0] if opts.positionals else None
    if name is None and positional is not None:
        name = positional
    if name is not None and "://" in name.text:
        return Site("database", name.text, hint=f"the URI {name.text}")
    bits = []
    if host is not None:
        bits.append(f"-h {host.text}")
    port = opts.get("-p")
    if port is not None:
        bits.append(f"-p {port.text}")
    if name is not None:
        bits.append(f"-d {name.text}")
    if via:
        bits.append(via)
    seen = name.text if name is not None else (host.text if host is not None else None)
    return Site("database", seen, hint=" ".join(bits) or via)


def from_sql(match: SqlMatch, site: Site | None) -> Result:
    """A classified statement as a step: its handler and args, or why it is manual."""
    if not match.handler:
        return Manual(match.reason, changes=match.changes)
    args: dict[str, object] = dict(match.args)
    if match.pid is not None:
        pid = match.pid.strip(":'")
        args["pid"] = (
            value(Word(pid, ()), type_="int")
            if not pid.isdigit()
            else Site("var", None, name="pid", type="int", hint=f"pg_terminate_backend({pid})")
        )
    for key in ("table", "index"):
        if isinstance(args.get(key), str):
            args[key] = Site("var", str(args[key]), name=key)
    if site is not None:
        args["database"] = site
    return Mapped(match.handler, args, list(match.notes))


def map_psql(stage: Stage, cmd: Command, via: str = "") -> Result:
    opts = parse_opts(stage.words[1:], PSQL_VALUES, PSQL_SWITCHES, PSQL_ALIASES)
    if any(r.op in ("<", "<<") for r in cmd.redirects) or opts.get("-f") is not None:
        return Manual("runs a SQL file (a restore or a script); no handler runs SQL files", changes=True)
    sql = opts.get("-c")
    if sql is None:
        return Manual("opens an interactive psql session (no -c)")
    if opts.unknown:
        return Manual(f"{', '.join(opts.unknown)}: psql options with no equivalent")
    site = database_site(opts, via)
    statements = split(sql.text)
    if len(statements) != 1:
        return Manual(
            f"runs {len(statements)} statements in one -c; each needs its own step",
            changes=any(classify(s.text).changes for s in statements),
        )
    try:
        result = from_sql(classify(statements[0].text), site)
    except Unmappable as exc:
        return Manual(exc.reason, changes=exc.changes)
    if isinstance(result, Mapped) and cmd.filters:
        result.notes.append(
            "the output is not filtered: " + " | ".join(" ".join(s.argv) for s in cmd.filters)
        )
    return result


def map_pg_isready(stage: Stage, cmd: Command, via: str = "") -> Result:
    opts = parse_opts(stage.words[1:], ISREADY_VALUES, ISREADY_SWITCHES, PSQL_ALIASES)
    if opts.unknown:
        return Manual(f"{', '.join(opts.unknown)}: pg_isready options with no equivalent")
    notes = [
        "db.ping connects and runs SELECT 1 (pg_isready only checks that the server accepts connections)"
    ]
    return Mapped("db.ping", {"database": database_site(opts, via)}, notes)
