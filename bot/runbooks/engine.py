"""Run a runbook's diagnostics: concurrently (bounded), each step within its timeout.

One failing or slow step never stops the others: it ends as `error` with a message that
names the handler and the cause. `on_change(run, step)` is called from the orchestrating
thread each time a step starts or finishes, so a progress view needs no locking of its own.
Results are judged by the handler's own checks and the runbook's thresholds (ok/warn/crit).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.commands.target import Target
from bot.config import ChatopsConfig
from bot.runbooks.judge import Finding, evaluate
from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep, Runbook
from bot.runbooks.resolve import StepError, resolve
from bot.runbooks.template import fill_text
from handlers import Context, HandlerSpec, Registry
from handlers.errors import HandlerError
from handlers.params import Params
from handlers.redact import redact
from handlers.results import Result, Status, status_of

DEFAULT_PARALLEL = 8


class State(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    WARN = "warn"
    CRIT = "crit"
    ERROR = "error"
    MANUAL = "manual"  # manual and checklist steps: shown, never run

    @property
    def done(self) -> bool:
        return self not in (State.PENDING, State.RUNNING)


# Verdict order, best to worst: an error (could not check) ranks above a warning.
_RANK = {State.OK: 0, State.MANUAL: 0, State.WARN: 1, State.ERROR: 2, State.CRIT: 3}
_WORD = {State.CRIT: "critical", State.ERROR: "error", State.WARN: "warning", State.OK: "ok"}


@dataclass
class StepRun:
    step: HandlerStep | ManualStep | ChecklistStep
    state: State = State.PENDING
    spec: HandlerSpec | None = None
    params: Params | None = None
    target: Target | None = None
    result: Result | None = None
    error: str = ""
    findings: list[Finding] = field(default_factory=list)
    started: float | None = None  # monotonic seconds
    elapsed: float | None = None
    timeout: float = 10.0

    @property
    def title(self) -> str:
        return self.step.title

    @property
    def handler(self) -> str:
        return self.step.handler if isinstance(self.step, HandlerStep) else ""


@dataclass(frozen=True)
class Verdict:
    state: State
    counts: Mapping[State, int]
    elapsed: float

    @property
    def text(self) -> str:
        parts = [
            f"{n} {_WORD[s]}{'s' if n > 1 and s in (State.ERROR, State.WARN) else ''}"
            for s in (State.CRIT, State.ERROR, State.WARN, State.OK)
            if (n := self.counts.get(s, 0))
        ]
        summary = ", ".join(parts) or "no checks ran"
        took = f"{self.elapsed * 1000:.0f} ms" if self.elapsed < 1 else f"{self.elapsed:.1f} s"
        return f"{self.state.value.upper()} — {summary} · {took}"


@dataclass
class Run:
    runbook: Runbook
    values: dict[str, Any]
    steps: list[StepRun]
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def verdict(self) -> Verdict:
        counts: dict[State, int] = {}
        for s in self.steps:
            if s.state.done and s.state is not State.MANUAL:
                counts[s.state] = counts.get(s.state, 0) + 1
        worst = max(counts, key=lambda s: _RANK[s], default=State.OK)
        return Verdict(worst, counts, self.elapsed())

    def manual_text(self, text: str) -> str:
        return fill_text(text, self.values)


ContextFactory = Callable[[HandlerSpec, str | None], Context[Any]]
Authorize = Callable[[HandlerSpec, Target], str | None]  # a refusal reason, or None
OnChange = Callable[[Run, StepRun], None]


def _state_of(status: Status) -> State:
    return {Status.OK: State.OK, Status.WARN: State.WARN, Status.CRIT: State.CRIT}[status]


# Steps in flight: each future with its step and the monotonic time it must finish by.
_Running = dict[Future[Result], tuple[StepRun, float]]


class Engine:
    def __init__(
        self,
        *,
        registry: Registry,
        config: ChatopsConfig,
        contexts: ContextFactory,
        pool: Executor | None = None,
        max_parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        self.registry = registry
        self.config = config
        self.contexts = contexts
        self.pool = pool
        self.max_parallel = max(1, max_parallel)
        self.default_timeout = config.limits.handler_timeout.total_seconds()

    # -- planning -------------------------------------------------------------------------

    def plan(self, runbook: Runbook, values: Mapping[str, Any], *, authorize: Authorize | None = None) -> Run:
        """Resolve every diagnostic step; a step that cannot run is an error from the start."""
        run = Run(runbook=runbook, values=dict(values), steps=[])
        for step in runbook.diagnostics:
            sr = StepRun(step=step)
            run.steps.append(sr)
            if not isinstance(step, HandlerStep):
                sr.state = State.MANUAL
                continue
            sr.timeout = step.timeout.total_seconds() if step.timeout else self.default_timeout
            spec = self.registry.get(step.handler)
            if spec is None:
                sr.state, sr.error = State.ERROR, f"unknown handler {step.handler}"
                continue
            sr.spec = spec
            try:
                sr.params, sr.target = resolve(step, spec, run.values, self.config)
            except StepError as exc:
                sr.state, sr.error = State.ERROR, str(exc)
                continue
            if authorize is not None:
                reason = authorize(spec, sr.target)
                if reason:
                    sr.state, sr.error = State.ERROR, f"not allowed: {reason}"
        return run

    # -- running --------------------------------------------------------------------------

    def _call(self, sr: StepRun) -> Result:
        assert sr.spec is not None
        assert sr.params is not None
        spec = sr.spec
        ctx = self.contexts(spec, getattr(sr.params, spec.target_field or "", None))
        # The step's timeout bounds each outside call as well as the whole step.
        ctx = dataclasses.replace(ctx, timeout=min(ctx.timeout, sr.timeout) if ctx.timeout else sr.timeout)
        return spec.fn(ctx, sr.params)

    def _judge(self, run: Run, sr: StepRun, result: Result) -> None:
        sr.result = result
        statuses = [status_of(result)]
        rules = [r for r in run.runbook.checks if r.step == sr.step.id]
        sr.findings = [evaluate(r, result.values, lambda t: run.manual_text(t)) for r in rules]
        # A value the check needs but the result lacks is a warning: the check could not judge.
        statuses += [f.status if f.status is not None else Status.WARN for f in sr.findings]
        sr.state = _state_of(Status.worst(statuses))

    def _fail(self, sr: StepRun, exc: BaseException) -> None:
        spec = sr.spec
        assert spec is not None
        where = sr.target.describe() if sr.target else ""
        where = where or "its target"
        if isinstance(exc, HandlerError):
            msg = str(exc)
        else:
            msg = f"{spec.name} failed on {where}: {type(exc).__name__}: {exc}"
        sr.state, sr.error = State.ERROR, redact(msg)

    def _start(
        self,
        pool: Executor,
        queue: deque[StepRun],
        running: _Running,
        changed: Callable[[StepRun], None],
    ) -> None:
        """Start queued steps up to the parallel bound; each carries its own deadline."""
        while queue and len(running) < self.max_parallel:
            sr = queue.popleft()
            sr.state, sr.started = State.RUNNING, time.monotonic()
            running[pool.submit(self._call, sr)] = (sr, sr.started + sr.timeout)
            changed(sr)

    def _collect(
        self,
        run: Run,
        done: set[Future[Result]],
        running: _Running,
        now: float,
        finished: Callable[[StepRun], None],
    ) -> None:
        """Judge the steps that finished; a handler's exception becomes the step's error."""
        for fut in done:
            sr, _ = running.pop(fut)
            sr.elapsed = now - (sr.started or now)
            try:
                self._judge(run, sr, fut.result())
            except Exception as exc:
                self._fail(sr, exc)
            finished(sr)

    @staticmethod
    def _expire(running: _Running, now: float, finished: Callable[[StepRun], None]) -> None:
        """Steps past their deadline are errors now, naming the handler, the timeout and the target."""
        for fut, (sr, deadline) in list(running.items()):
            if now >= deadline and not fut.done():
                # The thread cannot be stopped; its result is dropped when it comes.
                fut.cancel()
                running.pop(fut)
                sr.elapsed = now - (sr.started or now)
                where = sr.target.describe() if sr.target else ""
                sr.state = State.ERROR
                sr.error = f"{sr.handler} did not finish within {sr.timeout:g}s" + (
                    f" ({where})" if where else ""
                )
                finished(sr)

    def execute(
        self,
        run: Run,
        *,
        on_change: OnChange | None = None,
        on_done: OnChange | None = None,
    ) -> Run:
        """Run the planned steps; returns when every step has finished or timed out."""

        def changed(sr: StepRun) -> None:
            if on_change is not None:
                on_change(run, sr)

        def finished(sr: StepRun) -> None:
            if on_done is not None:
                on_done(run, sr)
            changed(sr)

        own_pool: ThreadPoolExecutor | None = None
        pool = self.pool
        if pool is None:
            own_pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="runbook")
            pool = own_pool
        queue = deque(sr for sr in run.steps if sr.state is State.PENDING)
        running: _Running = {}
        try:
            while queue or running:
                self._start(pool, queue, running, changed)
                next_deadline = min(deadline for _, deadline in running.values())
                done, _ = wait(
                    list(running),
                    timeout=max(0.0, next_deadline - time.monotonic()),
                    return_when=FIRST_COMPLETED,
                )
                now = time.monotonic()
                self._collect(run, done, running, now, finished)
                self._expire(running, now, finished)
        finally:
            if own_pool is not None:
                own_pool.shutdown(wait=False, cancel_futures=True)
        run.finished = time.monotonic()
        return run

    def run(
        self,
        runbook: Runbook,
        values: Mapping[str, Any],
        *,
        authorize: Authorize | None = None,
        on_change: OnChange | None = None,
        on_done: OnChange | None = None,
    ) -> Run:
        return self.execute(
            self.plan(runbook, values, authorize=authorize), on_change=on_change, on_done=on_done
        )
