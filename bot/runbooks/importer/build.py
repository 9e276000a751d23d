"""Sections → runbook drafts: steps from code, lists and checklists; symptoms; a description.

Inside a section, bold lead-ins steer where things go, as engineers write them:
`**Symptoms:**` (or Trigger, When to …) collects symptoms; `**Resolution:**` (Fix,
Mitigation, Remediation, Workaround) sends the steps after it to `resolution`;
`**Investigation:**` (Diagnosis, Check, Verify, Assessment …) sends them back to
`diagnostics`; informational ones (Common causes, Prerequisites, Note …) go to the
description. Commands that change things always become resolution steps (destructive
handlers go through confirmation); read-only handler steps stay where the text put them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.runbooks.importer.mappers import SCAFFOLDING, TOOLS, Manual, Mapped, map_command
from bot.runbooks.importer.mappers.common import Site
from bot.runbooks.importer.mappers.postgres import from_sql
from bot.runbooks.importer.markdown import (
    SHELL_LANGUAGES,
    SQL_LANGUAGES,
    Block,
    Code,
    Document,
    Item,
    ListBlock,
    Other,
    Paragraph,
    Section,
)
from bot.runbooks.importer.shell import Command, Note, read, substitution_commands
from bot.runbooks.importer.sql import classify, split
from handlers import Registry
from handlers.redact import redact

_SYMPTOM = re.compile(r"symptom|trigger|when to|signs?\b|indicators?", re.I)
_RESOLUTION = re.compile(r"resolution|resolve|\bfix|mitigat|remediat|workaround", re.I)
_DIAGNOSTIC = re.compile(r"diagnos|investigat|detect|assess|\bcheck|verif|gather|analy|triage", re.I)
_INFO = re.compile(
    r"cause|prerequisite|advantage|\bnotes?\b|estimated|graceful|important|warning|\btips?\b|critical|"
    r"impact|owner|version|date|updated|purpose|review|example",
    re.I,
)
_ENUM = re.compile(
    r"^(?:(?:step|issue|scenario|phase|part|stage|level)\s*\d+\s*[:.)-]?|\d+(?:\.\d+)*[.)]|runbook\s*:)\s*",
    re.I,
)
_STEP_HEADING = re.compile(r"^\s*step\s*\d+\b", re.I)
_SCRIPT_NAME = re.compile(r"^[\w.-]+\.(?:sh|bash|py|ps1)$")
MAX_TITLE = 80


def repair(text: str) -> str:
    """Undo UTF-8 read as cp1252 or Mac Roman (`ðŸš¨` → 🚨), which some seeds carry."""
    for enc in ("cp1252", "mac_roman"):
        try:
            fixed = text.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text:
            return fixed
    return text


def clean_title(heading: str) -> str:
    """`🚨 1. Incident Response` → `Incident Response`; `Runbook: Service Won't Start` → its name."""
    text = repair(heading).strip()
    text = re.sub(r"^[^\w(]+", "", text)  # emoji and punctuation in front
    for _ in range(2):
        text = _ENUM.sub("", text).strip()
    return text or heading.strip()


def slug(text: str, limit: int = 63) -> str:
    s = re.sub(r"['’`]", "", text.lower())
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    if len(s) > limit:
        s = s[:limit].rsplit("-", 1)[0] if "-" in s[:limit] else s[:limit]
    return s.strip("-")


_SECRET_ENV = re.compile(
    r"(\b[A-Z_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY)[A-Z_]*=)(\"[^\"$]*\"|'[^']*'|[^\s$'\"]+)"
)
_REDIS_AUTH = re.compile(r"(\bredis-cli\b[^|;&\n]*?\s(?:-a|--pass)\s+)(\S+)")
# curl -u user:pw / --user user:pw (the password part; a bare `-u user` prompts for it)
_CURL_USER = re.compile(r"(\bcurl\b[^|;&\n]*?\s(?:-u|--user)[\s=]*['\"]?[^:\s'\"]*:)([^\s'\"]+)")
# mysql -pSECRET (attached: `-p` alone prompts), and --password SECRET anywhere
_MYSQL_P = re.compile(r"(\bmysql(?:dump|admin|import)?\b[^|;&\n]*?\s-p)([^\s'\"]+)")
_PASSWORD_FLAG = re.compile(r"(--password\s+)(?!-)(\S+)")


def hide_secrets(command: str) -> str:
    """Passwords out of text kept in a runbook: URLs and DSNs, secret-named keys (`PGPASSWORD=…`,
    `"password": …`), bearer tokens, `redis-cli -a …`, `curl -u user:pw`, `mysql -p…`."""
    text = _SECRET_ENV.sub(r"\1***", redact(command))
    for pattern in (_REDIS_AUTH, _CURL_USER, _MYSQL_P, _PASSWORD_FLAG):
        text = pattern.sub(r"\1***", text)
    return text


def short(text: str, limit: int = MAX_TITLE) -> str:
    one = " ".join(text.split()).rstrip(":").strip()
    if len(one) <= limit:
        return one
    cut = one[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


@dataclass
class Found:
    """One command (or code block) met in a section, and what became of it."""

    line: int
    text: str
    tool: str
    step: str = ""  # the step id it became ("" when ignored)
    handler: str = ""
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    in_pod: bool = False  # run with kubectl exec: a kubectl command in the strict count

    @property
    def counted(self) -> bool:
        return self.tool in TOOLS

    @property
    def counted_strict(self) -> bool:
        return self.counted or self.in_pod

    @property
    def mapped(self) -> bool:
        return bool(self.handler)


@dataclass
class Draft:
    """A runbook before params are named: steps hold Sites (see importer.params)."""

    section: Section
    title: str
    name: str = ""
    description: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    resolution: list[dict[str, Any]] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)
    ignored: list[tuple[int, str]] = field(default_factory=list)
    demoted: list[str] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def new_id(self, title: str) -> str:
        base = slug(title, 40) or "step"
        if not base[0].isalnum():
            base = f"s-{base}"
        ident, n = base, 2
        while ident in self._ids:
            ident = f"{base}-{n}"
            n += 1
        self._ids.add(ident)
        return ident


@dataclass
class Skipped:
    section: Section
    reason: str


def has_steps(blocks: list[Block]) -> bool:
    """A procedure: runnable code, a checklist or numbered steps somewhere under the heading."""
    for b in blocks:
        if isinstance(b, Code) and not b.is_document and b.content.strip():
            return True
        if isinstance(b, ListBlock) and not b.table_of_contents:
            if b.checklist or b.ordered:
                return True
            if any(has_steps(i.blocks) for i in b.items):
                return True
    return False


def units(doc: Document) -> list[tuple[Section, list[Block]]]:
    """Each section with its blocks; `Step N` children fold into their parent as its steps."""
    out: list[tuple[Section, list[Block]]] = []
    sections = doc.sections
    folded: set[int] = set()
    for i, sec in enumerate(sections):
        if i in folded:
            continue
        blocks = list(sec.blocks)
        kids: list[int] = []
        j = i + 1
        while sec.level > 0 and j < len(sections) and sections[j].level > sec.level:
            kids.append(j)
            j += 1
        top = min((sections[k].level for k in kids), default=0)
        if kids and all(sections[k].level == top and _STEP_HEADING.match(sections[k].heading) for k in kids):
            for k in kids:
                child = sections[k]
                label = clean_title(child.heading)
                blocks.append(Paragraph(child.line, label, label))
                blocks.extend(child.blocks)
                folded.add(k)
        out.append((sec, blocks))
    return out


class Builder:
    """Walks one section's blocks into a Draft."""

    def __init__(self, draft: Draft, registry: Registry) -> None:
        self.d = draft
        self.registry = registry
        self.phase = "diagnostics"
        self.mode = "steps"  # steps | symptoms | info
        self.label = ""
        self.info_label = ""
        if _RESOLUTION.search(draft.title):
            self.phase = "resolution"

    # -- steps -------------------------------------------------------------------------

    def add(self, step: dict[str, Any], phase: str | None = None) -> str:
        step["id"] = self.d.new_id(str(step.pop("_title_id", step["title"])))
        ordered = {"id": step.pop("id"), **step}
        (self.d.resolution if (phase or self.phase) == "resolution" else self.d.diagnostics).append(ordered)
        return str(ordered["id"])

    def manual(self, title: str, text: str, command: str | None = None, *, changes: bool = False) -> str:
        step: dict[str, Any] = {"kind": "manual", "title": short(title), "text": _safe(text.strip() or title)}
        if command:
            step["command"] = _safe(hide_secrets(command))
        return self.add(step, "resolution" if changes else None)

    # -- blocks ------------------------------------------------------------------------

    def walk(self, blocks: list[Block]) -> None:
        for block in blocks:
            if isinstance(block, Paragraph):
                self.paragraph(block)
            elif isinstance(block, ListBlock):
                self.list_block(block)
            elif isinstance(block, Code):
                self.code(block, self.label or self.d.title)
            elif isinstance(block, Other) and block.text:
                self.d.description.append(block.text)

    def paragraph(self, p: Paragraph) -> None:
        if p.label is None:
            if self.mode == "symptoms" and not p.text.endswith(":"):
                self.d.symptoms.append(p.text)
            else:
                self.d.description.append(p.text)
            return
        label = clean_title(p.label)
        if _SYMPTOM.search(label):
            self.mode = "symptoms"
            if p.rest:
                self.d.symptoms.extend(s.strip() for s in re.split(r";\s*", p.rest) if s.strip())
            return
        if _RESOLUTION.search(label):
            self.mode, self.phase, self.label = "steps", "resolution", label
        elif _DIAGNOSTIC.search(label):
            self.mode, self.phase, self.label = "steps", "diagnostics", label
        elif _INFO.search(label):
            self.mode, self.info_label = "info", label
            if p.rest:
                self.d.description.append(f"{label}: {p.rest}")
            return
        else:
            self.mode, self.label = "steps", label
        if p.rest:
            self.d.description.append(f"{label}: {p.rest}")

    def list_block(self, lst: ListBlock) -> None:
        if lst.table_of_contents:
            return
        texts = [_item_text(i) for i in lst.items]
        if self.mode == "symptoms":
            self.d.symptoms.extend(t for t in texts if t)
            return
        if self.mode == "info":
            self.d.description.append(f"{self.info_label}: " + "; ".join(t for t in texts if t))
            return
        if lst.checklist:
            items = [_safe(t) for t in texts if t]
            if items:
                self.add({"kind": "checklist", "title": short(self.label or self.d.title), "items": items})
            return
        if lst.ordered or any(has_steps(i.blocks) for i in lst.items):
            for item in lst.items:
                self.item(item)
            return
        text = "\n".join(f"- {t}" for t in texts if t)
        if text:
            self.manual(self.label or self.d.title, text)

    def item(self, item: Item) -> None:
        title = item.text or self.label or self.d.title
        codes = [b for b in item.blocks if isinstance(b, Code) and not b.is_document]
        lists = [b for b in item.blocks if isinstance(b, ListBlock)]
        if not codes and not any(li.checklist for li in lists):
            self._prose_item(item, title, lists)
            return
        saved = self.label
        self.label = clean_title(title)
        for b in item.blocks:
            self._item_block(b)
        self.label = saved

    def _prose_item(self, item: Item, title: str, lists: list[ListBlock]) -> None:
        """An item with no code and no checklist: one manual step of its text, sub-lists and paragraphs."""
        lines = [item.text] if item.text else []
        for li in lists:
            lines.extend(f"- {_item_text(i)}" for i in li.items)
        for b in item.blocks:
            if isinstance(b, Paragraph):
                lines.append(b.text)
        name = title if len(title) <= MAX_TITLE else short(title)
        self.manual(name, "\n".join(lines) if len(lines) > 1 else item.text or name)

    def _item_block(self, b: Block) -> None:
        """One block of an item with steps, under the item's title (`self.label`)."""
        if isinstance(b, Code):
            self.code(b, self.label)
        elif isinstance(b, ListBlock) and b.checklist:
            items = [_safe(_item_text(i)) for i in b.items if _item_text(i)]
            if items:
                self.add({"kind": "checklist", "title": short(self.label), "items": items})
        elif isinstance(b, ListBlock):
            self.manual(self.label, "\n".join(f"- {_item_text(i)}" for i in b.items))
        elif isinstance(b, Paragraph):
            self.paragraph(b)

    # -- code ----------------------------------------------------------------------------

    def code(self, code: Code, context: str) -> None:
        if code.is_document or not code.content.strip():
            return
        if code.language in SQL_LANGUAGES:
            for st in split(code.content, code.first):
                title = st.comment or context
                mapped = from_sql(classify(st.text), Site("database", None, hint="a SQL block"))
                self.result(st.line, " ".join(st.text.split()), "psql", mapped, title)
            return
        if code.language not in SHELL_LANGUAGES:
            first = code.content.strip().splitlines()[0]
            comment = re.match(r"^\s*(?:#|//|--)\s*(.+)", first)
            title = comment.group(1) if comment and not first.startswith("#!") else context
            why = f"a {code.language} block: the importer maps shell commands and SQL"
            sid = self.manual(
                title, f"Run this {code.language} code by hand (kept manual: {why}).", code.content.rstrip()
            )
            self.d.found.append(Found(code.line, f"{code.language} block", code.language, sid, reason=why))
            return
        for entry in read(code.content, code.first):
            if isinstance(entry, Note):
                if len(entry.lines) == 1 and _SCRIPT_NAME.match(entry.lines[0]):
                    self.d.description.append(f"Script: {entry.lines[0]}")  # `# daily-check.sh`
                    continue
                head = clean_title(entry.lines[0]) or context
                self.manual(head, "\n".join(entry.lines))
            else:
                self.command(entry, context)

    def command(self, cmd: Command, context: str) -> None:
        stage = cmd.main
        name = stage.name
        if not stage.words:
            return
        if len(stage.words) == 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", stage.words[0].raw):
            inner = substitution_commands(stage.words[0], cmd.line)
            for sub in inner:
                sub.comment = cmd.comment
                sub.text = cmd.text
                if sub.main.words and sub.main.name.rsplit("/", 1)[-1] in TOOLS:
                    self.command(sub, context)
                    return
            self.d.ignored.append((cmd.line, _one_line(cmd.text)))
            return
        if name in SCAFFOLDING:
            self.d.ignored.append((cmd.line, _one_line(cmd.text)))
            return
        title = clean_title(cmd.comment) if cmd.comment else ""
        mapping = map_command(cmd)
        self.result(cmd.line, cmd.text, mapping.tool, mapping.result, title or context, in_pod=mapping.in_pod)

    def result(
        self,
        line: int,
        text: str,
        tool: str,
        result: Mapped | Manual,
        title: str,
        *,
        in_pod: bool = False,
    ) -> None:
        shown = hide_secrets(_one_line(text))
        found = Found(line, shown, tool, in_pod=in_pod)
        self.d.found.append(found)
        if isinstance(result, Mapped):
            spec = self.registry.get(result.handler)
            assert spec is not None, result.handler
            step: dict[str, Any] = {"title": short(title), "handler": result.handler, "args": result.args}
            step["command"] = _safe(shown)
            if result.notes:
                step["note"] = _safe("; ".join(result.notes))
            found.handler, found.notes = result.handler, list(result.notes)
            found.step = self.add(step, "resolution" if spec.destructive else None)
            return
        found.reason = result.reason
        text_lines = f"Run by hand (kept manual: {result.reason})."
        found.step = self.manual(title, text_lines, text, changes=result.changes)


def _one_line(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def _safe(text: str) -> str:
    """Runbook templates are `{{ param }}`: a literal `{{` in seed text must not read as one."""
    return text.replace("{{", "{ {").replace("}}", "} }")


def _item_text(item: Item) -> str:
    text = item.text
    nested = [i.text for b in item.blocks if isinstance(b, ListBlock) for i in b.items if i.text]
    if nested:
        text = f"{text} ({'; '.join(nested)})" if text else "; ".join(nested)
    return text


def drafts(doc: Document, registry: Registry) -> tuple[list[Draft], list[Skipped]]:
    """One Draft per procedure section; the sections left out, each with why."""
    out: list[Draft] = []
    skipped: list[Skipped] = []
    for section, blocks in units(doc):
        if not has_steps(blocks):
            if blocks:  # a heading with only subsections under it is not worth a line
                reason = "no commands, checklist or numbered steps (only prose, lists or tables)"
                skipped.append(Skipped(section, reason))
            continue
        title = clean_title(section.heading) if section.heading else "Untitled"
        draft = Draft(section, title)
        Builder(draft, registry).walk(blocks)
        if not draft.diagnostics and not draft.resolution:
            skipped.append(Skipped(section, "its code blocks hold no commands"))
            continue
        out.append(draft)
    return out, skipped
