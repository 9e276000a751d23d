"""One table of (command, subcommand) for handlers and built-ins, with one longest-prefix matcher."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest

from bot.app import BUILTIN_MODULES
from bot.commands.builtin import builtins, command_table
from handlers import HandlerSpec, load_all
from handlers.command_table import CommandTable, DuplicateCommand


@dataclass(frozen=True)
class E:
    command: str
    sub: str
    summary: str = ""


def test_the_longest_subcommand_wins_case_insensitively_and_keeps_the_words_typed() -> None:
    table = CommandTable.of([E("k8s", "rollout"), E("k8s", "rollout restart"), E("k8s", "pods")])
    found = table.match("k8s", ["Rollout", "RESTART", "Backend"])
    assert found is not None
    assert found[0].sub == "rollout restart"
    assert found[1] == ["Backend"]
    assert table.match("k8s", ["rollout", "status"]) == (E("k8s", "rollout"), ["status"])
    assert table.match("db", ["pods"]) is None
    assert table.match("k8s", []) is None


def test_a_subcommand_registered_twice_or_a_default_missing_is_refused() -> None:
    with pytest.raises(DuplicateCommand, match="/k8s pods is registered twice"):
        CommandTable.of([E("k8s", "pods"), E("k8s", "pods")])
    with pytest.raises(ValueError, match="default subcommand 'check'"):
        CommandTable.of([E("health", "inspect")], {"health": "check"})


def test_the_bots_table_holds_every_handler_and_every_built_in_once() -> None:
    registry = load_all()
    for module in BUILTIN_MODULES:  # registers the built-ins, as build_runtime does
        importlib.import_module(module)

    table = command_table(registry)
    assert {(s.command, s.sub) for s in registry} | set(builtins()) == set(table.entries)
    assert len(table.entries) == len(registry) + len(builtins())
    assert table.default_sub("health") == "check"
    found = table.match("health", ["check", "backend"])
    assert found is not None
    assert isinstance(found[0], HandlerSpec)
