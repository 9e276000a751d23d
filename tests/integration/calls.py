"""Calling a handler the way the bot does (params validated first), for the integration conftests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import Context, Registry
from handlers.results import Preview, Result


def runner(registry: Registry, ctx: Context[Any]) -> Callable[..., Result]:
    """run("db.locks", context=None, **params): the handler's result, after validation."""

    def call(name: str, /, context: Context[Any] | None = None, **params: Any) -> Result:
        spec = registry.get(name)
        assert spec is not None, f"{name} is not registered"
        return spec.fn(context or ctx, spec.params.model_validate(params))

    return call


def previewer(registry: Registry, ctx: Context[Any]) -> Callable[..., Preview]:
    """preview("db.terminate", context=None, **params): what a destructive handler would change."""

    def call(name: str, /, context: Context[Any] | None = None, **params: Any) -> Preview:
        spec = registry.get(name)
        assert spec is not None
        assert spec.preview is not None
        return spec.preview(context or ctx, spec.params.model_validate(params))

    return call
