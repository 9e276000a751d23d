"""Each surface renders every Result kind, and a surface missing one fails at import, naming it."""

from __future__ import annotations

from functools import singledispatch

import pytest
from rich.console import Console

from bot.render import RESULT_TYPES, require_every_result
from bot.render.console import result_renderable
from bot.render.slack import result_blocks
from bot.render.text import to_text
from handlers.results import Check, Group, KeyValues, Logs, Result, Status, Table, Text

ONE_OF_EACH: list[Result] = [
    Text(title="t", text="hello"),
    KeyValues(title="kv", items=[("version", "16.2")]),
    Table(title="pods", columns=["NAME"], rows=[["api-1"]]),
    Logs(title="logs", lines=["started"]),
    Check(title="disk", status=Status.WARN, detail="81% used"),
    Group(title="g", parts=[Text(text="inner")]),
]


def test_the_sample_covers_every_result_kind() -> None:
    assert {type(r) for r in ONE_OF_EACH} == set(RESULT_TYPES)


@pytest.mark.parametrize("result", ONE_OF_EACH, ids=lambda r: type(r).__name__)
def test_every_surface_renders_every_kind(result: Result) -> None:
    assert result.title in to_text(result)
    assert result_blocks(result).blocks
    console = Console(width=80, record=True, color_system=None)
    console.print(result_renderable(result))
    assert result.title in console.export_text()


def test_a_surface_without_a_case_for_a_kind_fails_naming_it() -> None:
    @singledispatch
    def partial(result: Result) -> str:
        raise TypeError

    @partial.register
    def _(result: Text) -> str:
        return result.text

    with pytest.raises(TypeError, match=r"the pager renderer has no case for result type\(s\): KeyValues"):
        require_every_result(partial.registry, "pager")
