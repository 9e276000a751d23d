"""Markdown runbooks into sections, with markdown-it-py (CommonMark), never regexes over lines.

A section is a heading and the blocks up to the next heading: prose paragraphs, lists
(ordered, bulleted, `- [ ]` checklists, with nested blocks), fenced or indented code with
its language and the line of its first content line, tables and quotes. Every block keeps
its 1-based line in the file so the importer's report and messages point at it.

What CommonMark silently accepts but a runbook author never means is refused here with the
line: a fence that is never closed (markdown-it runs it to the end of its container and
swallows the rest), an HTML comment that is never closed, text that is not UTF-8, binary
files and empty files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Languages whose fenced blocks are documents (templates, output), not steps to run.
DOC_LANGUAGES = frozenset({"markdown", "md", "text", "txt", "plaintext", "output", "log", "diff", "mermaid"})
SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell", "console", "zsh", "shell-session", "terminal", "ksh"})
SQL_LANGUAGES = frozenset({"sql", "psql", "postgres", "postgresql", "pgsql", "plpgsql"})
_CHECKBOX = re.compile(r"^\[([ xX])\]\s+")


class MarkdownError(ValueError):
    """The file is not a Markdown runbook we can read; `line` (1-based) when one is to blame."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@dataclass
class Paragraph:
    line: int
    text: str
    # A bold lead-in such as `**Symptoms**: Pods in CrashLoopBackOff` or `**Resolution:**`.
    label: str | None = None
    rest: str = ""


@dataclass
class Code:
    line: int  # the opening fence's line
    first: int  # the line of the first content line
    language: str
    content: str

    @property
    def is_document(self) -> bool:
        return self.language in DOC_LANGUAGES


@dataclass
class Item:
    line: int
    text: str  # the item's first paragraph
    checked: bool | None = None  # None: not a checklist item
    blocks: list[Block] = field(default_factory=list)  # nested blocks after the first paragraph
    links_only: bool = False


@dataclass
class ListBlock:
    line: int
    ordered: bool
    items: list[Item]

    @property
    def checklist(self) -> bool:
        return any(i.checked is not None for i in self.items)

    @property
    def table_of_contents(self) -> bool:
        return all(i.links_only and not i.blocks for i in self.items)


@dataclass
class Other:
    """A table, a quote or an HTML block: kept as text for the description."""

    line: int
    kind: str
    text: str


Block = Paragraph | Code | ListBlock | Other


@dataclass
class Section:
    level: int
    heading: str  # the heading's text as written (inline Markdown rendered to text)
    line: int
    path: tuple[str, ...]  # the headings above it, outermost first
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    file: str
    sections: list[Section]


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def inline_text(node: SyntaxTreeNode) -> str:
    """An inline node as plain text: emphasis dropped, `code` kept in backticks, links as their text."""
    out: list[str] = []
    for child in node.children:
        if child.type == "text":
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"`{child.content}`")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "html_inline":
            out.append(child.content)
        elif child.type == "image":
            out.append(inline_text(child) or str(child.attrs.get("alt", "")))
        else:
            out.append(inline_text(child))
    return "".join(out)


def _links_only(node: SyntaxTreeNode) -> bool:
    kids = [c for c in node.children if not (c.type == "text" and not c.content.strip())]
    return bool(kids) and all(c.type == "link" for c in kids)


def _line(node: SyntaxTreeNode) -> int:
    return (node.map[0] + 1) if node.map else 0


def _paragraph(node: SyntaxTreeNode) -> Paragraph:
    inline = node.children[0] if node.children else None
    text = inline_text(inline).strip() if inline else ""
    para = Paragraph(_line(node), text)
    kids = [c for c in (inline.children if inline else []) if not (c.type == "text" and not c.content)]
    if not kids:
        return para
    first = kids[0]
    if first.type == "strong":
        lead = inline_text(first).strip()
        rest = text[len(lead) :].strip() if text.startswith(lead) else ""
        if lead.endswith(":"):
            para.label, para.rest = lead.rstrip(":").strip(), rest
        elif rest.startswith(":"):
            para.label, para.rest = lead, rest[1:].strip()
        elif not rest:
            para.label = lead
    return para


class _Reader:
    def __init__(self, file: str, lines: list[str]) -> None:
        self.file = file
        self.lines = lines

    def fence(self, node: SyntaxTreeNode) -> Code:
        start, end = node.map or (0, 0)
        markup = node.markup or "```"
        closing = self.lines[end - 1].strip().lstrip(">").strip() if end - 1 > start else ""
        if not (closing.startswith(markup[0] * len(markup)) and set(closing) <= {markup[0]}):
            raise MarkdownError(
                self.file,
                f"unterminated code fence: the {markup} block opened here is never closed "
                f"(close it with a line of {markup})",
                start + 1,
            )
        language = (node.info or "").strip().split(maxsplit=1)[0].lower() if node.info else ""
        return Code(start + 1, start + 2, language, node.content)

    def blocks(self, nodes: list[SyntaxTreeNode]) -> list[Block]:
        out: list[Block] = []
        for node in nodes:
            block = self.block(node)
            if block is not None:
                out.append(block)
        return out

    def block(self, node: SyntaxTreeNode) -> Block | None:
        kind = node.type
        if kind == "paragraph":
            return _paragraph(node)
        if kind == "fence":
            return self.fence(node)
        if kind == "code_block":
            return Code(_line(node), _line(node), "", node.content)
        if kind in ("bullet_list", "ordered_list"):
            return ListBlock(_line(node), kind == "ordered_list", [self.item(i) for i in node.children])
        if kind == "html_block":
            content = node.content
            if "<!--" in content and "-->" not in content[content.index("<!--") :]:
                raise MarkdownError(
                    self.file, "unclosed HTML comment: everything after it would be hidden", _line(node)
                )
            return Other(_line(node), "html", content.strip())
        if kind == "table":
            rows = []
            for row in _walk(node, "tr"):
                rows.append(
                    " | ".join(inline_text(c.children[0]).strip() for c in row.children if c.children)
                )
            return Other(_line(node), "table", "\n".join(rows))
        if kind == "blockquote":
            inner = self.blocks(node.children)
            return Other(_line(node), "quote", "\n".join(_text_of(b) for b in inner))
        return None  # hr

    def item(self, node: SyntaxTreeNode) -> Item:
        children = list(node.children)
        text, checked, links = "", None, False
        if children and children[0].type == "paragraph":
            first = children.pop(0)
            inline = first.children[0] if first.children else None
            text = inline_text(inline).strip() if inline else ""
            links = inline is not None and _links_only(inline)
            m = _CHECKBOX.match(text)
            if m:
                checked = m.group(1) != " "
                text = text[m.end() :].strip()
        return Item(_line(node), text, checked, self.blocks(children), links)


def _walk(node: SyntaxTreeNode, kind: str) -> list[SyntaxTreeNode]:
    found = []
    for child in node.children:
        if child.type == kind:
            found.append(child)
        else:
            found.extend(_walk(child, kind))
    return found


def _text_of(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, ListBlock):
        return "\n".join(f"- {i.text}" for i in block.items)
    if isinstance(block, Code):
        return block.content.rstrip()
    return block.text


def decode(raw: bytes, file: str) -> str:
    """Text from bytes: refuses empty, binary and non-UTF-8 files with a message saying which."""
    if not raw.strip():
        raise MarkdownError(file, "the file is empty: nothing to import")
    if b"\x00" in raw[:8192]:
        raise MarkdownError(file, "this is a binary file, not Markdown text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MarkdownError(
            file, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); save it as UTF-8", line
        ) from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 8:
        raise MarkdownError(file, "this looks like a binary file (control characters), not Markdown text")
    return text


def parse(text: str, file: str) -> Document:
    """Sections of a Markdown document; MarkdownError for what a runbook cannot be."""
    lines = text.splitlines()
    root = SyntaxTreeNode(_parser().parse(text))
    reader = _Reader(file, lines)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    current: Section | None = None
    preamble: list[Block] = []
    for node in root.children:
        if node.type == "heading":
            level = int(node.tag[1:])
            heading = inline_text(node.children[0]).strip() if node.children else ""
            while stack and stack[-1][0] >= level:
                stack.pop()
            if not heading:
                raise MarkdownError(file, "a heading with no text", _line(node))
            current = Section(level, heading, _line(node), tuple(h for _, h in stack))
            stack.append((level, heading))
            sections.append(current)
            continue
        block = reader.block(node)
        if block is None:
            continue
        if current is None:
            preamble.append(block)
        else:
            current.blocks.append(block)
    if not sections:
        raise MarkdownError(
            file, "no headings found: a Markdown runbook needs a heading (# Title) over each procedure"
        )
    if preamble:
        sections.insert(0, Section(0, "", preamble[0].line, (), preamble))
    return Document(file, sections)
