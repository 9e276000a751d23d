"""A handler step with a run's params → the handler's validated params model.

Templates are filled first. Then a `service` arg is expanded as the bot expands one typed
after a slash command: when the handler's params declare `service`, the bot's own expansion
(`bot.commands.target.expand`) fills cluster, namespace, deployment, database, instance and
urls; when they do not (the PostgreSQL and Redis handlers), the runbook fills those fields
from chatops.yaml's service itself. The default target fills what is still unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from bot.commands.target import SERVICE_FIELDS, Target, UnknownService, expand, fill_from_service
from bot.config import ChatopsConfig
from bot.runbooks.model import HandlerStep
from bot.runbooks.template import TemplateError, fill_args
from handlers import HandlerSpec
from handlers.params import Params

# chatops.yaml service key -> the params field it fills: the same map commands use.
SERVICE_FILLS = SERVICE_FIELDS


class StepError(ValueError):
    """A step's args do not make a valid request for its handler; the message says why."""


def expand_service(spec: HandlerSpec, raw: dict[str, Any], config: ChatopsConfig) -> dict[str, Any]:
    out = dict(raw)
    fields = spec.params.model_fields
    if "service" in out and "service" not in fields:
        name = out.pop("service")
        svc = config.services.get(str(name))
        if svc is None and config.services:
            known = ", ".join(sorted(config.services))
            raise StepError(f"unknown service {name!r} (configured: {known})")
        if svc is not None:
            fill_from_service(out, svc, fields)
    try:
        return expand(spec, out, config)
    except UnknownService as exc:
        raise StepError(str(exc)) from None


def raw_args(
    step: HandlerStep, spec: HandlerSpec, values: Mapping[str, Any], config: ChatopsConfig
) -> dict[str, Any]:
    """The step's args with templates filled and the service expanded (not yet validated)."""
    try:
        rendered = fill_args(dict(step.args), values)
    except TemplateError as exc:
        raise StepError(str(exc)) from None
    return expand_service(spec, rendered, config)


def validation_message(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "missing":
            problems.append(f"{name} is required")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{name}: not an argument of this handler")
        else:
            problems.append(f"{name}: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(problems)


def resolve(
    step: HandlerStep, spec: HandlerSpec, values: Mapping[str, Any], config: ChatopsConfig
) -> tuple[Params, Target]:
    """Validated params and the target they act on; StepError naming the problem."""
    raw = raw_args(step, spec, values, config)
    try:
        params = spec.params.model_validate(raw)
    except ValidationError as exc:
        raise StepError(f"{spec.name}: {validation_message(exc)}") from None
    return params, Target.of(params)


def as_words(raw: Mapping[str, Any]) -> list[str]:
    """`key=value` words the command parser reads back into the same params (for buttons)."""
    words: list[str] = []
    for name, value in raw.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            words.append(f"{name}={str(item).lower() if isinstance(item, bool) else item}")
    return words
