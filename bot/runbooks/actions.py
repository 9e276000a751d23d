"""Resolution steps as buttons, and what a click does.

A button's value names the runbook, the step and the run's params — never a handler or
its arguments — so a click can only run a step the runbook declares, re-validated against
today's file. The click goes through `Executor.handle` like a typed command: the access
check, and for a destructive handler the preview and the guard's confirmation.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.config import ChatopsConfig
from bot.executor import Done, Failed, HandlerOutcome, NeedsConfirmation, Refused, Request
from bot.runbooks.catalog import catalog_of
from bot.runbooks.model import HandlerStep, Runbook
from bot.runbooks.params import ParamError, bind
from bot.runbooks.resolve import StepError, as_words, raw_args, validation_message
from bot.runbooks.template import variables
from bot.store.timeline import record_for_channel
from handlers import HandlerSpec, Registry

if TYPE_CHECKING:
    from bot.runtime import Runtime

MAX_VALUE = 2000  # Slack's limit for a button value


@dataclass(frozen=True)
class Offer:
    """A resolution step ready to run (words for the executor), or why it is not."""

    step: HandlerStep
    spec: HandlerSpec | None
    words: tuple[str, ...] = ()
    value: str = ""
    problem: str = ""

    @property
    def ready(self) -> bool:
        return not self.problem

    def command(self, config: ChatopsConfig) -> str:
        """The slash command that does the same, for the terminal and for the curious."""
        if self.spec is None:
            return ""
        slash = config.command_name(self.spec.command)
        return " ".join([slash, self.spec.sub, *(shlex.quote(w) for w in self.words)])


def encode(runbook: str, step: str, values: Mapping[str, Any]) -> str:
    params = {
        k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items() if v is not None
    }
    return json.dumps({"r": runbook, "s": step, "p": params}, separators=(",", ":"), sort_keys=True)


def decode(value: str) -> tuple[str, str, dict[str, str]]:
    try:
        data = json.loads(value)
        params = data.get("p", {})
        if not isinstance(params, dict):
            raise TypeError
        return str(data["r"]), str(data["s"]), {str(k): str(v) for k, v in params.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("this button's value is not a runbook step (was the message edited?)") from None


def offer(
    runbook: Runbook, step: HandlerStep, values: Mapping[str, Any], registry: Registry, config: ChatopsConfig
) -> Offer:
    spec = registry.get(step.handler)
    if spec is None:
        return Offer(step, None, problem=f"unknown handler {step.handler}")
    try:
        raw = raw_args(step, spec, values, config)
    except StepError as exc:
        return Offer(step, spec, problem=str(exc))
    try:
        spec.params.model_validate(raw)
    except ValidationError as exc:
        unset = sorted(n for n in variables(step.args) if values.get(n) is None)
        if unset and all(e["type"] == "missing" for e in exc.errors()):
            # A param left unset on purpose (pid, revision): say how to offer the step.
            return Offer(
                step, spec, problem=f"run the runbook with {' '.join(f'{n}=…' for n in unset)} to offer it"
            )
        return Offer(step, spec, problem=f"{spec.name}: {validation_message(exc)}")
    value = encode(runbook.name, step.id, values)
    if len(value) > MAX_VALUE:
        return Offer(step, spec, words=tuple(as_words(raw)), problem="its params are too long for a button")
    return Offer(step, spec, words=tuple(as_words(raw)), value=value)


def offers(
    runbook: Runbook, values: Mapping[str, Any], registry: Registry, config: ChatopsConfig
) -> list[Offer]:
    return [
        offer(runbook, s, values, registry, config) for s in runbook.resolution if isinstance(s, HandlerStep)
    ]


def perform(runtime: Runtime, *, value: str, user_id: str, channel_id: str) -> HandlerOutcome:
    """A resolution button was clicked: run (or ask to confirm) that step as the clicker."""
    try:
        name, step_id, given = decode(value)
    except ValueError as exc:
        return Failed(str(exc))
    runbook = catalog_of(runtime).get(name)
    if runbook is None:
        return Failed(f"runbook {name!r} is no longer available (was its file removed or broken?)")
    step = runbook.resolution_step(step_id)
    if step is None:
        return Failed(f"runbook {name} has no resolution step {step_id!r} any more")
    try:
        values = bind(runbook, given, runtime.config)
    except ParamError as exc:
        return Failed(f"runbook {name}: {exc}")
    found = offer(runbook, step, values, runtime.registry, runtime.config)
    if not found.ready or found.spec is None:
        return Failed(f"{step.title}: {found.problem}")
    spec = found.spec
    words = list(found.words)
    request = Request(
        user_id=user_id,
        command=runtime.config.command_name(spec.command),
        text=" ".join([spec.sub, *(shlex.quote(w) for w in words)]),
        channel_id=channel_id,
    )
    outcome = runtime.executor.handle(request, spec, words)
    _timeline(runtime, runbook, step, outcome, user_id, channel_id)
    return outcome


def _timeline(
    runtime: Runtime,
    runbook: Runbook,
    step: HandlerStep,
    outcome: HandlerOutcome,
    user_id: str,
    channel_id: str,
) -> None:
    if isinstance(outcome, Done):
        text = f"ran `{step.title}` ({step.handler}) from runbook {runbook.name}"
    elif isinstance(outcome, NeedsConfirmation):
        text = (
            f"asked to run `{step.title}` ({step.handler}) from runbook {runbook.name}: "
            f"{outcome.preview.summary}"
        )
    elif isinstance(outcome, Refused | Failed):
        text = f"could not run `{step.title}` ({step.handler}) from runbook {runbook.name}: {outcome.message}"
    else:  # pragma: no cover - every outcome is one of the above
        return
    record_for_channel(
        runtime.store.engine,
        channel_id,
        kind="runbook_step",
        author=user_id,
        text=text,
        at=runtime.clock(),
        data={"runbook": runbook.name, "step": step.id, "handler": step.handler},
    )
