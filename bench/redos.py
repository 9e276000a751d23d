"""The ReDoS of issue 12: `^([a-z_]+)+[{]` against metric names, on Python's re and on RE2.

Python's backtracking engine doubles its work with each character of a name that has no `{`;
RE2 (what `/health metrics` now uses, handlers/patterns.py) stays linear. Prints the time per
name length on both engines and their ratio; `re` is only run on short names (at 22
characters it already takes seconds while holding the GIL). Then `redact()` on 100 KB and
1 MB of hostile text: a ratio near 10 is linear.

    python bench/redos.py [--max-re 18]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.patterns import compile_user_regex  # noqa: E402
from handlers.redact import redact  # noqa: E402

EVIL = "^([a-z_]+)+[{]"


def timed(search: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    search(text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-re", type=int, default=18, help="longest name tried on Python's re")
    args = parser.parse_args()
    slow = re.compile(EVIL, re.IGNORECASE)
    fast = compile_user_regex(EVIL)
    print(f"{'name length':>11}  {'re (ms)':>10}  {'RE2 (ms)':>10}  {'re / RE2':>9}")
    for n in range(14, args.max_re + 1, 2):
        name = "a" * n + "_total"
        t_re, t_re2 = timed(slow.search, name), timed(fast.search, name)
        print(f"{n:>11}  {t_re * 1000:>10.2f}  {t_re2 * 1000:>10.4f}  {t_re / max(t_re2, 1e-9):>9.0f}")
    for n in (1_000, 100_000):
        name = "a" * n + "_total"
        print(f"{n:>11}  {'(hours)':>10}  {timed(fast.search, name) * 1000:>10.4f}")
    # redact() runs on every log line and result: its patterns must stay linear on hostile text.
    print(f"\n{'redact() on':>28}  {'100 KB (ms)':>11}  {'1 MB (ms)':>10}  {'ratio':>6}")
    for label, unit in (("one long word with 'token'", "token"), ("'h://x:' repeated", "h://x:")):
        small, big = unit * (100_000 // len(unit)), unit * (1_000_000 // len(unit))
        t_small, t_big = timed(redact, small + " =1"), timed(redact, big + " =1")
        print(f"{label:>28}  {t_small * 1000:>11.1f}  {t_big * 1000:>10.1f}  {t_big / t_small:>6.1f}")


if __name__ == "__main__":
    main()
