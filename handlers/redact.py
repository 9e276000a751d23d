"""Take secrets out of text before it reaches Slack, a log or an error message.

By pattern (passwords in URLs, bearer and basic credentials, Slack and GitHub tokens, JWTs)
and by key name, in every spelling a secret travels in: a query string or DSN
(`?api_key=…&sig=…`, `password=…`), JSON or a Python repr (`{"password": "hunter2"}`),
and `key: value` lines (`client_secret: …`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from enum import Enum
from typing import Any

# scheme://user:password@host  ->  scheme://user:***@host
# (no `/` in the password: it would end the authority; it also keeps this linear on long text)
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?P<post>@)")

# Key names whose values are secrets: any name containing one of these words, or exactly one
# of the short ones (`sig`, `key`, `pwd` would match too much inside other words). The name is
# found by a lookahead and taken possessively: linear even on a 1 MB word (redact runs on
# every log line and every result).
_SECRET_WORDS = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credential|authorization|session[_-]?id|x-amz-signature|x-goog-signature"
)
_SECRET_NAME = rf"(?:(?=[\w.-]*?(?:{_SECRET_WORDS}))[\w.-]++|pwd|sig|signature|dsn)"
# name=value in query strings, DSNs and environment assignments
_KV_PASSWORD = re.compile(
    # `key` alone only as a query parameter (`?key=AIza…`): elsewhere it names Redis keys.
    rf"(?P<pre>(?:(?<![\w.-]){_SECRET_NAME}|(?<=[?&;])key)\s*=\s*)(?P<pw>'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)",
    re.I,
)
# "name": "value" (JSON) and 'name': 'value' (Python repr)
_JSON_SECRET = re.compile(
    rf"(?P<pre>(?P<q>[\"']){_SECRET_NAME}(?P=q)\s*:\s*(?P<vq>[\"']))(?P<pw>(?:\\.|(?!(?P=vq)).)*)(?P=vq)",
    re.I,
)
# name: value (YAML, headers, log lines); only names that are unmistakably secrets
_COLON_SECRET = re.compile(
    rf"(?P<pre>(?<![\w.\"'-])(?:(?=[\w.-]*?(?:{_SECRET_WORDS}))[\w.-]++)\s*:\s+)(?P<pw>(?!(?:Bearer|Basic)\b)[^\s,;'\"]+)",
    re.I,
)
# Authorization: Bearer xxx / Basic xxx
_BEARER = re.compile(r"(?P<pre>\b(?:Bearer|Basic)\s+)(?P<pw>[A-Za-z0-9._~+/=-]{6,})")
# Slack tokens
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+")
# GitHub tokens and JSON Web Tokens
_OTHER_TOKENS = re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}|\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")

_SECRET_KEY = re.compile(_SECRET_NAME, re.I)


def secret_name(name: str) -> bool:
    """Whether a field called `name` holds a secret, by the same rule `redact` applies to
    `name=value` (`db_password`, `api_key`, `sig`...)."""
    return _SECRET_KEY.fullmatch(name) is not None


SECRET_KEYS = ("password", "passwd", "token", "secret", "dsn", "url", "authorization", "api_key")


def redact(text: str) -> str:
    """Replace passwords, tokens and values of secret-named keys with ***."""
    # Each pattern needs its marker to match at all; checking for it first keeps the common
    # case (every log line and message) to a few substring searches.
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\g<pre>***\g<post>", text)
    if "=" in text:
        text = _KV_PASSWORD.sub(r"\g<pre>***", text)
    if ":" in text:
        if '"' in text or "'" in text:
            text = _JSON_SECRET.sub(r"\g<pre>***\g<vq>", text)
        text = _COLON_SECRET.sub(r"\g<pre>***", text)
    if "earer" in text or "asic" in text:
        text = _BEARER.sub(r"\g<pre>***", text)
    if "xox" in text or "xapp" in text:
        text = _SLACK_TOKEN.sub("xox*-***", text)
    if "gh" in text or "eyJ" in text:
        text = _OTHER_TOKENS.sub("***", text)
    return text


def scrub(value: Any) -> Any:
    """Redact every string inside a result, preview, list, tuple or mapping (a copy; same shape).

    The last filter before a front end renders what a handler returned: a handler that forgot
    to redact a line of a log or a field of a JSON body still shows no secret.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Enum):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: scrub(getattr(value, f.name)) for f in fields(value) if f.init}
        return replace(value, **changes)
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value
