"""Regular expressions typed in chat run on RE2: linear time, whatever the pattern.

Python's `re` backtracks: `^([a-z_]+)+[{]` against a long metric name holds the GIL for
seconds and freezes every other command. RE2 has no backreferences or look-arounds, so a
pattern that needs them is refused with RE2's reason instead.
"""

from __future__ import annotations

from typing import Annotated, Any

import re2
from pydantic import AfterValidator

MAX_PATTERN = 200  # characters
_MAX_MEM = 8 << 20  # bytes of RE2 program: bounds what one pattern may compile to


def _options(*, ignore_case: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # RE2 would print each refused pattern to stderr
    options.max_mem = _MAX_MEM
    return options


def compile_user_regex(pattern: str, *, ignore_case: bool = True) -> Any:
    """Compile a user's pattern on RE2; ValueError with a clear reason when it cannot be."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"the pattern is {len(pattern)} characters; keep it under {MAX_PATTERN}")
    try:
        return re2.compile(pattern, _options(ignore_case=ignore_case))
    except re2.error as exc:
        reason = (
            exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        )
        raise ValueError(
            f"{pattern!r} is not a valid regular expression for RE2 ({reason}); "
            "no backreferences or look-arounds"
        ) from None


def _valid(value: str) -> str:
    compile_user_regex(value)
    return value


UserRegex = Annotated[str, AfterValidator(_valid)]
"""A params field holding a user's regular expression (checked on RE2 at parse time)."""
