"""`chatops runbook import`: Markdown runbooks → runbook YAML the bot runs through its handlers.

markdown (sections with markdown-it-py) · shell (commands with shlex) · sql (statements) ·
mappers (kubectl, psql/pg_isready/SQL, redis-cli, curl → handler steps) · build (sections →
drafts) · params (per-site values → params or a service) · writer (validated YAML, only
inside --out) · report (what was mapped, what stayed manual and why).

Nothing found in the file is ever executed: commands and SQL are only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import ChatopsConfig
from bot.runbooks.importer.build import drafts
from bot.runbooks.importer.markdown import MarkdownError, decode, parse
from bot.runbooks.importer.report import FileReport, runbook_report
from bot.runbooks.importer.writer import Rendered, WriteError, assign_names, to_yaml, write
from handlers import Registry

__all__ = ["ImportFailed", "Imported", "MarkdownError", "WriteError", "import_file", "import_text"]


class ImportFailed(Exception):
    """The file cannot be imported; the message says why (and where, when a line is to blame)."""


@dataclass
class Imported:
    report: FileReport
    rendered: list[Rendered]
    written: list[Path]


def import_text(
    text: str,
    file: str,
    registry: Registry,
    *,
    config: ChatopsConfig | None = None,
    prefix: str = "",
) -> tuple[FileReport, list[Rendered]]:
    """Runbooks from Markdown text, rendered and validated; nothing is written."""
    doc = parse(text, file)
    found, skipped = drafts(doc, registry)
    if not found:
        reasons = "; ".join(f"line {s.section.line} {s.section.heading!r}" for s in skipped[:5])
        raise MarkdownError(
            file,
            "no procedure found: no heading has commands, a checklist or numbered steps under it"
            + (f" (sections: {reasons})" if reasons else ""),
        )
    assign_names(found, prefix)
    rendered = [to_yaml(d, file, registry, config) for d in found]
    return FileReport(file, [], skipped), rendered


def import_file(
    path: Path,
    out: Path,
    registry: Registry,
    *,
    config: ChatopsConfig | None = None,
    dry_run: bool = False,
    force: bool = False,
    prefix: str = "",
) -> Imported:
    """Import one Markdown file into `out` (nothing is written with dry_run)."""
    shown = str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ImportFailed(f"{shown}: is a directory, not a Markdown file") from None
    except OSError as exc:
        raise ImportFailed(f"{shown}: cannot be read: {exc.strerror or exc}") from None
    try:
        report, rendered = import_text(decode(raw, shown), shown, registry, config=config, prefix=prefix)
    except MarkdownError as exc:
        raise ImportFailed(str(exc)) from None
    report.dry_run = dry_run
    written: list[Path] = []
    if not dry_run:
        try:
            written = write(rendered, out, registry, force=force)
        except WriteError as exc:
            raise ImportFailed("nothing written:\n" + "\n".join(exc.problems)) from None
    report.runbooks = [runbook_report(r.draft, str(out / f"{r.draft.name}.yaml")) for r in rendered]
    return Imported(report, rendered, written)
