"""The progress of a run as people see it: one Slack message kept up to date, or a reply.

The Slack message is posted when the run starts (every step pending), then replaced with
chat.update as steps start and finish: each step's state and duration, the lines that judged
it, a verdict line, and each resolution step as a button. Every step's output goes in the
message's thread. Slack calls happen on the progress's own thread, in order, so the engine
never waits on Slack; a burst of changes becomes one chat.update.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.commands.responder import Responder
from bot.config import ChatopsConfig
from bot.metrics import SLACK_API_ERRORS
from bot.render.slack import MAX_BLOCKS, TEXT_LIMIT, context, escape, header, result_blocks, section
from bot.runbooks.actions import Offer
from bot.runbooks.engine import Run, State, StepRun
from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep
from bot.runbooks.params import describe
from bot.runbooks.template import fill_text
from bot.slack.ids import ActionId
from handlers.redact import redact

log = logging.getLogger(__name__)

ICON = {
    State.PENDING: ":white_circle:",
    State.RUNNING: ":hourglass_flowing_sand:",
    State.OK: ":large_green_circle:",
    State.WARN: ":large_yellow_circle:",
    State.CRIT: ":red_circle:",
    State.ERROR: ":x:",
    State.MANUAL: ":memo:",
}
DETAIL_LIMIT = 600  # characters of findings / error per step in the main message
FINISH_WAIT = 30.0  # seconds to wait for the last Slack calls of a run


class ProgressSink(Protocol):
    def start(self, run: Run) -> bool:
        """Show the run before its steps start; False if it could not be shown."""

    def changed(self, run: Run, step: StepRun) -> None:
        """A step started or finished."""

    def finish(self, run: Run) -> None:
        """Every step is done: show the verdict (blocks until shown)."""


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


@dataclass
class View:
    """Renders a run's state; `offers` are its resolution steps (buttons or hints)."""

    config: ChatopsConfig
    offers: Sequence[Offer] = ()
    started_by: str = ""  # a Slack user id, or "" for a scheduled run
    note: str = ""  # e.g. "scheduled: daily at 09:00 UTC"

    def step_line(self, run: Run, sr: StepRun) -> str:
        step = sr.step
        if isinstance(step, ManualStep):
            body = escape(fill_text(step.text, run.values))
            cmd = f"\n```{escape(fill_text(step.command, run.values))}```" if step.command else ""
            return f"{ICON[State.MANUAL]} *{escape(step.title)}* _(manual)_\n{body}{cmd}"
        if isinstance(step, ChecklistStep):
            items = "\n".join(f"☐ {escape(fill_text(i, run.values))}" for i in step.items)
            return f":ballot_box_with_check: *{escape(step.title)}* _(checklist)_\n{items}"
        assert isinstance(step, HandlerStep)
        took = f" · {_seconds(sr.elapsed)}" if sr.state.done and sr.elapsed is not None else ""
        title = escape(fill_text(step.title, run.values))
        head = f"{ICON[sr.state]} *{title}* `{step.handler}` — {sr.state.value}{took}"
        lines = [escape(f.text) for f in sr.findings]
        # A metric check's value and the threshold it was judged against (prom.check).
        judged = sr.result.values.get("judged") if sr.result is not None else None
        if judged:
            lines.insert(0, escape(str(judged)))
        if sr.error:
            lines.append(escape(redact(sr.error)))
        detail = "\n".join(lines)
        if len(detail) > DETAIL_LIMIT:
            detail = detail[: DETAIL_LIMIT - 1] + "…"
        return head + (f"\n{detail}" if detail else "")

    def verdict_line(self, run: Run) -> str:
        handler_steps = [s for s in run.steps if s.state is not State.MANUAL]
        if not run.done:
            finished = sum(1 for s in handler_steps if s.state.done)
            return f":hourglass_flowing_sand: Running — {finished} of {len(handler_steps)} checks done"
        if not handler_steps:
            return ":memo: *Verdict:* nothing to check automatically — follow the steps above"
        verdict = run.verdict()
        return f"{ICON[verdict.state]} *Verdict:* {verdict.text}"

    def _resolution(self, run: Run) -> list[Block]:
        blocks: list[Block] = []
        by_id = {o.step.id: o for o in self.offers}
        for step in run.runbook.resolution:
            title = escape(fill_text(step.title, run.values))
            if isinstance(step, HandlerStep):
                found = by_id.get(step.id)
                if found is not None and found.ready:
                    blocks.append(self._button(run, title, found))
                else:
                    why = escape(found.problem) if found else "not available"
                    blocks.append(section(f":no_entry_sign: *{title}* `{step.handler}`\n_{why}_"))
            elif isinstance(step, ManualStep):
                body = escape(fill_text(step.text, run.values))
                cmd = f"\n```{escape(fill_text(step.command, run.values))}```" if step.command else ""
                blocks.append(section(f":memo: *{title}* _(manual)_\n{body}{cmd}"))
            else:
                items = "\n".join(f"☐ {escape(fill_text(i, run.values))}" for i in step.items)
                blocks.append(section(f":ballot_box_with_check: *{title}* _(checklist)_\n{items}"))
        return blocks

    def _button(self, run: Run, title: str, found: Offer) -> Block:
        spec = found.spec
        assert spec is not None
        destructive = spec.destructive
        button = ButtonElement(
            text=PlainTextObject(text=("Request" if destructive else "Run")[:75]),
            action_id=ActionId.RUNBOOK_STEP.value,
            value=found.value,
            style="danger" if destructive else "primary",
            confirm=ConfirmObject(
                title="Changes things",
                text=f"{spec.name}: a preview follows; nothing changes until you confirm it.",
                confirm="Show the preview",
                deny="Cancel",
            )
            if destructive
            else None,
        )
        kind = ":warning: changes things, asks for confirmation" if destructive else "read-only"
        cmd = escape(found.command(self.config))
        return SectionBlock(
            text=MarkdownTextObject(text=f"*{title}* — {kind}\n`{cmd}`"[:TEXT_LIMIT]),
            accessory=button,
        )

    def blocks(self, run: Run) -> list[Block]:
        rb = run.runbook
        who = f"started by <@{self.started_by}>" if self.started_by else "scheduled run"
        params = describe(run.values)
        meta = " · ".join(p for p in (f"`{rb.name}`", escape(params) if params else "", who, self.note) if p)
        top: list[Block] = [header(f"Runbook: {rb.title}"), context(meta)]
        steps = [self.step_line(run, sr) for sr in run.steps]
        bottom: list[Block] = [DividerBlock(), section(self.verdict_line(run))]
        resolution = self._resolution(run)
        if resolution:
            bottom.append(section("*Resolution*"))
            bottom += resolution
        tail: list[Block] = []
        if rb.links:
            tail.append(context(" · ".join(f"<{link.url}|{escape(link.title)}>" for link in rb.links)))
        if rb.source:
            tail.append(
                context("Sources: " + "; ".join(escape(f"{s.file} › {s.section}") for s in rb.source))
            )
        room = MAX_BLOCKS - len(top) - len(bottom) - len(tail)
        blocks = top + _pack(steps, max(room, 1)) + bottom + tail
        if len(blocks) > MAX_BLOCKS:
            cut = context(f":scissors: more steps than fit in one message: see `/runbook show {rb.name}`")
            blocks = [*blocks[: MAX_BLOCKS - 1], cut]
        return blocks

    def summary(self, run: Run) -> str:
        """The whole view as mrkdwn text, for front ends that show text only (the console)."""
        lines = [
            f"*Runbook: {escape(run.runbook.title)}* (`{run.runbook.name}`) {escape(describe(run.values))}"
        ]
        lines += [self.step_line(run, sr) for sr in run.steps]
        lines.append(self.verdict_line(run))
        by_id = {o.step.id: o for o in self.offers}
        if run.runbook.resolution:
            lines.append("*Resolution*")
        for step in run.runbook.resolution:
            title = escape(fill_text(step.title, run.values))
            found = by_id.get(step.id)
            if found is not None:
                how = (
                    f"`{escape(found.command(self.config))}`" if found.ready else f"_{escape(found.problem)}_"
                )
                lines.append(f"• *{title}*: {how}")
            elif isinstance(step, ManualStep):
                lines.append(f"• *{title}* _(manual)_: {escape(fill_text(step.text, run.values))}")
            elif isinstance(step, ChecklistStep):
                lines.append(f"• *{title}* _(checklist)_: " + "; ".join(escape(i) for i in step.items))
        return "\n".join(lines)

    def text(self, run: Run) -> str:
        """The notification / fallback text."""
        if run.done:
            return f"Runbook {run.runbook.title}: {run.verdict().text}"
        return f"Runbook {run.runbook.title}: running"


def _pack(lines: list[str], room: int) -> list[Block]:
    """One section per step while they fit in the room; else several steps per section."""
    if len(lines) <= room:
        return [section(line) for line in lines]
    blocks: list[Block] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n\n{line}" if current else line
        if len(candidate) > TEXT_LIMIT and current:
            blocks.append(section(current))
            current = line
        else:
            current = candidate
    if current:
        blocks.append(section(current))
    return blocks[: max(room, 1)]


def step_output(run: Run, sr: StepRun) -> tuple[str, list[dict[str, Any]], str | None]:
    """A finished step's thread reply: text, blocks, and the whole output when it had to be cut."""
    title = fill_text(sr.step.title, run.values)
    took = f" · {_seconds(sr.elapsed)}" if sr.elapsed is not None else ""
    head = f"{ICON[sr.state]} *{escape(title)}* `{sr.handler}` — {sr.state.value}{took}"
    notes = [escape(f.text) for f in sr.findings]
    if sr.error:
        notes.append(escape(redact(sr.error)))
    first = section(head + ("\n" + "\n".join(notes) if notes else ""))
    if sr.result is None:
        return f"{title}: {sr.state.value}", [first.to_dict()], None
    rendered = result_blocks(sr.result, max_blocks=MAX_BLOCKS - 1)
    return f"{title}: {sr.state.value}", [first.to_dict(), *rendered.as_dicts()], rendered.file


def _slack_error(method: str, exc: SlackApiError) -> str:
    err = str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
    SLACK_API_ERRORS.labels(method, err).inc()
    return err


@dataclass
class SlackProgress:
    """One message in `channel` (an id or a name) updated with chat.update; outputs in its thread."""

    client: Any  # slack_sdk.WebClient
    channel: str
    view: View
    channel_id: str = ""
    ts: str = ""
    error: str = ""  # why the message could not be posted
    thread_ts: str = ""  # post the progress as a reply in this thread (an alert group's message)
    _queue: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    _worker: threading.Thread | None = None

    def start(self, run: Run) -> bool:
        try:
            resp = self.client.chat_postMessage(
                channel=self.channel,
                text=self.view.text(run),
                blocks=[b.to_dict() for b in self.view.blocks(run)],
                **({"thread_ts": self.thread_ts} if self.thread_ts else {}),
            )
        except SlackApiError as exc:
            self.error = _slack_error("chat.postMessage", exc)
            log.warning(
                "runbook %s: progress message not posted in %s: %s",
                run.runbook.name,
                self.channel,
                self.error,
            )
            return False
        self.channel_id = str(resp.get("channel") or self.channel)
        self.ts = str(resp["ts"])
        self._worker = threading.Thread(target=self._loop, args=(run,), name="runbook-progress", daemon=True)
        self._worker.start()
        return True

    def changed(self, run: Run, step: StepRun) -> None:
        self._queue.put(("refresh", None))
        if step.state.done and isinstance(step.step, HandlerStep):
            self._queue.put(("output", step))

    def finish(self, run: Run) -> None:
        if self._worker is None:
            return
        self._queue.put(("refresh", None))
        self._queue.put(("stop", None))
        self._worker.join(timeout=FINISH_WAIT)

    def _loop(self, run: Run) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(kind == "refresh" for kind, _ in batch):
                self._update(run)
            for kind, item in batch:
                if kind == "output":
                    self._post_output(run, item)
                stop = stop or kind == "stop"

    def _update(self, run: Run) -> None:
        try:
            self.client.chat_update(
                channel=self.channel_id,
                ts=self.ts,
                text=self.view.text(run),
                blocks=[b.to_dict() for b in self.view.blocks(run)],
            )
        except SlackApiError as exc:
            log.warning(
                "runbook %s: progress not updated: %s", run.runbook.name, _slack_error("chat.update", exc)
            )

    def _post_output(self, run: Run, sr: StepRun) -> None:
        text, blocks, whole = step_output(run, sr)
        try:
            self.client.chat_postMessage(
                channel=self.channel_id, thread_ts=self.thread_ts or self.ts, text=text, blocks=blocks
            )
            if whole is not None:
                name = f"{run.runbook.name}-{sr.step.id}.txt"
                self.client.files_upload_v2(
                    channel=self.channel_id,
                    thread_ts=self.thread_ts or self.ts,
                    content=whole,
                    filename=name,
                    title=text,
                )
        except SlackApiError as exc:
            log.warning(
                "runbook %s: output of %s not posted: %s",
                run.runbook.name,
                sr.step.id,
                _slack_error("reply", exc),
            )


@dataclass
class ReplyProgress:
    """Without a channel message (console, or the bot is not in the channel): one reply at the end."""

    respond: Responder
    view: View
    # Each step's output as its own reply (the console); Slack's response_url takes only five.
    outputs: bool = True

    def start(self, run: Run) -> bool:
        return True

    def changed(self, run: Run, step: StepRun) -> None:
        return

    def finish(self, run: Run) -> None:
        if not self.outputs:
            self.respond.say(self.view.text(run), blocks=self.view.blocks(run))
            return
        self.respond.say(self.view.summary(run), blocks=self.view.blocks(run))
        for sr in run.steps:
            if sr.result is not None:
                self.respond.result(sr.result, heading=f"{sr.step.title} ({sr.handler})")
