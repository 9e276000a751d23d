"""The README stays true: every command the bot answers is in it, and so is the test command CI runs."""

from __future__ import annotations

import importlib
from pathlib import Path

from bot.app import BUILTIN_MODULES
from bot.commands.builtin import builtins
from handlers import load_all

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def test_every_subcommand_is_documented() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    missing = [f"/{s.command} {s.sub}" for s in load_all() if f"`/{s.command} {s.sub}" not in README]
    missing += [f"/{c} {sub}" for c, sub in builtins() if f"`/{c} {sub}" not in README]
    assert not missing, f"README.md lacks: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    command = "pip install -e '.[test]' && python -m pytest -q"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()
