"""`chatops console`: the terminal front end, for trying the bot and for when Slack is down.

The engineer types the same commands as in Slack (`/k8s pods -n prod`, `/runbook run …`,
`/incident update …`). They go through the same router, executor, guard and audit log as
Slack's, built by `bot.app.build_runtime` with no Slack App. Results are rich tables;
destructive actions show the same preview and ask for confirmation at the prompt, then go
through the guard's confirm step like a click on Confirm.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot.commands.router import dispatch
from bot.console_identity import ConsoleIdentity, approval_refusal, remember_request
from bot.executor import NeedsConfirmation, Request
from bot.render.console import mrkdwn, result_renderable
from bot.runtime import Runtime
from bot.store.tables import incidents
from handlers.redact import redact
from handlers.results import Result, Table

if TYPE_CHECKING:  # the guard's values; compared by their string kinds at run time
    from bot.guard.outcome import ActionResult
    from bot.guard.pending import PendingAction

EXIT_WORDS = frozenset({"exit", "quit", ":q", "\\q"})
HISTORY = Path.home() / ".chatops_history"
USER_ID = re.compile(r"[A-Za-z0-9:._@-]{1,32}")

META_HELP = """\
Type commands as in Slack: `/k8s pods -n prod`, `/db ping`, `/runbook list` (the leading / is optional).
`help` lists every command; `COMMAND help` lists its subcommands.
`:incident N` works in incident N's channel (for /incident update, runbook runs in the war room).
`:channel ID` works as if typed in that Slack channel; `:channel` alone leaves it.
`:pending` lists actions waiting for a confirmation or an approval; approvers decide with
`:approve ID` or `:reject ID`.
`exit`, `quit` or Ctrl-D leaves."""


def default_user() -> str:
    """No identity given: a local name, which access rules treat as a person with no roles."""
    try:
        login = getpass.getuser()
    except Exception:  # no login name in a bare container
        login = "unknown"
    return f"local:{login}"[:32]


@dataclass
class Session:
    """Who is typing, and the channel their commands count as typed in."""

    user_id: str
    channel_id: str = ""
    failures: int = 0
    # The OS account behind the session (console.users); None in tests that build a Session by hand.
    identity: ConsoleIdentity | None = None
    prompt_yes: Callable[[str], bool] = field(default=lambda question: False)


class ConsoleResponder:
    """The `Responder` for a terminal: text, tables, errors, and confirmation at the prompt."""

    def __init__(self, console: Console, runtime: Runtime, session: Session) -> None:
        self.console = console
        self.runtime = runtime
        self.session = session

    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        del blocks, ephemeral  # the terminal shows the text; only the requester sees it anyway
        self.console.print(mrkdwn(text))

    def result(self, result: Result, *, heading: str = "") -> None:
        self.console.print(result_renderable(result, heading=heading))

    def error(self, text: str) -> None:
        self.session.failures += 1
        shown = mrkdwn(redact(text))
        shown.stylize("red")
        self.console.print(shown)

    def ask_confirmation(self, outcome: NeedsConfirmation) -> None:
        """Show the preview, ask at the prompt, then confirm (or cancel) through the guard."""
        preview = Text()
        preview.append("Would change: ", style="bold")
        preview.append_text(mrkdwn(outcome.preview.summary))
        for line in outcome.preview.details:
            preview.append("\n  • ")
            preview.append_text(mrkdwn(line))
        preview.append(f"\n\nAction {outcome.action_id}", style="dim")
        preview.append(f" · {outcome.spec.name} on {outcome.target.describe() or 'its target'}", style="dim")
        preview.append(f" · expires in {int(outcome.expires_in // 60) or 1} min", style="dim")
        if outcome.needs_approval:
            preview.append(
                "\nNeeds a second person: an approver must approve after you confirm.", style="yellow"
            )
        self.console.print(Panel(preview, title="Confirm", border_style="yellow", expand=False))
        guard = self.runtime.guard
        if self.session.identity is not None:  # so a console approval can tell it is the same person
            remember_request(self.runtime.store.engine, outcome.action_id, self.session.identity)
        if not self.session.prompt_yes("Run it? Type yes to confirm, anything else cancels: "):
            self.show_action(guard.cancel(outcome.action_id, self.session.user_id))
            return
        self.show_action(guard.confirm(outcome.action_id, self.session.user_id))

    def show_action(self, done: ActionResult) -> None:
        """What the guard did with a confirmation or a cancel: the result, or why not."""
        if done.kind == "executed":
            self.console.print(mrkdwn(f":white_check_mark: {done.message}"))
            if done.result is not None:
                self.result(done.result)
        elif done.kind == "awaiting_approval":
            self.console.print(mrkdwn(f":hourglass: {done.message}"), style="yellow")
            if done.action is not None:
                self.console.print(
                    Text(f"Action id {done.action.id}: an approver approves it in Slack or their console.")
                )
        elif done.kind == "cancelled":
            self.console.print(mrkdwn(done.message or "Cancelled. Nothing was run."), style="yellow")
        elif done.kind == "running" and done.later is not None:
            # Still running after its wait: a terminal can wait for the real outcome.
            self.console.print(mrkdwn(f":hourglass: {done.message}"), style="yellow")
            self.show_action(done.later.result())
        else:  # failed, refused, expired, already decided, unknown, store down
            self.error(done.message or done.error or f"The action ended as {done.kind}.")


def fmt_expiry(action: PendingAction) -> str:
    return action.expires_at.strftime("%H:%M UTC")


def parse_line(line: str) -> tuple[str, str] | None:
    """`/k8s pods -n prod` or `k8s pods -n prod` → ("/k8s", "pods -n prod"); blank → None."""
    line = line.strip()
    if not line:
        return None
    if line.lower() in ("help", "?"):
        return "/chatops", "help"
    head, _, rest = line.partition(" ")
    command = head if head.startswith("/") else "/" + head
    return command.lower(), rest.strip()


class Repl:
    """Read a line, dispatch it like a Slack command, print the answer; until Ctrl-D or `exit`."""

    def __init__(self, runtime: Runtime, session: Session, console: Console) -> None:
        self.runtime = runtime
        self.session = session
        self.console = console
        self.interactive = sys.stdin.isatty()
        self.responder = ConsoleResponder(console, runtime, session)
        session.prompt_yes = self._ask_yes

    def _read(self, prompt: str) -> str:
        # input() writes the prompt itself, so readline knows where the editable text starts.
        return input(prompt if self.interactive else "")

    def _ask_yes(self, question: str) -> bool:
        try:
            answer = self._read(question)
        except (EOFError, KeyboardInterrupt):
            self.console.print()
            return False
        if not self.interactive:
            self.console.print(f"{question}{answer}")
        return answer.strip().lower() in ("yes", "y")

    @property
    def prompt(self) -> str:
        where = f" #{self.session.channel_id}" if self.session.channel_id else ""
        return f"chatops ({self.session.user_id}{where})> "

    def run_line(self, line: str) -> bool:
        """Handle one line; False when the user asked to leave."""
        stripped = line.strip()
        if stripped.lower() in EXIT_WORDS:
            return False
        if stripped.startswith(":"):
            self.meta(stripped)
            return True
        parsed = parse_line(stripped)
        if parsed is None:
            return True
        command, text = parsed
        request = Request(
            user_id=self.session.user_id, command=command, text=text, channel_id=self.session.channel_id
        )
        try:
            dispatch(self.runtime, request, self.responder)
        except KeyboardInterrupt:
            self.console.print("\ninterrupted (a handler already started may still finish)", style="yellow")
        return True

    def meta(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.responder.error(str(exc))
            return
        name, args = words[0].lower(), words[1:]
        if name == ":channel":
            self.session.channel_id = args[0] if args else ""
        elif name == ":incident" and len(args) == 1 and args[0].isdigit():
            with self.runtime.store.engine.connect() as conn:
                row = conn.execute(
                    select(incidents.c.channel_id, incidents.c.title).where(incidents.c.id == int(args[0]))
                ).first()
            if row is None or not row.channel_id:
                self.responder.error(f"No incident {args[0]} with a channel.")
                return
            self.session.channel_id = row.channel_id
            self.console.print(Text(f"Working in incident {args[0]}: {row.title}"))
        elif name == ":pending":
            self.pending()
        elif name in (":approve", ":reject") and len(args) == 1:
            guard = self.runtime.guard
            if name == ":approve" and (why := self._same_person(args[0])):
                self.responder.error(f":no_entry: {why}")
                return
            decide = guard.approve if name == ":approve" else guard.reject
            self.responder.show_action(decide(args[0], self.session.user_id))
        else:
            self.console.print(mrkdwn(META_HELP))

    def _same_person(self, action_id: str) -> str | None:
        """Why this console may not approve `action_id` (the same OS account asked for it)."""
        who = self.session.identity
        if who is None:
            return None
        requester = next((a.requester for a in self.runtime.guard.open_actions() if a.id == action_id), None)
        return approval_refusal(self.runtime.store.engine, action_id, requester, who)

    def pending(self) -> None:
        """The actions waiting for a confirmation or an approval, newest first."""
        actions = self.runtime.guard.open_actions()
        if not actions:
            self.console.print("No actions are waiting.")
            return
        rows = [
            [a.id, a.status.label, a.requester, a.command_line[:60], a.preview.summary[:80], fmt_expiry(a)]
            for a in actions
        ]
        table = Table(
            title="Waiting actions",
            columns=["ID", "STATUS", "REQUESTER", "COMMAND", "WOULD CHANGE", "EXPIRES"],
            rows=rows,
        )
        self.responder.result(table)

    def loop(self) -> None:
        while True:
            try:
                line = self._read(self.prompt)
            except EOFError:
                if self.interactive:
                    self.console.print()
                return
            except KeyboardInterrupt:
                self.console.print()
                continue
            if not self.interactive and line.strip():
                self.console.print(Text(f"> {line.strip()}", style="dim"))
            if not self.run_line(line):
                return


def _load_history() -> Callable[[], None]:
    """Line editing and history when a terminal is attached; returns what saves the history."""
    try:
        import readline
    except ImportError:  # pragma: no cover - every Linux Python has it
        return lambda: None
    with contextlib.suppress(OSError):  # no history yet, or a read-only home
        readline.read_history_file(HISTORY)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY)

    return save


def banner(runtime: Runtime, session: Session) -> Text:
    cfg = runtime.config
    roles = ", ".join(runtime.access.roles(session.user_id))
    text = Text()
    text.append("chatops console", style="bold")
    text.append(f" · state store {runtime.store.safe_url}\n", style="dim")
    targets = [
        f"{len(cfg.clusters)} cluster(s)",
        f"{len(cfg.databases)} database(s)",
        f"{len(cfg.redis)} redis",
        f"{len(cfg.services)} service(s)",
    ]
    text.append(f"Targets: {', '.join(targets)} from {runtime.settings.config_path}\n")
    text.append(f"You are {session.user_id} (roles: {roles}).")
    if session.user_id.startswith("local:"):
        account = session.identity.os_account if session.identity else session.user_id.removeprefix("local:")
        text.append(
            f"\nYour OS account is not in console.users: add `console.users.{account}: U…` (your Slack "
            "user id) to chatops.yaml so access rules apply as in Slack.",
            style="yellow",
        )
    text.append("\nType help for the commands, :help for the console's own, exit to leave.", style="dim")
    return text


def identity(user: str | None, env_user: str) -> str:
    """Check the form of a requested id (who may use it is `bot.console_identity.resolve`'s call)."""
    chosen = (user or env_user or "").strip() or default_user()
    if not USER_ID.fullmatch(chosen):
        raise ValueError(f"user id {chosen!r}: expected a Slack user id such as U0123ABCD")
    return chosen


def run(
    runtime: Runtime, session: Session, *, command: str | None = None, console: Console | None = None
) -> int:
    """Run one command (`command`) or the interactive loop; the exit code (1 if a command failed)."""
    console = console or Console(highlight=False, soft_wrap=False)
    repl = Repl(runtime, session, console)
    if command is not None:
        repl.run_line(command)
        return 1 if session.failures else 0
    save_history = _load_history() if repl.interactive else (lambda: None)
    if repl.interactive:
        console.print(banner(runtime, session))
    try:
        repl.loop()
    finally:
        save_history()
    return 0
