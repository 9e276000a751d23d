"""Load runbook files into validated models; every problem names the file, the line and what.

YAML is read with its lines (`source`), built into the schema (`model`), then checked against
the handler registry (`validate`); all of a file's problems are reported at once:

    runbooks/high-db-cpu.yaml:14: diagnostics[1] (locks): unknown handler 'db.lock' (did you mean db.locks?)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from bot.runbooks.model import Runbook
from bot.runbooks.source import KeyPath, Located, Problem, RunbookError, read_yaml, schema_problems, where
from bot.runbooks.validate import check, check_raw
from handlers import Registry

__all__ = [
    "KeyPath",
    "Located",
    "Problem",
    "RunbookError",
    "load_dir",
    "load_file",
    "parse",
    "read_yaml",
    "runbook_files",
    "where",
]


def parse(text: str, file: str, registry: Registry | None = None) -> Runbook:
    """One runbook from YAML text. With a registry, its handlers and args are checked too."""
    doc = read_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise RunbookError([Problem(file, doc.line(()), "a runbook is a mapping (name:, title:, …)")])
    try:
        runbook = Runbook.model_validate(doc.data)
    except ValidationError as exc:
        # The schema failed, but what can be checked without it still is (a step missing its
        # id must not hide that its handler does not exist): every problem in one pass.
        problems = schema_problems(exc, doc, file)
        reported = {(p.line, p.message) for p in problems}
        problems += [p for p in check_raw(doc, file, registry) if (p.line, p.message) not in reported]
        raise RunbookError(sorted(problems, key=lambda p: p.line or 0)) from None
    problems = check(runbook, doc, file, registry)
    if problems:
        raise RunbookError(problems)
    return runbook


def load_file(path: Path, registry: Registry | None = None, *, display: str | None = None) -> Runbook:
    """Load and validate one file; its name must be the runbook's name."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError([Problem(shown, None, f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunbookError([Problem(shown, None, "is not UTF-8 text")]) from None
    runbook = parse(text, shown, registry)
    if runbook.name != path.stem:
        doc = read_yaml(text, shown)
        raise RunbookError(
            [
                Problem(
                    shown,
                    doc.line(("name",)),
                    f"name: {runbook.name!r} must match the file name ({path.stem}.yaml)",
                )
            ]
        )
    return runbook


def runbook_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_dir(directory: Path, registry: Registry | None = None) -> tuple[dict[str, Runbook], list[Problem]]:
    """Every runbook in a directory, and the problems of the files that did not load."""
    runbooks: dict[str, Runbook] = {}
    problems: list[Problem] = []
    if not directory.is_dir():
        return runbooks, [Problem(str(directory), None, "runbooks directory not found")]
    for path in runbook_files(directory):
        try:
            rb = load_file(path, registry, display=_display(path))
        except RunbookError as exc:
            problems.extend(exc.problems)
            continue
        if rb.name in runbooks:
            problems.append(Problem(_display(path), None, f"runbook {rb.name!r} is defined twice"))
            continue
        runbooks[rb.name] = rb
    return runbooks, problems


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
