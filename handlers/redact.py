"""Take secrets out of text before it reaches Slack, a log or an error message."""

from __future__ import annotations

import re

# scheme://user:password@host  ->  scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<post>@)")
# password=secret in libpq key/value DSNs and query strings
_KV_PASSWORD = re.compile(
    r"(?P<pre>\b(?:password|passwd|pwd|token|secret)\s*=\s*)(?P<pw>'[^']*'|[^\s&;]+)", re.I
)
# Slack tokens
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+")

SECRET_KEYS = ("password", "passwd", "token", "secret", "dsn", "url", "authorization", "api_key")


def redact(text: str) -> str:
    """Replace passwords in URLs and DSNs, and Slack tokens, with ***."""
    # Each pattern needs its marker to match at all; checking for it first keeps the common
    # case (every log line and message) to three substring searches.
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\g<pre>***\g<post>", text)
    if "=" in text:
        text = _KV_PASSWORD.sub(r"\g<pre>***", text)
    if "xox" in text or "xapp" in text:
        text = _SLACK_TOKEN.sub("xox*-***", text)
    return text
