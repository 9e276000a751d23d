"""SQL from a runbook, recognised by the catalog views it reads. It is never run.

`split` cuts a script into statements (quotes, `--` and `/* */` comments and dollar
quoting respected, each statement with its line). `classify` says which handler does what a
statement does: a read of pg_stat_activity, pg_stat_statements, pg_locks,
pg_stat_user_indexes, pg_stat_database or table sizes is the matching diagnostic; VACUUM,
ANALYZE, REINDEX INDEX, pg_terminate_backend(pid) and pg_cancel_backend(pid) are the
matching confirmed fixes. Anything else — application tables, DDL, DML — is kept by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_RELATION = r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?"


@dataclass(frozen=True)
class Statement:
    line: int  # 1-based line of its first word
    text: str  # as written, without the trailing `;`
    comment: str  # the `--` comment lines just above it


@dataclass
class SqlMatch:
    """A handler for a statement, or why there is none (`handler` empty)."""

    handler: str = ""
    args: dict[str, object] = field(default_factory=dict)
    reason: str = ""
    changes: bool = False
    notes: list[str] = field(default_factory=list)
    pid: str | None = None  # the pid word of pg_terminate_backend(…)/pg_cancel_backend(…)


def _skip_quoted(s: str, i: int) -> int:
    """Index past the quoted/commented span starting at s[i], or i when none starts there."""
    if s.startswith("--", i):
        end = s.find("\n", i)
        return len(s) if end < 0 else end
    if s.startswith("/*", i):
        end = s.find("*/", i + 2)
        return len(s) if end < 0 else end + 2
    ch = s[i]
    if ch in "'\"":
        j = i + 1
        while j < len(s):
            if s[j] == ch:
                if j + 1 < len(s) and s[j + 1] == ch:  # '' inside a string
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(s)
    m = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$").match(s, i)
    if m:
        end = s.find(m.group(0), m.end())
        return len(s) if end < 0 else end + len(m.group(0))
    return i


def split(script: str, first_line: int = 1) -> list[Statement]:
    """Statements of a script, with the comment above each one."""
    out: list[Statement] = []
    i, start = 0, 0
    while i <= len(script):
        if i == len(script) or script[i] == ";":
            _emit(script, start, i, first_line, out)
            start = i + 1
            i += 1
            continue
        j = _skip_quoted(script, i)
        i = j if j > i else i + 1
    return out


def _emit(script: str, start: int, end: int, first_line: int, out: list[Statement]) -> None:
    chunk = script[start:end]
    comments: list[str] = []
    offset = 0
    for raw in chunk.splitlines(keepends=True):
        stripped = raw.strip()
        if not stripped:
            comments = []  # a blank line parts a comment from what follows
        elif stripped.startswith("--"):
            comments.append(stripped.lstrip("-").strip())
        else:
            break
        offset += len(raw)
    body = chunk[offset:].strip()
    if not body or not strip_comments(body).strip():
        return
    rest = chunk[offset:]
    body_at = start + offset + (len(rest) - len(rest.lstrip()))
    line = first_line + script.count("\n", 0, body_at)
    out.append(Statement(line, body, " ".join(comments)))


def strip_comments(sql: str) -> str:
    """The SQL with comments removed and string literals kept."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        if sql.startswith("--", i) or sql.startswith("/*", i):
            i = _skip_quoted(sql, i)
            out.append(" ")
            continue
        j = _skip_quoted(sql, i)
        if j > i:
            out.append(sql[i:j])
            i = j
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def _blank_strings(sql: str) -> str:
    """Comments removed and string literals emptied (`'x'` → `''`), for matching words."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        j = _skip_quoted(sql, i)
        if j > i:
            span = sql[i:j]
            out.append(
                " " if span.startswith(("--", "/*")) else span[0] + span[0] if span[0] in "'\"" else "''"
            )
            i = j
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


_INTERVAL = re.compile(r"interval\s+'(\d+)\s*(second|sec|minute|min|hour|day)s?'", re.I)
_UNITS = {"second": "s", "sec": "s", "minute": "m", "min": "m", "hour": "h", "day": "d"}
_LIMIT = re.compile(r"\blimit\s+(\d+)", re.I)
_CHANGES = re.compile(
    r"^\s*(insert|update|delete|drop|create|alter|truncate|grant|revoke|copy|cluster|comment|lock|refresh)\b",
    re.I,
)
_FUNC_ARG = r"\(\s*([^()]*?)\s*\)"


def _relations(words: str) -> set[str]:
    """Relations named after FROM or JOIN (lower case, without schema `pg_catalog.`)."""
    found = set()
    for m in re.finditer(rf"\b(?:from|join)\s+({_RELATION})", words, re.I):
        name = m.group(1).lower()
        found.add(name.split(".", 1)[1] if name.startswith(("pg_catalog.", "public.")) else name)
    return found


def _catalog(name: str) -> bool:
    return name.startswith(("pg_", "information_schema.")) or name == "information_schema"


def classify(sql: str) -> SqlMatch:
    """Which handler does what this statement does; see the module docstring."""
    words = _blank_strings(sql).strip()
    low = " ".join(words.lower().split())
    full = " ".join(strip_comments(sql).lower().split())
    if not low:
        return SqlMatch(reason="an empty statement")
    if low.startswith("\\"):
        return _meta(low)
    for func, handler in (("pg_terminate_backend", "db.terminate"), ("pg_cancel_backend", "db.cancel")):
        m = re.search(rf"\b{func}\s*{_FUNC_ARG}", sql, re.I)
        if m:
            pid = m.group(1)
            if re.fullmatch(r"\d+|\$\{?[A-Za-z_]\w*\}?|<[A-Za-z][\w.-]*>|:'?[A-Za-z_]\w*'?", pid):
                return SqlMatch(handler, changes=True, pid=pid)
            return SqlMatch(
                reason=f"calls {func} for every session its query selects; {handler} takes one pid",
                changes=True,
            )
    first = low.split()[0]
    if first == "vacuum":
        return _vacuum(low)
    if first == "analyze":
        m = re.fullmatch(rf"analyze(?:\s+verbose)?(?:\s+({_RELATION}))?", low)
        if m:
            return SqlMatch(
                "db.vacuum_analyze",
                {"table": m.group(1)} if m.group(1) else {},
                changes=True,
                notes=["db.vacuum_analyze runs VACUUM (ANALYZE): it vacuums as well as analyzing"],
            )
    if first == "reindex":
        m = re.fullmatch(
            rf"reindex\s+(?:\(\s*verbose\s*\)\s+)?index\s+(?:concurrently\s+)?({_RELATION})", low
        )
        if m:
            return SqlMatch("db.reindex", {"index": m.group(1)}, changes=True)
        return SqlMatch(
            reason="db.reindex rebuilds one index (REINDEX INDEX CONCURRENTLY); this reindexes more",
            changes=True,
        )
    if _CHANGES.match(low) or first in ("set", "reset", "begin", "commit", "rollback", "checkpoint"):
        return SqlMatch(reason=f"{first.upper()} changes the database; no handler runs it", changes=True)
    if first not in ("select", "with", "show", "table"):
        return SqlMatch(reason=f"{first.upper()} is not a query a handler recognises")
    return _query(low, full)


def _meta(low: str) -> SqlMatch:
    if re.fullmatch(r"\\dt\+?(\s+\S+)?", low):
        return SqlMatch(
            "db.table_sizes", notes=["lists the largest tables with their sizes (\\dt lists them)"]
        )
    return SqlMatch(reason=f"the psql meta-command {low.split()[0]} has no handler")


def _vacuum(low: str) -> SqlMatch:
    m = re.fullmatch(
        rf"vacuum(?:\s*\(([^)]*)\))?((?:\s+(?:full|freeze|verbose|analyze))*)(?:\s+({_RELATION}))?", low
    )
    if not m:
        return SqlMatch(reason="a VACUUM form db.vacuum_analyze does not take", changes=True)
    options = set((m.group(1) or "").replace(",", " ").split()) | set(m.group(2).split())
    if "full" in options:
        return SqlMatch(
            reason="VACUUM FULL rewrites and locks the table; db.vacuum_analyze runs VACUUM (ANALYZE)",
            changes=True,
        )
    notes = [] if "analyze" in options else ["db.vacuum_analyze also analyzes (VACUUM (ANALYZE))"]
    return SqlMatch(
        "db.vacuum_analyze", {"table": m.group(3)} if m.group(3) else {}, changes=True, notes=notes
    )


def _query(low: str, full: str) -> SqlMatch:
    relations = _relations(low)
    limit = _LIMIT.search(low)
    others = sorted(r for r in relations if not _catalog(r))
    if others:
        return SqlMatch(
            reason=f"arbitrary SQL on application tables ({', '.join(others)}); no handler runs it"
        )
    if not relations:
        return _no_relations(low)
    if "pg_stat_statements" in relations:
        return _slow_queries(low, limit)
    if "pg_locks" in relations:
        return SqlMatch("db.locks")
    if relations & {"pg_stat_user_indexes", "pg_stat_all_indexes", "pg_statio_user_indexes", "pg_index"}:
        args: dict[str, object] = {"limit": int(limit.group(1))} if limit else {}
        return SqlMatch("db.index_usage", args)
    if "pg_stat_database" in relations:
        return SqlMatch("db.db_stats")
    if relations & {"pg_stat_replication", "pg_replication_slots", "pg_stat_wal_receiver"}:
        return SqlMatch("db.replication")
    sizes = ("pg_total_relation_size", "pg_relation_size", "pg_table_size", "pg_indexes_size")
    if any(f in low for f in sizes) or "pg_stat_user_tables" in relations:
        args = {"limit": int(limit.group(1))} if limit else {}
        return SqlMatch("db.table_sizes", args)
    if "pg_stat_activity" in relations:
        return _activity(low, full)
    return SqlMatch(reason=f"reads {', '.join(sorted(relations))}, which no handler shows")


def _no_relations(low: str) -> SqlMatch:
    """A query on no table: `SELECT 1`, `version()`, `now()` is db.ping; `pg_database_size` db.db_stats."""
    if re.fullmatch(r"select\s+(1|version\(\)|now\(\)|current_timestamp)(\s+as\s+\w+)?", low):
        return SqlMatch("db.ping")
    if "pg_database_size" in low:
        return SqlMatch(
            "db.db_stats", notes=["shows the database's statistics; pg_database_size is not among them"]
        )
    return SqlMatch(reason="a query that reads no catalog view a handler knows")


def _slow_queries(low: str, limit: re.Match[str] | None) -> SqlMatch:
    """pg_stat_statements: db.slow_queries, its `by` from the ORDER BY column and its LIMIT."""
    args: dict[str, object] = {}
    order = re.search(r"order\s+by\s+(\w+)", low)
    if order:
        by = order.group(1)
        if by.startswith(("total_time", "total_exec_time", "total_plan_time")):
            args["by"] = "total"
        elif by == "calls":
            args["by"] = "calls"
        else:
            args["by"] = "mean"
    if limit:
        args["limit"] = int(limit.group(1))
    return SqlMatch("db.slow_queries", args)


def _activity(low: str, full: str) -> SqlMatch:
    interval = _INTERVAL.search(full)
    if interval or re.search(r"now\(\)\s*-\s*(pg_stat_activity\.)?(query_start|xact_start)\s*\)?\s*>", low):
        args: dict[str, object] = {}
        if interval:
            args["min"] = f"{interval.group(1)}{_UNITS[interval.group(2).lower()]}"
        return SqlMatch("db.long_running", args)
    select_list = low.split(" from ", 1)[0]
    if re.fullmatch(r"select\s+count\(\*\)(\s+as\s+\w+)?(\s*,\s*[\w.]+)*", select_list):
        return SqlMatch("db.connections")
    args = {}
    if " where " not in low:
        args["all"] = True
    return SqlMatch("db.activity", args)
