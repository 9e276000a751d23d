"""The runbooks on disk, validated against the registry, reloaded when a file changes.

Editing a runbook needs no restart: each lookup compares the files' names, sizes and
modification times with the last load (a few `stat` calls) and reloads when they differ.
A file that does not load is left out and reported by `/runbook list` and `validate`; the
others stay usable, so one typo never takes every runbook away during an incident.
"""

from __future__ import annotations

import difflib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.runbooks.loader import Problem, load_dir, runbook_files
from bot.runbooks.model import Runbook
from handlers import Registry

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Loaded:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The closest runbook names to a mistyped one (by name, then by title words)."""
        names = list(self.runbooks)
        close = difflib.get_close_matches(name.lower(), names, n=n, cutoff=0.5)
        if close:
            return close
        return [rb.name for rb in self.runbooks.values() if rb.matches(name.replace("-", " "))][:n]


class Catalog:
    def __init__(self, directory: Path, registry: Registry) -> None:
        self.directory = directory
        self.registry = registry
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._loaded = Loaded()

    def _sign(self) -> Signature:
        if not self.directory.is_dir():
            return ()
        out = []
        for p in runbook_files(self.directory):
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def current(self) -> Loaded:
        sig = self._sign()
        with self._lock:
            if sig != self._signature:
                runbooks, problems = load_dir(self.directory, self.registry)
                for p in problems:
                    log.error("runbook not loaded: %s", p)
                self._loaded = Loaded(runbooks, problems)
                self._signature = sig
            return self._loaded

    def get(self, name: str) -> Runbook | None:
        return self.current().runbooks.get(name)
