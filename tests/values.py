"""Typed reads of a result's `values` for tests.

`values` maps names to `float | int | str | bool | None`, so comparing an entry with `<` or `>`
does not type-check. `num` hands back the entry as a number after checking that it is one:
exactly the cases where the comparison itself would have raised TypeError.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.results import Value


def num(values: Mapping[str, Value], key: str) -> float:
    """values[key] as a number; fails naming the key if it is missing, None or text."""
    value = values[key]
    assert isinstance(value, int | float), f"values[{key!r}] is {value!r}, not a number"
    return value
