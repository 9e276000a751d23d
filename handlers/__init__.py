"""The handler registry: every operation the bot can run, with its params and help.

    @handler("k8s.scale", Scale, client=Client.KUBERNETES, destructive=True,
             preview=preview_scale, sub="scale")
    def scale(ctx: Context[ApiClient], params: Scale) -> Result:
        \"\"\"Scale a deployment through the scale subresource.\"\"\"

The docstring is the help text (its first line is the one-line summary). A destructive
handler must have a `preview` that computes what it would change without changing it.
Handlers get their client in `Context` and import nothing from `bot`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from handlers.command_table import CommandTable
from handlers.params import Params
from handlers.results import Preview, Result

C = TypeVar("C")
P = TypeVar("P", bound=Params)

# One package per command family, named after its command; `load_all()` imports every module
# of each, which registers their handlers.
HANDLER_PACKAGES = (
    "handlers.k8s",
    "handlers.db",
    "handlers.redis",
    "handlers.health",
    "handlers.prom",
    "handlers.alerts",
)


class Client(StrEnum):
    """Which client a handler needs; the bot resolves it from the params' target field."""

    KUBERNETES = "kubernetes"  # params field `cluster`
    POSTGRES = "postgres"  # params field `database`
    REDIS = "redis"  # params field `instance`
    HTTP = "http"  # no target field: one shared httpx.Client
    PROMETHEUS = "prometheus"  # params field `prometheus`: an httpx.Client per instance
    NONE = "none"


TARGET_FIELD: Mapping[Client, str] = {
    Client.KUBERNETES: "cluster",
    Client.POSTGRES: "database",
    Client.REDIS: "instance",
    Client.PROMETHEUS: "prometheus",
}


@dataclass(frozen=True)
class Context(Generic[C]):
    """What a handler runs with: its client, its time budget, and its settings from config."""

    client: C
    timeout: float = 10.0
    options: Mapping[str, Any] = field(default_factory=dict)
    target: str = ""  # the configured target's name (cluster, database, instance), for messages
    requester: str = ""  # who asked (a Slack user id), for what the target records (a silence's author)


Run = Callable[[Context[Any], Any], Result]
PreviewFn = Callable[[Context[Any], Any], Preview]


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    fn: Run
    params: type[Params]
    client: Client
    destructive: bool
    preview: PreviewFn | None
    command: str
    sub: str
    # The subcommand a bare `/command ARGS` runs (`/health backend` → `/health check backend`).
    default: bool = False

    @property
    def help(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        return self.help.splitlines()[0] if self.help else self.name

    @property
    def target_field(self) -> str | None:
        return TARGET_FIELD.get(self.client)


@dataclass(frozen=True)
class Registry:
    """An immutable set of handlers by name; tests build their own with `with_handlers`.

    Routing `/command sub ARGS` to a handler (or a built-in) is `handlers.command_table`'s job.
    """

    handlers: Mapping[str, HandlerSpec] = field(default_factory=dict)

    def get(self, name: str) -> HandlerSpec | None:
        return self.handlers.get(name)

    def __iter__(self) -> Iterator[HandlerSpec]:
        return iter(sorted(self.handlers.values(), key=lambda s: (s.command, s.sub)))

    def __len__(self) -> int:
        return len(self.handlers)

    def commands(self) -> list[str]:
        return sorted({s.command for s in self.handlers.values()})

    def table(self) -> CommandTable[HandlerSpec]:
        """The handlers alone as a command table (the bot's adds its built-ins)."""
        return CommandTable.of(self, self.defaults())

    def defaults(self) -> dict[str, str]:
        """command → the subcommand its bare form runs, for the handlers marked `default`."""
        return {s.command: s.sub for s in self if s.default}

    def with_handlers(self, *specs: HandlerSpec) -> Registry:
        merged = dict(self.handlers)
        merged.update({s.name: s for s in specs})
        return Registry(merged)


_DEFAULT: dict[str, HandlerSpec] = {}


def handler(
    name: str,
    params: type[P],
    *,
    client: Client,
    destructive: bool = False,
    preview: Callable[[Context[Any], P], Preview] | None = None,
    sub: str | None = None,
    default: bool = False,
) -> Callable[[Callable[[Context[Any], P], Result]], Callable[[Context[Any], P], Result]]:
    """Register a handler in the default registry under `name` (`command.sub`)."""
    command, _, rest = name.partition(".")
    if not rest:
        raise ValueError(f"handler name {name!r} must be 'command.sub'")
    if destructive and preview is None:
        raise ValueError(f"destructive handler {name!r} needs a preview")

    def register(fn: Callable[[Context[Any], P], Result]) -> Callable[[Context[Any], P], Result]:
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"handler {name!r} needs a docstring: it is the help text")
        if name in _DEFAULT and _DEFAULT[name].fn is not fn:
            raise ValueError(f"handler {name!r} is registered twice")
        _DEFAULT[name] = HandlerSpec(
            name=name,
            fn=fn,
            params=params,
            client=client,
            destructive=destructive,
            preview=preview,
            command=command,
            sub=sub if sub is not None else rest.replace("_", "-"),
            default=default,
        )
        return fn

    return register


def load_all(packages: tuple[str, ...] = HANDLER_PACKAGES) -> Registry:
    """Import every module of the handler packages (registering their handlers); the registry."""
    for name in packages:
        package = importlib.import_module(name)
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{name}."):
            importlib.import_module(info.name)
    return Registry(dict(_DEFAULT))
