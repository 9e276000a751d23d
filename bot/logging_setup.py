"""Process logging: human-readable text (default) or one JSON object a line (`--log-format json`).

Structured facts travel as `extra={...}` on the log call (request_id, status, duration_ms...).
The text format appends them as key=value; the JSON format makes them fields, so a log
pipeline can search by request id without parsing messages. Both formats pass the message
through `redact`, so a DSN or token inside an exception text never reaches the log.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import queue
import re
import sys
from datetime import UTC, datetime
from enum import StrEnum
from logging.handlers import QueueHandler, QueueListener
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}

# Chatty libraries whose INFO lines say nothing an operator needs.
_QUIET = ("slack_bolt", "slack_sdk", "apscheduler", "urllib3", "httpx", "kubernetes", "alembic")


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a log call passed with `extra=`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _redactor() -> Callable[[str], str]:
    # Imported when a formatter is built, not with this module: `chatops --help` imports the
    # module (for LogFormat) and must not pay for the handler package (cold start).
    from handlers.redact import redact

    return redact


def _secret_name() -> Callable[[str], bool]:
    from handlers.redact import secret_name

    return secret_name


def _safe(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the extras, and exc when there is one."""

    def __init__(self) -> None:
        super().__init__()
        self.redact = _redactor()
        self.secret_name = _secret_name()

    def format(self, record: logging.LogRecord) -> str:
        redact = self.redact
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in extras(record).items():
            entry.setdefault(key, "***" if self.secret_name(key) else _safe(value, redact))
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


# Control characters (newline, carriage return, escape...) in a message or a field would let
# whoever controls the text (a URL path, a Slack payload) start a line of their own: a forged
# log entry. They are written as escapes (\n, \x1b) instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, the extras sorted so lines line up.

    One record is one line (control characters escaped); only a traceback, which the logging
    call itself attached, continues on the lines below. The message, each field and the
    traceback are redacted on their own (a field named like a secret is `***` whatever its
    value), so the time and level around them are never scanned.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = _redactor()
        self.secret_name = _secret_name()

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = self.redact(record.message)
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return self.redact(super().formatStack(stack_info))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extras(record)
        if fields:
            head, sep, tail = line.partition("\n")  # keep a traceback below the fields
            pairs = " ".join(
                f"{k}={'***' if self.secret_name(k) else _quote(_safe(v, self.redact))}"
                for k, v in sorted(fields.items())
            )
            line = f"{head} {pairs}{sep}{tail}"
        return line


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=') or _CONTROL.search(text):
        return json.dumps(text, ensure_ascii=False)
    return text


class _Handoff(QueueHandler):
    """Hands a record to the writer thread. The message is fixed here (its arguments may change
    once the call returns); formatting, redaction and the write happen on the writer's thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        return record


_listener: QueueListener | None = None


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # writes every record still queued
        _listener = None


def setup_logging(
    fmt: LogFormat | str = LogFormat.TEXT,
    *,
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    queued: bool = False,
) -> None:
    """Configure the root logger once for the process (replaces any handler already there).

    `queued` (the server): a request thread only puts the record on a queue and one thread
    formats and writes it, so a slow log sink or a burst of requests never makes an answer to
    Slack wait on the handler's lock. What is queued is written at exit.
    """
    global _listener
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if LogFormat(fmt) is LogFormat.JSON else TextFormatter())
    _stop_listener()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    if queued:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = QueueListener(records, handler)
        _listener.start()
        atexit.register(_stop_listener)
        root.addHandler(_Handoff(records))
    else:
        root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
