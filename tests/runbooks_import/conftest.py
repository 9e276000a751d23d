"""The importer's tests: the real handler registry, the five seeds, and readers for what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.runbooks.loader import load_dir
from bot.runbooks.model import Runbook
from handlers import Registry, load_all

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SEEDS_DIR = ROOT.parent / "shared" / "seeds"
SEEDS = (
    "000_49c97668c4c58451.txt",
    "001_071ba6b587293d03.txt",
    "002_5cf2f9c937b71c64.txt",
    "003_05504ad92690868b.txt",
    "004_5b127bd35cfc735f.txt",
)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_all()


def seed(name: str) -> Path:
    path = SEEDS_DIR / name
    assert path.is_file(), f"seed runbook {path} is missing (shared/seeds must sit beside the repository)"
    return path


def load_all_written(directory: Path, registry: Registry) -> dict[str, Runbook]:
    """Every file in `directory` through the project's loader; fails naming each problem."""
    runbooks, problems = load_dir(directory, registry)
    assert not problems, "\n".join(str(p) for p in problems)
    return runbooks


def raw(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps(doc: dict[str, Any], section: str = "diagnostics") -> list[dict[str, Any]]:
    found = doc.get(section, [])
    assert isinstance(found, list)
    return found


def by_handler(doc: dict[str, Any], handler: str, section: str = "diagnostics") -> list[dict[str, Any]]:
    return [s for s in steps(doc, section) if s.get("handler") == handler]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}
