"""Small real handlers for foundation tests: they run through the real executor and Slack path."""

from __future__ import annotations

from typing import Any

from handlers import Client, Context, HandlerSpec, Registry
from handlers.params import Namespace, Params, arg
from handlers.results import Logs, Preview, Result, Table, Text


class EchoParams(Params):
    words: list[str] = arg([], positional=True, help="words to echo")
    namespace: Namespace = arg("default", flags=("-n", "--namespace"), help="namespace")
    shout: bool = arg(False, flags=("--shout",), help="upper case")
    count: int = arg(1, flags=("-c", "--count"), help="times")
    service: str | None = arg(None, flags=("--service",))
    cluster: str | None = arg(None, flags=("--cluster",))


def echo(ctx: Context[Any], p: EchoParams) -> Result:
    """Echo the words back (a test handler)."""
    text = " ".join(p.words) * p.count
    return Text(title=f"echo in {p.namespace}", text=text.upper() if p.shout else text)


def many_lines(ctx: Context[Any], p: EchoParams) -> Result:
    """Print many log lines (a test handler for long output)."""
    return Logs(title="long logs", lines=[f"line {i} " + "x" * 60 for i in range(p.count)])


def table(ctx: Context[Any], p: EchoParams) -> Result:
    """A table (a test handler)."""
    return Table(title="t", columns=["A", "B"], rows=[[str(i), "b"] for i in range(p.count)])


class DbParams(Params):
    database: str | None = arg(None, positional=True)


def needs_db(ctx: Context[Any], p: DbParams) -> Result:
    """Needs a database target (a test handler)."""
    return Text(text=f"db {ctx.target}")


def boom(ctx: Context[Any], p: EchoParams) -> Result:
    """Always fails with an unexpected error that carries a secret (a test handler)."""
    raise RuntimeError("connect to postgresql://app:hunter2@db.internal/x failed")


def _preview(ctx: Context[Any], p: EchoParams) -> Preview:
    return Preview(summary=f"would wipe namespace {p.namespace}")


def wipe(ctx: Context[Any], p: EchoParams) -> Result:
    """Wipe a namespace (a destructive test handler)."""
    return Text(text="wiped")


def _spec(
    name: str, fn: Any, params: type[Params] = EchoParams, client: Client = Client.NONE, **kw: Any
) -> HandlerSpec:
    command, _, sub = name.partition(".")
    return HandlerSpec(
        name=name,
        fn=fn,
        params=params,
        client=client,
        destructive=kw.get("destructive", False),
        preview=kw.get("preview"),
        command=command,
        sub=kw.get("sub", sub.replace("_", "-")),
    )


def make_registry() -> Registry:
    return Registry().with_handlers(
        _spec("t.echo", echo),
        _spec("t.many_lines", many_lines),
        _spec("t.table", table),
        _spec("t.boom", boom),
        _spec("t.needs_db", needs_db, DbParams, Client.POSTGRES, sub="needs db"),
        _spec("t.wipe", wipe, destructive=True, preview=_preview),
    )
