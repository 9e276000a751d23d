"""Property: any text after any registered handler's command gives params or a clear usage error.

Hypothesis types text at the parser (bot/commands/parse.py) and every handler's params model:
random text, and words built from each handler's own flags, field names and tricky values
(huge numbers, negative counts, durations, unbalanced quotes, control characters, regexes
RE2 refuses). The only exception allowed out is ParseError, and its message carries the usage.
The number of inputs tried is printed (`-s` shows it) and must reach the budget.
"""

from __future__ import annotations

import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.parse import ParseError, fields_of, parse_args, split_words, validate
from handlers import HandlerSpec, load_all

SPECS: list[HandlerSpec] = list(load_all())
EXAMPLES = 2000
TRICKY = [
    "",
    "-",
    "--",
    "-1",
    "0",
    "999999999999999999999999",
    "1e309",
    "nan",
    "-inf",
    "5m",
    "99999999d",
    "9999999999d",
    "1e400s",
    "1.5h",
    "0s",
    "'",
    '"',
    "\\x4",
    "\\",
    "a=b",
    "=",
    "*",
    "?*",
    "^([a-z_]+)+[{]",
    "(a)\\1",
    "(?=x)",
    "http://2130706433/",
    "https://[::1]:99999/",
    "http://",
    "prod",
    "Prod_Bad",
    "deploy/backend",
    "app=backend",
    "<!channel>",
    "\x00",
    "\n",
    "é" * 300,
    "x" * 5000,
]

tried = {"n": 0}


def _words_for(spec: HandlerSpec) -> st.SearchStrategy[str]:
    """Words as people type them: flags with a value (`-n prod`, `--since=1h`), `field=value`,
    bare values for the positionals, bare flags, quoted or not."""
    flags: list[str] = []
    names: list[str] = []
    for f in fields_of(spec.params):
        flags += [*f.flags, "--" + f.name.replace("_", "-")]
        names.append(f.name)
    flags = flags or ["--x"]
    # Two in three values are the tricky ones; one_of picks its branches evenly.
    value = st.one_of(st.sampled_from(TRICKY), st.sampled_from(TRICKY), st.text(max_size=40))
    pair = st.tuples(st.sampled_from(flags), value)
    word = st.one_of(
        pair.map(lambda fv: f"{fv[0]} {_quote(fv[1])}"),
        pair.map(lambda fv: f"{fv[0]} {_quote(fv[1])}"),
        pair.map(lambda fv: _quote(f"{fv[0]}={fv[1]}")),
        st.tuples(st.sampled_from(names or ["x"]), value).map(lambda nv: _quote(f"{nv[0]}={nv[1]}")),
        value.map(_quote),
        st.sampled_from(flags),
    )
    return st.lists(word, max_size=6).map(" ".join)


def _quote(word: str) -> str:
    # Mostly quoted so the words reach the parser; sometimes raw so quoting errors are tried too.
    return word if len(word) % 7 == 0 else "'" + word.replace("'", "") + "'"


def _one(spec: HandlerSpec, text: str) -> None:
    tried["n"] += 1
    command = f"/{spec.command}"
    message = "ok"
    try:
        words = split_words(text)
        raw: dict[str, Any] = parse_args(spec, words, command)
        validate(spec, raw, command)
    except ParseError as exc:
        message = str(exc).strip()
    assert message, f"{spec.name}: an empty error for {text!r}"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def _structured(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(SPECS), label="handler")
    _one(spec, data.draw(_words_for(spec), label="text"))


@settings(max_examples=EXAMPLES // 4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(spec=st.sampled_from(SPECS), text=st.text(max_size=200))
def _any_text(spec: HandlerSpec, text: str) -> None:
    _one(spec, text)


def test_any_text_gives_params_or_a_usage_error() -> None:
    assert len(SPECS) > 30
    tried["n"] = 0
    _structured()
    _any_text()
    print(f"\nparser property: {tried['n']} inputs over {len(SPECS)} handlers", file=sys.stderr)
    assert tried["n"] >= EXAMPLES
