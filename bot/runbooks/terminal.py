"""`chatops runbook list|show|run|validate`: the same runbooks from a terminal, printed with rich.

`run` shows a live table while the diagnostics run, then each step's output, the verdict
and the resolution steps as the slash commands that perform them (nothing is changed from
here). Its exit status is the verdict, as monitoring plugins use it: 0 ok, 1 warn, 2 crit,
3 error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.commands.target import Target
from bot.config import ChatopsConfig
from bot.cron import trigger
from bot.render.text import to_text
from bot.runbooks.actions import offers
from bot.runbooks.catalog import Loaded
from bot.runbooks.engine import Engine, Run, State, StepRun
from bot.runbooks.loader import Problem, load_dir
from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep, Runbook
from bot.runbooks.params import ParamError, bind, coerce, describe, split_assignments
from bot.runbooks.template import fill_text
from handlers import HandlerSpec, Registry

EXIT = {State.OK: 0, State.WARN: 1, State.CRIT: 2, State.ERROR: 3}
STYLE = {
    State.PENDING: "dim",
    State.RUNNING: "cyan",
    State.OK: "green",
    State.WARN: "yellow",
    State.CRIT: "bold red",
    State.ERROR: "red",
    State.MANUAL: "blue",
}


def load(directory: Path, registry: Registry) -> Loaded:
    """One directory's runbooks alone (`chatops runbook validate --dir DIR`)."""
    runbooks, problems = load_dir(directory, registry)
    return Loaded(runbooks, problems)


def schedule_problems(config: ChatopsConfig, loaded: Loaded, file: str) -> list[Problem]:
    """chatops.yaml schedules: a runbook that exists, params it takes, a valid cron."""
    problems: list[Problem] = []
    for s in config.schedules:
        where = f"schedules.{s.name}"
        try:
            trigger(s.cron, s.timezone)
        except ValueError as exc:
            problems.append(Problem(file, None, f"{where}: {exc}"))
        if s.runbook is None:
            continue
        rb = loaded.runbooks.get(s.runbook)
        if rb is None:
            close = loaded.suggest(s.runbook, 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem(file, None, f"{where}.runbook: no runbook {s.runbook!r}{hint}"))
            continue
        for key, value in s.params.items():
            param = rb.params.get(key)
            if param is None:
                problems.append(Problem(file, None, f"{where}.params.{key}: {rb.name} has no param {key!r}"))
                continue
            try:
                coerce(key, param, value)
            except ValueError as exc:
                problems.append(Problem(file, None, f"{where}.params.{key}: {exc}"))
    return problems


def validate(out: Console, loaded: Loaded, extra: list[Problem]) -> int:
    problems = [*loaded.problems, *extra]
    for p in problems:
        out.print(Text(str(p), style="red"))
    files = len({p.file for p in loaded.problems})
    if problems:
        out.print(
            f"{len(problems)} problem(s); {len(loaded.runbooks)} runbooks valid, {files} file(s) not loaded"
        )
        return 1
    out.print(f"{len(loaded.runbooks)} runbooks, all valid")
    return 0


def list_runbooks(out: Console, loaded: Loaded, words: str) -> int:
    table = Table(box=None, pad_edge=False)
    table.add_column("NAME", no_wrap=True)
    table.add_column("FROM", no_wrap=True)
    table.add_column("TITLE")
    table.add_column("TAGS")
    table.add_column("STEPS", justify="right")
    table.add_column("SOURCES", justify="right")
    for rb in loaded.runbooks.values():
        if words and words not in rb.tags and not rb.matches(words):
            continue
        table.add_row(
            rb.name,
            "team" if rb.name in loaded.team else "built-in",
            rb.title,
            ", ".join(rb.tags),
            str(len(rb.handler_steps())),
            str(len(rb.source)),
        )
    out.print(table)
    if loaded.problems:
        out.print(
            Text(f"{len(loaded.problems)} problem(s) in runbook files: chatops runbook validate", "yellow")
        )
    return 0


def _step_line(step: HandlerStep | ManualStep | ChecklistStep) -> Text:
    if isinstance(step, HandlerStep):
        args = " ".join(f"{k}={v}" for k, v in step.args.items())
        return Text.assemble(f"  {step.id:<18} ", (step.handler, "cyan"), f" {args}  ", (step.title, "dim"))
    if isinstance(step, ManualStep):
        body = f"  {step.id:<18} manual: {step.title}\n      {step.text.strip()}"
        return Text(body + (f"\n      $ {step.command}" if step.command else ""))
    return Text(
        f"  {step.id:<18} checklist: {step.title}\n" + "\n".join(f"      [ ] {i}" for i in step.items)
    )


def show(out: Console, rb: Runbook) -> int:
    out.print(Text(f"{rb.title} ({rb.name})", style="bold"))
    if rb.description:
        out.print(Text(rb.description.strip()))
    if rb.symptoms:
        out.print(Text("Symptoms: " + "; ".join(rb.symptoms)))
    for name, p in rb.params.items():
        dflt = "required" if p.required else f"default {p.default}"
        out.print(Text(f"param {name} ({p.type}, {dflt}) {p.help}".rstrip()))
    for title, steps in (("Diagnostics", rb.diagnostics), ("Resolution", rb.resolution)):
        if steps:
            out.print(Text(title, style="bold"))
            for step in steps:
                out.print(_step_line(step))
    for c in rb.checks:
        limits = ", ".join(f"{k} {v}" for k, v in (("warn", c.warn), ("crit", c.crit)) if v)
        out.print(Text(f"check {c.step}.{c.value}: {limits}"))
    for link in rb.links:
        out.print(Text(f"link {link.title}: {link.url}"))
    if rb.schedule:
        out.print(Text(f"schedule {rb.schedule.cron} ({rb.schedule.timezone})"))
    for s in rb.source:
        out.print(Text(f"source {s.file} › {s.section}", style="dim"))
    return 0


def _seconds(sr: StepRun) -> str:
    return "" if sr.elapsed is None else f"{sr.elapsed:.2f}s"


def progress_table(run: Run) -> Table:
    table = Table("STEP", "HANDLER", "STATE", "TIME", "DETAIL", box=None, pad_edge=False)
    for sr in run.steps:
        if sr.state is State.MANUAL:
            continue
        detail = "; ".join([f.text for f in sr.findings] + ([sr.error] if sr.error else []))
        table.add_row(
            sr.step.id, sr.handler, Text(sr.state.value, STYLE[sr.state]), _seconds(sr), Text(detail[:160])
        )
    return table


def _print_results(out: Console, plan: Run) -> None:
    """Each step's output in a panel coloured by its state."""
    for sr in plan.steps:
        if sr.result is not None:
            body = Text(to_text(sr.result))
            out.print(
                Panel(
                    body,
                    title=f"{sr.step.id} · {sr.handler}",
                    title_align="left",
                    border_style=STYLE[sr.state],
                )
            )


def _print_manual(out: Console, plan: Run, values: dict[str, Any]) -> None:
    """Manual and checklist steps, filled with the run's values, for the reader to do."""
    manual = [s for s in plan.steps if s.state is State.MANUAL]
    for sr in manual:
        step = sr.step
        text = (
            fill_text(step.text, values)
            if isinstance(step, ManualStep)
            else "\n".join(
                f"[ ] {fill_text(i, values)}"
                for i in step.items  # type: ignore[union-attr]
            )
        )
        out.print(
            Panel(
                Text(text),
                title=f"{step.id} · {step.kind}: {step.title}",
                title_align="left",
                border_style="blue",
            )
        )


def _resolution_lines(
    rb: Runbook, values: dict[str, Any], engine: Engine, config: ChatopsConfig
) -> list[Text]:
    """The resolution steps as the commands that perform them (nothing is changed from here)."""
    lines: list[Text] = []
    for found in offers(rb, values, engine.registry, config):
        if found.ready:
            lines.append(Text(f"  {fill_text(found.step.title, values)}: {found.command(config)}"))
        else:
            lines.append(Text(f"  {fill_text(found.step.title, values)}: {found.problem}", style="dim"))
    for step in rb.resolution:
        if isinstance(step, ManualStep):
            lines.append(Text(f"  {step.title} (manual): {fill_text(step.text, values)}"))
        elif isinstance(step, ChecklistStep):
            lines.append(Text(f"  {step.title} (checklist): " + "; ".join(step.items)))
    return lines


def run(
    out: Console,
    rb: Runbook,
    words: list[str],
    *,
    engine: Engine,
    config: ChatopsConfig,
    authorize: object = None,
    on_done: object = None,
) -> int:
    try:
        values = bind(rb, split_assignments(words), config)
    except ParamError as exc:
        out.print(Text(f"{rb.name}: {exc}", style="red"))
        return 3
    plan = engine.plan(rb, values, authorize=authorize)  # type: ignore[arg-type]
    out.print(Text(f"Runbook {rb.title} ({rb.name}) {describe(values)}", style="bold"))
    with Live(progress_table(plan), console=out, refresh_per_second=8, transient=False) as live:
        engine.execute(plan, on_change=lambda r, _s: live.update(progress_table(r)), on_done=on_done)  # type: ignore[arg-type]
        live.update(progress_table(plan))
    if not out.is_terminal:
        out.print()  # Live leaves its last frame without a newline when not on a terminal
    _print_results(out, plan)
    _print_manual(out, plan, values)
    verdict = plan.verdict()
    out.print(Text(f"Verdict: {verdict.text}", style=STYLE[verdict.state]))
    lines = _resolution_lines(rb, values, engine, config)
    if lines:
        out.print(
            Text("Resolution (run these from Slack or the console; they ask for confirmation):", style="bold")
        )
        out.print(Group(*lines))
    return EXIT.get(verdict.state, 0)


def authorizer(access: object, user: str) -> object:
    def authorize(spec: HandlerSpec, target: Target) -> str | None:
        decision = access.check(user, spec, target)  # type: ignore[attr-defined]
        return None if decision.allowed else str(decision.reason)

    return authorize
