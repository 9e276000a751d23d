"""The runbooks on disk, validated against the registry, reloaded when a file changes.

Two directories: the built-in runbooks shipped with the bot (`runbooks/` of the repository,
`bot/_runbooks/` inside the wheel), and the team's own (`runbooks_dir` in chatops.yaml). A
team's runbook with a built-in's name replaces it; `Loaded.team` says which are the team's.

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
from typing import TYPE_CHECKING

from bot.config import ChatopsConfig
from bot.runbooks.loader import Problem, load_dir, runbook_files
from bot.runbooks.model import Runbook
from handlers import Registry

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Loaded:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    team: frozenset[str] = frozenset()  # names that come from the team's runbooks_dir

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The closest runbook names to a mistyped one (by name, then by title words)."""
        names = list(self.runbooks)
        close = difflib.get_close_matches(name.lower(), names, n=n, cutoff=0.5)
        if close:
            return close
        return [rb.name for rb in self.runbooks.values() if rb.matches(name.replace("-", " "))][:n]


def builtin_dir() -> Path:
    """The built-in runbooks: inside the installed package, else the source tree's `runbooks/`."""
    package = Path(__file__).resolve().parents[1]  # bot/
    shipped = package / "_runbooks"  # a wheel (the build copies runbooks/ here: setup.py)
    return shipped if shipped.is_dir() else package.parent / "runbooks"


def team_dir(config: ChatopsConfig, given: Path | None = None) -> Path | None:
    """The team's runbooks: `given` (--dir), else `runbooks_dir`; None when there are none.

    The default (`runbooks`, relative to where the bot runs) is optional; a directory named in
    chatops.yaml or on the command line must exist. The built-in directory is not a team's.
    """
    explicit = given is not None or "runbooks_dir" in config.model_fields_set
    path = given if given is not None else Path(config.runbooks_dir)
    if not explicit and not path.is_dir():
        return None
    if path.is_dir() and path.resolve() == builtin_dir().resolve():
        return None
    return path


def load_catalog(team: Path | None, registry: Registry, *, builtin: Path | None = None) -> Loaded:
    """Built-in runbooks, then the team's over them (same name: the team's wins); team's listed first."""
    builtin = builtin_dir() if builtin is None else builtin
    shipped, problems = load_dir(builtin, registry) if builtin.is_dir() else ({}, [])
    if team is None:
        return Loaded(dict(sorted(shipped.items())), problems)
    own, own_problems = load_dir(team, registry)
    merged = dict(sorted(own.items()))
    merged.update((name, rb) for name, rb in sorted(shipped.items()) if name not in own)
    return Loaded(merged, [*problems, *own_problems], frozenset(own))


def catalog_of(runtime: Runtime) -> Catalog:
    """The runtime's runbooks (built-in and `runbooks_dir` in chatops.yaml), loaded on first use."""
    found = runtime.extras.get("runbooks")
    if isinstance(found, Catalog):
        return found
    catalog = Catalog(team_dir(runtime.config), runtime.registry)
    runtime.extras["runbooks"] = catalog
    return catalog


class Catalog:
    def __init__(self, directory: Path | None, registry: Registry, *, builtin: Path | None = None) -> None:
        self.directory = directory  # the team's, if any
        self.builtin = builtin_dir() if builtin is None else builtin
        self.registry = registry
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._loaded = Loaded()

    def _sign(self) -> Signature:
        out = []
        for directory in (self.builtin, self.directory):
            if directory is None or not directory.is_dir():
                out.append((str(directory), -1, -1))
                continue
            for p in runbook_files(directory):
                try:
                    st = p.stat()
                except OSError:
                    continue
                out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def current(self) -> Loaded:
        sig = self._sign()
        with self._lock:
            if sig != self._signature:
                loaded = load_catalog(self.directory, self.registry, builtin=self.builtin)
                for p in loaded.problems:
                    log.error("runbook not loaded: %s", p)
                self._loaded = loaded
                self._signature = sig
            return self._loaded

    def get(self, name: str) -> Runbook | None:
        return self.current().runbooks.get(name)
