"""Drafts → runbook YAML the loader accepts, checked with the project's own validator, and
written only inside `--out`, never over an existing file without `--force`.

Every handler step is validated as the loader will validate it; a step whose arguments do
not validate (a namespace that is not a DNS label, say) is kept as a manual step with that
reason rather than written broken. Files are written atomically (a temporary file in the
same directory, then a rename), so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.config import ChatopsConfig
from bot.runbooks.importer.build import Draft, clean_title, hide_secrets, slug
from bot.runbooks.importer.markdown import MarkdownError
from bot.runbooks.importer.params import ParamBook
from bot.runbooks.loader import Problem, RunbookError, load_file, parse
from handlers import Registry

_UNKNOWN_VAR = re.compile(r"unknown template variable '([^']+)'")
_STEP_AT = re.compile(r"^(diagnostics|resolution)\[(\d+)\]")
FAMILY_TAGS = {"k8s": "kubernetes", "db": "postgres", "redis": "redis", "health": "http"}


class WriteError(Exception):
    """Nothing was written; `problems` says why (existing files, a path outside --out…)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Every string written, whatever part of the Markdown it came from (commands, notes, titles):
    # no password, token or credential is copied into a runbook file.
    data = hide_secrets(data)
    style = "|" if "\n" in data else None
    if style:
        data = "\n".join(line.rstrip() for line in data.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(data: dict[str, Any], header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return header + body


@dataclass
class Rendered:
    draft: Draft
    text: str  # the YAML


def _header(draft: Draft, file: str) -> str:
    section = draft.section.heading or "(before the first heading)"
    return (
        f"# Imported by `chatops runbook import` from {file}, section {section!r} "
        f"(line {draft.section.line}).\n"
        "# Manual steps are what no handler does; review them, the params and the checks.\n"
    )


def _data(draft: Draft, file: str, registry: Registry, config: ChatopsConfig | None) -> dict[str, Any]:
    book = ParamBook(config)
    handler_steps = [s for s in (*draft.diagnostics, *draft.resolution) if "handler" in s]
    book.choose_service([(s["handler"], s["args"]) for s in handler_steps])
    book.service_param()

    def steps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for s in items:
            if "handler" in s:
                spec = registry.get(s["handler"])
                assert spec is not None
                s = {**s, "args": book.step_args(spec, s["args"])}
            out.append(s)
        return out

    diagnostics, resolution = steps(draft.diagnostics), steps(draft.resolution)
    families = {str(s["handler"]).split(".", 1)[0] for s in handler_steps}
    tags = ["imported", *sorted(FAMILY_TAGS[f] for f in families if f in FAMILY_TAGS)]
    description = "\n\n".join(dict.fromkeys(d for d in draft.description if d))
    if draft.section.path:
        where = " › ".join(clean_title(p) for p in draft.section.path)
        description = f"{description}\n\n(Under: {where}.)" if description else f"Under: {where}."
    data: dict[str, Any] = {"name": draft.name, "title": draft.title}
    data["description"] = description or f"Imported from {file}, section {draft.section.heading!r}."
    data["source"] = [{"file": Path(file).name, "section": draft.section.heading or draft.title}]
    symptoms = list(dict.fromkeys(s.strip().rstrip(":") for s in draft.symptoms if s.strip()))
    if symptoms:
        data["symptoms"] = symptoms
    data["tags"] = tags
    if book.specs:
        data["params"] = book.specs
    if diagnostics:
        data["diagnostics"] = diagnostics
    if resolution:
        data["resolution"] = resolution
    return data


def _demote(draft: Draft, section: str, index: int, message: str) -> None:
    """Keep a step whose args do not validate as a manual step, with the validator's reason."""
    items = draft.diagnostics if section == "diagnostics" else draft.resolution
    step = items[index]
    reason = f"its arguments do not validate ({message})"
    items[index] = {
        "id": step["id"],
        "kind": "manual",
        "title": step["title"],
        "text": f"Run by hand (kept manual: {reason}).",
        "command": step.get("command") or step["handler"],
    }
    for found in draft.found:
        if found.step == step["id"] and found.handler:
            found.handler, found.reason, found.notes = "", reason, []
    draft.demoted.append(f"{step['id']}: {reason}")


def to_yaml(draft: Draft, file: str, registry: Registry, config: ChatopsConfig | None) -> Rendered:
    """The draft's YAML, valid for the loader (steps that cannot be are demoted to manual)."""
    for _ in range(len(draft.diagnostics) + len(draft.resolution) + 1):
        text = dump(_data(draft, file, registry, config), _header(draft, file))
        try:
            parse(text, f"{draft.name}.yaml", registry)
        except RunbookError as exc:
            _refuse_templates(draft, file, exc)
            located = [(_STEP_AT.match(_message(p)), p) for p in exc.problems]
            if not all(m for m, _ in located):
                raise  # not a step's args: a bug in the importer, shown as it is
            for m, p in located:
                assert m is not None
                _demote(draft, m.group(1), int(m.group(2)), _message(p).split(": ", 1)[-1])
            continue
        return Rendered(draft, text)
    raise MarkdownError(
        file,
        f"section {draft.section.heading!r} does not make a valid runbook even with every step kept "
        "manual; import the other sections and write this one by hand",
        draft.section.line,
    )


def _refuse_templates(draft: Draft, file: str, exc: RunbookError) -> None:
    """`{{word}}` in the Markdown reads as a runbook template naming no param: say so, clearly."""
    names = sorted(
        {m.group(1) for p in exc.problems if (m := _UNKNOWN_VAR.search(_message(p)))},
    )
    if names:
        braces = ", ".join(f"{{{{{n}}}}}" for n in names)
        raise MarkdownError(
            file,
            f"section {draft.section.heading!r}: {braces} reads as a runbook template, but the section "
            "gives no such param; write it without the double braces (e.g. <service>) and import again",
            draft.section.line,
        )


def _message(p: Problem) -> str:
    return p.message


def assign_names(drafts: list[Draft], prefix: str = "") -> None:
    """Runbook names from the headings: unique in the file, parent heading added on a clash."""
    used: set[str] = set()
    pre = f"{slug(prefix, 30)}-" if prefix and slug(prefix, 30) else ""
    for d in drafts:
        base = slug(d.title, 63 - len(pre)) or "runbook"
        name = base
        if name in used and d.section.path:
            name = slug(f"{clean_title(d.section.path[-1])} {d.title}", 63 - len(pre)) or base
        n = 2
        candidate = name
        while candidate in used:
            candidate = f"{name[: 60 - len(pre)]}-{n}"
            n += 1
        used.add(candidate)
        d.name = f"{pre}{candidate}"


def write(rendered: list[Rendered], out: Path, registry: Registry, *, force: bool) -> list[Path]:
    """Write the files into `out` (created if missing); WriteError and nothing written if any
    target exists (without force) or would land outside `out`."""
    if out.exists() and not out.is_dir():
        raise WriteError([f"{out}: --out is a file, not a directory"])
    out.mkdir(parents=True, exist_ok=True)
    root = out.resolve()
    targets: list[tuple[Path, Rendered]] = []
    problems: list[str] = []
    for r in rendered:
        path = out / f"{r.draft.name}.yaml"
        if path.parent.resolve() != root or Path(os.path.normpath(path)).name != path.name:
            problems.append(f"{path}: would be written outside {out}")
            continue
        if os.path.lexists(path) and not force:
            problems.append(f"{path}: already exists (use --force to overwrite it)")
            continue
        if path.is_dir():
            problems.append(f"{path}: is a directory")
            continue
        targets.append((path, r))
    if problems:
        raise WriteError(problems)
    written: list[Path] = []
    for path, r in targets:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(r.text)
            os.replace(tmp, root / path.name)  # replaces a symlink itself, never its target
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(root / path.name)
    for path in written:
        load_file(path, registry)  # as `chatops runbook validate` loads it
    return written
