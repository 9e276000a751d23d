"""What an import did, per runbook and per file: commands found, mapped to handlers, kept
manual (each with why), and the mapped share of the kubectl, psql, pg_isready, redis-cli and
curl commands — every such command found in the file's fenced blocks is in the denominator."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.runbooks.importer.build import Draft, Found, Skipped
from bot.runbooks.importer.mappers import TOOLS


@dataclass(frozen=True)
class Figures:
    found: int  # commands of TOOLS
    mapped: int

    @property
    def percent(self) -> float:
        return 100.0 * self.mapped / self.found if self.found else 100.0

    def __str__(self) -> str:
        if not self.found:
            return "no kubectl/psql/pg_isready/redis-cli/curl commands"
        return f"{self.mapped}/{self.found} mapped ({self.percent:.0f}%)"


def figures(found: list[Found], *, strict: bool = False) -> Figures:
    """Mapped share of the five tools' commands; `strict` also counts every `kubectl exec` (of
    python, alembic, pg_dump…) as a kubectl command, which the plain count files under the
    command it runs."""
    counted = [f for f in found if (f.counted_strict if strict else f.counted)]
    return Figures(len(counted), sum(1 for f in counted if f.mapped))


@dataclass
class RunbookReport:
    name: str
    title: str
    line: int
    path: str  # where it was (or would be) written
    found: list[Found]
    ignored: list[tuple[int, str]]

    @property
    def figures(self) -> Figures:
        return figures(self.found)

    @property
    def manual(self) -> list[Found]:
        return [f for f in self.found if not f.mapped]


@dataclass
class FileReport:
    file: str
    runbooks: list[RunbookReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dry_run: bool = False

    @property
    def found(self) -> list[Found]:
        return [f for r in self.runbooks for f in r.found]

    @property
    def figures(self) -> Figures:
        return figures(self.found)

    @property
    def strict(self) -> Figures:
        return figures(self.found, strict=True)

    def by_tool(self) -> dict[str, Figures]:
        found: Counter[str] = Counter()
        mapped: Counter[str] = Counter()
        for f in self.found:
            if f.counted:
                found[f.tool] += 1
                mapped[f.tool] += f.mapped
        return {t: Figures(found[t], mapped[t]) for t in TOOLS if found[t]}

    def lines(self, *, verbose: bool = True) -> list[str]:
        out: list[str] = []
        verb = "would write" if self.dry_run else "wrote"
        for r in self.runbooks:
            total = len(r.found)
            manual = len(r.manual)
            out.append(
                f"{r.name}  (line {r.line}: {r.title}) → {verb} {r.path}: {total} command(s), "
                f"{total - manual} mapped to handlers, {manual} kept manual; {r.figures}"
            )
            if not verbose:
                continue
            for f in sorted(r.found, key=lambda f: f.line):
                if f.mapped:
                    out.append(f"  line {f.line}: {f.handler:<20} ← {_cut(f.text)}")
                    out.extend(f"      note: {n}" for n in f.notes)
                else:
                    out.append(f"  line {f.line}: {'manual':<20} ← {_cut(f.text)}")
                    out.append(f"      why: {f.reason}")
            if r.ignored:
                shown = "; ".join(text for _, text in r.ignored[:6])
                more = f" (+{len(r.ignored) - 6} more)" if len(r.ignored) > 6 else ""
                out.append(f"  ignored {len(r.ignored)} line(s) of shell plumbing: {shown}{more}")
        for s in self.skipped if verbose else []:
            name = s.section.heading or "(before the first heading)"
            out.append(f"not a runbook: line {s.section.line} {name!r}: {s.reason}")
        tools = ", ".join(f"{t} {f.mapped}/{f.found}" for t, f in self.by_tool().items())
        fig = self.figures
        out.append(
            f"{self.file}: {len(self.runbooks)} runbook(s), {len(self.found)} command(s) found; "
            f"kubectl/psql/pg_isready/redis-cli/curl: {fig}" + (f" [{tools}]" if tools else "")
        )
        if self.strict != fig:
            out.append(f"  counting every `kubectl exec` as a kubectl command too: {self.strict}")
        return out


def runbook_report(draft: Draft, path: str) -> RunbookReport:
    return RunbookReport(draft.name, draft.title, draft.section.line, path, draft.found, draft.ignored)


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
