"""One renderer per surface for the handlers' typed results.

    slack.py    Block Kit within Slack's limits (and the small block helpers other messages use)
    text.py     plain text: uploaded files, logs, fallbacks, the audit's result column
    console.py  rich renderables for the terminal console

Each surface dispatches on the result's type with `functools.singledispatch` and calls
`require_every_result` at import, so a new kind added to `handlers.results.Result` fails at
the first import of every surface that does not render it yet, naming the surface and the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from handlers.results import Result

RESULT_TYPES: tuple[type, ...] = get_args(Result)


def require_every_result(registry: Mapping[type, object], surface: str) -> None:
    """Raise unless `registry` (a singledispatch registry) has a renderer for every Result type."""
    missing = [t.__name__ for t in RESULT_TYPES if t not in registry]
    if missing:
        raise TypeError(f"the {surface} renderer has no case for result type(s): {', '.join(missing)}")
