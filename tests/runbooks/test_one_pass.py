"""Issue 13: the validator reports every problem of a file in one pass.

A step missing its `id` (a schema error) used to stop validation there, hiding that the next
step's handler does not exist and that another step passes an argument its handler lacks.
"""

from __future__ import annotations

import pytest

from bot.runbooks.loader import RunbookError, parse
from handlers import load_all

BROKEN = """\
name: broken
title: Broken in three ways
diagnostics:
  - title: No id here
    handler: db.ping
  - id: locks
    title: Locks
    handler: db.lock
  - id: conns
    title: Connections
    handler: db.connections
    args: {databse: main}
"""


def test_a_missing_id_does_not_hide_an_unknown_handler_or_argument() -> None:
    with pytest.raises(RunbookError) as err:
        parse(BROKEN, "rb.yaml", load_all())
    shown = [str(p) for p in err.value.problems]
    assert shown == [
        "rb.yaml:4: diagnostics[0].id: is required",
        "rb.yaml:8: diagnostics[1] (locks).handler: unknown handler 'db.lock' (did you mean db.locks?)",
        shown[2],
    ]
    assert shown[2].startswith(
        "rb.yaml:12: diagnostics[2] (conns).args.databse: db.connections has no argument 'databse'"
    )
    assert "(did you mean database?)" in shown[2]


def test_a_schema_error_alone_is_reported_once() -> None:
    with pytest.raises(RunbookError) as err:
        parse(
            BROKEN.replace("handler: db.lock", "handler: db.locks").replace("databse", "database"),
            "b.yaml",
            load_all(),
        )
    assert [str(p) for p in err.value.problems] == ["b.yaml:4: diagnostics[0].id: is required"]
