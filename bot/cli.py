"""The `chatops` command (also `python -m bot`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from bot.logging_setup import LogFormat, setup_logging

# Each command imports what it uses: `chatops --help` must not load pydantic-settings,
# SQLAlchemy or Alembic (cold start, bench/startup.py).
if TYPE_CHECKING:
    from bot.config import ChatopsConfig, Settings
    from bot.runtime import Runtime
    from bot.services import Services

app = typer.Typer(help="Run operational runbooks from Slack.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The state store.", no_args_is_help=True)
app.add_typer(db_app, name="db")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _settings() -> Settings:
    from bot.config import Settings

    try:
        return Settings()
    except Exception as exc:
        err.print(f"[red]environment:[/red] {exc}")
        raise typer.Exit(2) from None


def _config(settings: Settings) -> ChatopsConfig:
    """chatops.yaml, or exit 2 naming what is wrong with it."""
    from bot.config import ConfigError, load_config

    try:
        return load_config(settings.config_path)
    except ConfigError as exc:
        err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(2) from None


def _services(
    settings: Settings, *, config: ChatopsConfig | None = None, failed: str = "cannot start"
) -> Services:
    """The targets' clients and the migrated state store, or exit 2 naming what is wrong."""
    from bot.config import ConfigError
    from bot.services import Services
    from bot.store import StoreError

    try:
        services = Services.from_settings(settings, config=config)
        services.store.upgrade()
    except (ConfigError, StoreError) as exc:
        err.print(f"[red]{failed}:[/red] {exc}")
        raise typer.Exit(2) from None
    return services


@app.command()
def serve(
    port: Annotated[
        int, typer.Option(help="HTTP port: probes, metrics, status page, webhooks; Slack events in HTTP mode")
    ] = 3000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "0.0.0.0",
    log_format: Annotated[LogFormat, typer.Option(help="Log lines as text or as one JSON object each")] = (
        LogFormat.TEXT
    ),
) -> None:
    """Run the bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP; both serve HTTP on --port."""
    from bot.app import build_app

    setup_logging(log_format, queued=True)
    settings = _settings()
    missing = [n for n, v in (("SLACK_BOT_TOKEN", settings.slack_bot_token),) if not v]
    if not settings.slack_app_token and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        err.print(f"[red]cannot start:[/red] {', '.join(missing)} not set (see README: Configuration)")
        raise typer.Exit(2)
    services = _services(settings)
    try:
        bolt = build_app(settings, services)
    except Exception as exc:
        err.print(f"[red]cannot start:[/red] Slack refused the bot token or is unreachable: {exc}")
        raise typer.Exit(2) from None
    _load_runbooks(bolt.runtime)
    scheduler = bolt.runtime.scheduler
    if scheduler is not None:
        scheduler.start()
    from bot.web import HttpServer, WebApp
    from bot.web import serve as serve_http

    socket_mode = bool(settings.slack_app_token)
    # Probes, metrics, the status page and the webhooks listen on --port in both modes;
    # Slack's own endpoint only in HTTP mode (Socket Mode gets its events over the WebSocket).
    web = WebApp(bolt, slack_path=None if socket_mode else "/slack/events")
    server = HttpServer(web, host=host, port=port)
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(bolt, settings.slack_app_token, web_client=bolt.client)
        out.print(f"chatops: Socket Mode; probes and metrics on http://{host}:{server.port}/")
        handler.connect()
        serve_http(bolt, server, first=handler.close)  # until SIGTERM/SIGINT
        return
    out.print(f"chatops: HTTP mode on http://{host}:{server.port}/slack/events")
    serve_http(bolt, server)  # until SIGTERM/SIGINT, then a graceful shutdown


def _load_runbooks(runtime: Runtime) -> None:
    """Load and validate every runbook before taking requests: a broken file is reported at
    start, and neither the first /runbook command nor the first scheduler tick pays for it."""
    from bot.runbooks.catalog import catalog_of

    loaded = catalog_of(runtime).current()
    out.print(f"runbooks: {len(loaded.runbooks)} loaded, {len(loaded.problems)} with problems")
    for problem in loaded.problems:
        err.print(f"[yellow]runbook not loaded:[/yellow] {problem}")


@app.command("console")
def console_cmd(
    user: Annotated[
        str | None,
        typer.Option("--user", help="Act as this Slack user id (one console.users allows your OS account)"),
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="Run this one command, then exit (1 if it failed)")
    ] = None,
    slack: Annotated[
        bool,
        typer.Option(
            "--slack/--no-slack",
            help="Also use the Slack Web API (SLACK_BOT_TOKEN): resolves user groups in access rules",
        ),
    ] = False,
) -> None:
    """Type the same commands as in Slack, in a terminal; no Slack needed (CHATOPS_USER = who you are)."""
    from bot.app import build_runtime, make_web_client
    from bot.console import Session, identity, run
    from bot.console_identity import resolve

    setup_logging(LogFormat.TEXT, level="WARNING")
    settings = _settings()
    services = _services(settings)
    requested = user or settings.console_user or None
    try:
        if requested:
            identity(requested, "")  # its form first: a clear message for a typo
        who = resolve(services.config, requested)
    except ValueError as exc:
        services.close()
        err.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    user_id = who.user_id
    client = make_web_client(settings) if slack and settings.slack_bot_token else None
    runtime = build_runtime(settings, services, slack=client)
    try:
        code = run(runtime, Session(user_id=user_id, identity=who), command=command)
    finally:
        runtime.pool.shutdown(wait=True)
        services.close()
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the state store's migrations."""
    from bot.store import Store, StoreError

    settings = _settings()
    store = Store(settings.database_url)
    try:
        store.upgrade()
    except StoreError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    out.print(f"state store {store.safe_url}: at migration {store.current()}")


@app.command("check-config")
def check_config(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each target")] = 3.0,
) -> None:
    """Validate chatops.yaml, then try each configured target and print OK or FAIL per target."""
    from bot.check_config import check_targets

    settings = _settings()
    config = _config(settings)
    if not settings.config_path.exists():
        out.print(f"{settings.config_path}: not found; running with no targets configured")
    else:
        out.print(f"{settings.config_path}: valid")
    failed = 0
    for problem in _rule_problems(config):
        failed += 1
        out.print(f"[red]FAIL[/red] {problem}", highlight=False)
    for line in check_targets(config, timeout=timeout):
        failed += not line.ok
        mark = "[green]OK  [/green]" if line.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {line.kind} {line.name}: {line.detail}", highlight=False)
    raise typer.Exit(1 if failed else 0)


def _rule_problems(config: ChatopsConfig) -> list[str]:
    """Access rules that name no handler or command (the names the running bot would have)."""
    import importlib

    from bot.app import BUILTIN_MODULES
    from bot.commands.builtin import builtins
    from bot.guard.commands import rule_problems
    from handlers import load_all

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    commands = [f"{c}.{sub.replace(' ', '-')}" for c, sub in builtins()]
    return rule_problems(config, [s.name for s in load_all()], commands)


incident_app = typer.Typer(help="Incidents in the state store.", no_args_is_help=True)
app.add_typer(incident_app, name="incident")


@incident_app.command("postmortem")
def incident_postmortem(
    number: Annotated[int, typer.Argument(help="The incident number (#N)")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the Markdown here instead of printing it")
    ] = None,
) -> None:
    """Draft an incident's post-mortem from its timeline (the same Markdown /incident postmortem uploads)."""
    from bot.incidents.postmortem import draft_postmortem
    from bot.incidents.records import IncidentError
    from bot.store import Store

    settings = _settings()
    config = _config(settings)
    store = Store(settings.database_url)
    try:
        ok, why = store.readiness()
        if not ok:
            err.print(f"[red]state store {store.safe_url}:[/red] {why}")
            raise typer.Exit(1)
        text = draft_postmortem(store.engine, config, number)
    except IncidentError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()
    if out_file is None:
        sys.stdout.write(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]cannot write {out_file}:[/red] {exc}")
        raise typer.Exit(1) from None
    out.print(f"incident #{number}: post-mortem draft written to {out_file}")


runbook_app = typer.Typer(
    help="Runbooks: list, show, run and validate them from the terminal.", no_args_is_help=True
)
app.add_typer(runbook_app, name="runbook")
RunbookDir = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="The team's runbooks directory, besides the built-in ones (default: runbooks_dir)"
    ),
]


def _runbooks(directory: Path | None, *, only: bool = False) -> tuple[Settings, Any, Any]:
    """Settings, chatops.yaml and the runbooks loaded against the real handler registry: the
    built-in ones and the team's (`--dir`, else runbooks_dir), or with `only` just `--dir`'s."""
    from bot.runbooks.catalog import load_catalog, team_dir
    from bot.runbooks.terminal import load
    from handlers import load_all

    settings = _settings()
    config = _config(settings)
    if only and directory is not None:
        return settings, config, load(directory, load_all())
    return settings, config, load_catalog(team_dir(config, directory), load_all())


def _named(loaded: Any, name: str) -> Any:
    rb = loaded.runbooks.get(name)
    if rb is None:
        close = loaded.suggest(name)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        err.print(f"no runbook named {name!r}.{hint} (chatops runbook list)", markup=False)
        raise typer.Exit(2)
    return rb


@runbook_app.command("list")
def runbook_list(
    words: Annotated[
        list[str] | None, typer.Argument(help="Only runbooks with this tag or these words")
    ] = None,
    directory: RunbookDir = None,
) -> None:
    """List the runbooks with their tags and number of checks."""
    from bot.runbooks.terminal import list_runbooks

    _, _, loaded = _runbooks(directory)
    raise typer.Exit(list_runbooks(out, loaded, " ".join(words or [])))


@runbook_app.command("show")
def runbook_show(
    name: Annotated[str, typer.Argument(help="The runbook's name")], directory: RunbookDir = None
) -> None:
    """Show a runbook's params, diagnostics, checks, resolution steps and sources."""
    from bot.runbooks.terminal import show

    _, _, loaded = _runbooks(directory)
    raise typer.Exit(show(out, _named(loaded, name)))


@runbook_app.command("run")
def runbook_run(
    name: Annotated[str, typer.Argument(help="The runbook's name")],
    params: Annotated[list[str] | None, typer.Argument(help="Params as key=value")] = None,
    directory: RunbookDir = None,
) -> None:
    """Run a runbook's diagnostics here; exit 0 ok, 1 warn, 2 crit, 3 error. Changes nothing."""
    from bot.console_identity import resolve as resolve_identity
    from bot.guard import Access
    from bot.runbooks.commands import audit_step
    from bot.runbooks.engine import Engine
    from bot.runbooks.params import describe
    from bot.runbooks.terminal import authorizer, run

    settings, config, loaded = _runbooks(directory)
    rb = _named(loaded, name)
    services = _services(settings, config=config, failed="cannot run")
    try:  # the same identity as the console's: the OS account through console.users
        user = resolve_identity(config, settings.console_user or None).user_id
    except ValueError as exc:
        services.close()
        err.print(f"[red]cannot run:[/red] {exc}")
        raise typer.Exit(2) from None
    engine = Engine(registry=services.registry, config=config, contexts=services.clients.context)

    def on_done(r: Any, sr: Any) -> None:
        command = f"chatops runbook run {rb.name} {describe(r.values)}".strip()
        audit_step(services.store.engine, r, sr, user_id=user, channel_id="", command=command)

    try:
        code = run(
            out,
            rb,
            list(params or []),
            engine=engine,
            config=config,
            authorize=authorizer(Access(config), user),
            on_done=on_done,
        )
    finally:
        services.close()
    raise typer.Exit(code)


@runbook_app.command("validate")
def runbook_validate(directory: RunbookDir = None) -> None:
    """Check every runbook file (and chatops.yaml's schedules); each problem names its file and line.

    With --dir, only that directory's files (a team's CI), else the built-in and the team's."""
    from bot.runbooks.terminal import schedule_problems, validate

    settings, config, loaded = _runbooks(directory, only=True)
    extra = schedule_problems(config, loaded, str(settings.config_path))
    raise typer.Exit(validate(out, loaded, extra))


@runbook_app.command("import")
def runbook_import(
    file: Annotated[Path, typer.Argument(help="A Markdown runbook (headings, checklists, fenced commands)")],
    out_dir: Annotated[Path, typer.Option("--out", help="Write the runbook files here")] = Path("runbooks"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite runbook files that already exist")
    ] = False,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="chatops.yaml: use its services and targets for the params"),
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Put this before every runbook name")] = "",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One line per runbook, no details")] = False,
) -> None:
    """Turn a Markdown runbook into runbook YAML: commands become handler steps, the rest manual steps.

    Nothing in the file is executed. Every file written passes `chatops runbook validate`.
    """
    from bot.config import ConfigError, parse_config
    from bot.runbooks.importer import ImportFailed, import_file
    from bot.runbooks.importer.params import lenient_env
    from handlers import load_all

    config = None
    if config_file is not None:
        try:
            # Targets' secrets (${VAR}) are not needed to import: unset variables read as empty.
            config = parse_config(
                config_file.read_text(encoding="utf-8"), file=str(config_file), env=lenient_env()
            )
        except (OSError, ConfigError) as exc:
            err.print(f"[red]invalid:[/red] {exc}", markup=True)
            raise typer.Exit(2) from None
    try:
        done = import_file(
            file, out_dir, load_all(), config=config, dry_run=dry_run, force=force, prefix=prefix
        )
    except ImportFailed as exc:
        err.print(f"cannot import {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    for line in done.report.lines(verbose=not quiet):
        out.print(line, markup=False, highlight=False)
    if dry_run:
        out.print("dry run: nothing written", markup=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
