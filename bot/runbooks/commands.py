"""`/runbook list|show|run|validate`, and running a runbook with its progress for Slack.

A run's diagnostics are audited step by step under one request id, and a run inside an
incident channel is recorded on the incident's timeline with its verdict.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine as SqlEngine

from bot.commands.access import refused
from bot.commands.builtin import Call, builtin
from bot.commands.responder import Responder
from bot.commands.target import Target
from bot.metrics import HANDLER_SECONDS
from bot.render.slack import escape
from bot.runbooks.actions import offers
from bot.runbooks.catalog import Loaded
from bot.runbooks.catalog import catalog_of as catalog_of  # re-exported: its home was here
from bot.runbooks.engine import Authorize, Engine, Run, State, StepRun
from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep, Runbook
from bot.runbooks.params import ParamError, bind, describe, split_assignments
from bot.runbooks.progress import ProgressSink, ReplyProgress, SlackProgress, View
from bot.store.audit import Event, Outcome, record
from bot.store.timeline import record_for_channel
from handlers import HandlerSpec
from handlers.results import Table

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def engine_for(runtime: Runtime) -> Engine:
    # Steps run in the runtime's handler pool, so runbooks and commands share one bound.
    return Engine(
        registry=runtime.registry, config=runtime.config, contexts=runtime.clients.context, pool=runtime.pool
    )


def unknown(loaded: Loaded, name: str) -> str:
    close = loaded.suggest(name)
    hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    return f"No runbook named `{name}`.{hint} `/runbook list` shows them all."


# -- running ------------------------------------------------------------------------------


def audit_step(db: SqlEngine, run: Run, sr: StepRun, *, user_id: str, channel_id: str, command: str) -> None:
    """One audit row per diagnostic step, under the run's request id."""
    spec = sr.spec
    if spec is None:
        return
    if sr.elapsed is not None:
        HANDLER_SECONDS.labels(handler=spec.name).observe(sr.elapsed)
    detail = "; ".join([f.text for f in sr.findings] + ([sr.error] if sr.error else []))
    record(
        db,
        request_id=run.run_id,
        user_id=user_id or "scheduler",
        channel_id=channel_id,
        command=command,
        handler=spec.name,
        args=sr.params.model_dump(mode="json") if sr.params is not None else {},
        target=sr.target.describe() if sr.target else "",
        event=Event.REQUEST,
        outcome=Outcome.ERROR if sr.state is State.ERROR else Outcome.OK,
        detail=f"{sr.state.value}: {detail}" if detail else sr.state.value,
        duration_ms=int(sr.elapsed * 1000) if sr.elapsed is not None else None,
    )


def _authorizer(runtime: Runtime, user_id: str) -> Authorize:
    def authorize(spec: HandlerSpec, target: Target) -> str | None:
        decision = runtime.guard.check(user_id, spec, target)
        return None if decision.allowed else str(decision.reason)

    return authorize


def _progress_sink(
    runtime: Runtime, run: Run, view: View, channel: str, respond: Responder | None, thread_ts: str
) -> ProgressSink | None:
    """A live message in `channel`, else replies to the caller (with a word on why), else none."""
    sink: ProgressSink | None = None
    if runtime.slack is not None and channel:
        slack_sink = SlackProgress(runtime.slack, channel, view, thread_ts=thread_ts)
        if slack_sink.start(run):
            sink = slack_sink
        elif respond is not None:
            respond.say(
                f":warning: I cannot post in this channel ({slack_sink.error}): invite me with "
                "`/invite @chatops` to get the live progress and each step's output. The verdict follows.",
                ephemeral=True,
            )
    if sink is None and respond is not None:
        sink = ReplyProgress(respond, view, outputs=runtime.slack is None)
    return sink


def _record_verdict(
    runtime: Runtime, runbook: Runbook, run: Run, *, user_id: str, channel_id: str, command: str
) -> None:
    """The run's audit row with its verdict, and a timeline entry when run in an incident's channel."""
    verdict = run.verdict()
    record(
        runtime.store.engine,
        request_id=run.run_id,
        user_id=user_id or "scheduler",
        channel_id=channel_id,
        command=command,
        event=Event.REQUEST,
        outcome=Outcome.OK,
        detail=f"runbook {runbook.name}: {verdict.text}",
        duration_ms=int(verdict.elapsed * 1000),
    )
    if channel_id:
        record_for_channel(
            runtime.store.engine,
            channel_id,
            kind="runbook",
            author=user_id or "scheduler",
            text=f"ran runbook `{runbook.name}` ({runbook.title}): {verdict.text}",
            at=runtime.clock(),
            data={"runbook": runbook.name, "params": describe(run.values), "verdict": verdict.state.value},
        )


def run_runbook(
    runtime: Runtime,
    runbook: Runbook,
    values: dict[str, object],
    *,
    user_id: str,
    channel: str,
    respond: Responder | None = None,
    note: str = "",
    thread_ts: str = "",
) -> Run:
    """Run the diagnostics with a live progress message in `channel` (or a reply), audit, record."""
    engine = engine_for(runtime)
    authorize = _authorizer(runtime, user_id) if user_id else None
    run = engine.plan(runbook, values, authorize=authorize)
    view = View(
        runtime.config,
        offers=offers(runbook, run.values, runtime.registry, runtime.config),
        started_by=user_id,
        note=note,
    )
    sink = _progress_sink(runtime, run, view, channel, respond, thread_ts)
    command = f"/runbook run {runbook.name} {describe(run.values)}".strip()
    channel_id = getattr(sink, "channel_id", "") or (channel if channel.startswith(("C", "G", "D")) else "")
    for sr in run.steps:  # refused or unresolvable from the start
        if sr.state is State.ERROR:
            audit_step(runtime.store.engine, run, sr, user_id=user_id, channel_id=channel_id, command=command)

    def done(r: Run, sr: StepRun) -> None:
        audit_step(runtime.store.engine, r, sr, user_id=user_id, channel_id=channel_id, command=command)

    engine.execute(run, on_change=sink.changed if sink else None, on_done=done)
    if sink is not None:
        sink.finish(run)
    _record_verdict(runtime, runbook, run, user_id=user_id, channel_id=channel_id, command=command)
    return run


# -- /runbook -----------------------------------------------------------------------------


COLUMNS = ("NAME", "FROM", "TITLE", "TAGS", "STEPS")


def _origin(loaded: Loaded, rb: Runbook) -> str:
    return "team" if rb.name in loaded.team else "built-in"


@builtin("runbook", "list", usage="[tag or words]")
def list_(call: Call) -> None:
    """List the runbooks (optionally those with a tag, or words in their name, title or symptoms)."""
    if refused(call, "runbook.list"):
        return
    loaded = catalog_of(call.runtime).current()
    words = " ".join(call.words)
    chosen = [rb for rb in loaded.runbooks.values() if not words or words in rb.tags or rb.matches(words)]
    rows = [
        [rb.name, _origin(loaded, rb), rb.title, ", ".join(rb.tags), str(len(rb.handler_steps()))]
        for rb in chosen
    ]
    summary = f"{len(rows)} runbooks" + (f" matching {words!r}" if words else "")
    summary += ". Run one with /runbook run NAME [key=value …]; /runbook show NAME for its steps."
    if loaded.problems:
        files = sorted({p.file for p in loaded.problems})
        summary += f" {len(files)} file(s) did not load: {', '.join(files)} (/runbook validate)."
    call.respond.result(
        Table(
            title="Runbooks", columns=["NAME", "FROM", "TITLE", "TAGS", "STEPS"], rows=rows, summary=summary
        )
    )


def _step_text(step: HandlerStep | ManualStep | ChecklistStep) -> str:
    if isinstance(step, HandlerStep):
        args = " ".join(f"{k}={v}" for k, v in step.args.items())
        return f"• `{step.id}` {escape(step.title)} — `{step.handler} {escape(args)}`".rstrip()
    if isinstance(step, ManualStep):
        cmd = f"\n```{escape(step.command)}```" if step.command else ""
        return f"• `{step.id}` {escape(step.title)} _(manual)_: {escape(step.text)}{cmd}"
    items = "\n".join(f"    ☐ {escape(i)}" for i in step.items)
    return f"• `{step.id}` {escape(step.title)} _(checklist)_\n{items}"


def describe_runbook(rb: Runbook) -> str:
    lines = [f"*{escape(rb.title)}* (`{rb.name}`)"]
    if rb.description:
        lines.append(escape(rb.description.strip()))
    if rb.symptoms:
        lines.append("*Symptoms:* " + "; ".join(escape(s) for s in rb.symptoms))
    if rb.params:
        parts = []
        for name, p in rb.params.items():
            dflt = "required" if p.required else f"default {p.default}"
            parts.append(f"`{name}` ({p.type}, {dflt})" + (f" {escape(p.help)}" if p.help else ""))
        lines.append("*Params:* " + "; ".join(parts))
    if rb.diagnostics:
        lines.append("*Diagnostics* (run together):")
        lines += [_step_text(s) for s in rb.diagnostics]
    if rb.checks:
        lines.append("*Checks:*")
        for c in rb.checks:
            limits = ", ".join(f"{k} {v}" for k, v in (("warn", c.warn), ("crit", c.crit)) if v)
            lines.append(f"• `{c.step}` {escape(c.label or c.value)}: {escape(limits)}")
    if rb.resolution:
        lines.append("*Resolution* (buttons after a run):")
        lines += [_step_text(s) for s in rb.resolution]
    if rb.links:
        lines.append("*Links:* " + " · ".join(f"<{link.url}|{escape(link.title)}>" for link in rb.links))
    if rb.schedule:
        lines.append(f"*Schedule:* `{rb.schedule.cron}` ({rb.schedule.timezone})")
    if rb.source:
        lines.append("*Sources:* " + "; ".join(escape(f"{s.file} › {s.section}") for s in rb.source))
    return "\n".join(lines)


@builtin("runbook", "show", usage="NAME")
def show(call: Call) -> None:
    """Show a runbook: its params, diagnostics, checks, resolution steps and sources."""
    if refused(call, "runbook.show"):
        return
    if not call.words:
        call.respond.error("Usage: /runbook show NAME (/runbook list shows the names)")
        return
    loaded = catalog_of(call.runtime).current()
    rb = loaded.runbooks.get(call.words[0].lower())
    if rb is None:
        call.respond.error(unknown(loaded, call.words[0]))
        return
    call.respond.say(describe_runbook(rb), ephemeral=True)


@builtin("runbook", "run", usage="NAME [key=value …]")
def run(call: Call) -> None:
    """Run a runbook's diagnostics together; one message shows progress, fixes are buttons."""
    if refused(call, "runbook.run"):
        return
    if not call.words:
        call.respond.error("Usage: /runbook run NAME [key=value …] (/runbook list shows the names)")
        return
    rt = call.runtime
    loaded = catalog_of(rt).current()
    rb = loaded.runbooks.get(call.words[0].lower())
    if rb is None:
        call.respond.error(unknown(loaded, call.words[0]))
        return
    try:
        values = bind(rb, split_assignments(call.words[1:]), rt.config)
    except ParamError as exc:
        call.respond.error(f"{rb.name}: {exc}. Usage: /runbook run {rb.name} " + _param_usage(rb))
        return
    run_runbook(
        rt, rb, values, user_id=call.request.user_id, channel=call.request.channel_id, respond=call.respond
    )


def _param_usage(rb: Runbook) -> str:
    return " ".join(
        f"{n}=…" if p.required else f"[{n}={p.default if p.default is not None else '…'}]"
        for n, p in rb.params.items()
    )


@builtin("runbook", "validate")
def validate(call: Call) -> None:
    """Check every runbook file against the handlers; each problem names its file and line."""
    if refused(call, "runbook.validate"):
        return
    loaded = catalog_of(call.runtime).current()
    if not loaded.problems:
        call.respond.say(f":white_check_mark: {len(loaded.runbooks)} runbooks, all valid.", ephemeral=True)
        return
    lines = [f":x: {len(loaded.problems)} problem(s); {len(loaded.runbooks)} runbooks loaded:"]
    lines += [f"• `{escape(str(p))}`" for p in loaded.problems[:40]]
    call.respond.say("\n".join(lines), ephemeral=True)
