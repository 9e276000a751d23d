"""Small formatters shared by the database, cache and HTTP handlers.

Results carry raw numbers in `values` (for runbook thresholds) and these human forms in the
rendered cells, so both stay consistent.
"""

from __future__ import annotations

import math
import re
import unicodedata

_SPACES = re.compile(r"\s+")


def duration(seconds: float | None) -> str:
    """`850 ms`, `4.2 s`, `3m 05s`, `2h 13m`, `3d 4h`; an empty string for unknown."""
    if seconds is None or math.isnan(seconds):
        return ""
    s = max(seconds, 0.0)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    minutes, sec = divmod(int(s), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def millis(ms: float | None) -> str:
    """`0.42 ms`, `12.3 ms`, `1,250 ms`."""
    if ms is None or math.isnan(ms):
        return ""
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def size(num_bytes: float | None) -> str:
    """Bytes in powers of 1024, as `pg_size_pretty` and `redis-cli` show them."""
    if num_bytes is None:
        return ""
    n = float(num_bytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def count(n: float | None) -> str:
    """`1,234`; an empty string for unknown."""
    return "" if n is None else f"{n:,.0f}"


def pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}%"


def cut(text: str | None, limit: int = 120) -> str:
    """One line, whitespace collapsed, cut with an ellipsis."""
    if not text:
        return ""
    one = _SPACES.sub(" ", text).strip()
    return one if len(one) <= limit else one[: limit - 1] + "…"


def show_bytes(data: bytes | str | int | float, limit: int = 120) -> str:
    """Binary-safe display, like `redis-cli`: text as text, other bytes as `\\xNN` escapes."""
    if not isinstance(data, bytes):
        data = str(data).encode("utf-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        text = "".join(ch if 0x20 <= ord(ch) < 0x7F else f"\\x{ord(ch):02x}" for ch in text)
    else:
        text = "".join(
            ch if ch.isprintable() or ch == " " else _escape(ch)
            for ch in text
            if unicodedata.category(ch) != "Cs"
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(ch: str) -> str:
    code = ord(ch)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
