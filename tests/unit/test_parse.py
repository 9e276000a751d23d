"""The command-line grammar: what an engineer types becomes a validated params model."""

from __future__ import annotations

import pytest

from bot.commands.parse import ParseError, parse_args, split_words, usage, validate
from tests.helpers_registry import make_registry

SPEC = make_registry().get("t.echo")
assert SPEC is not None


def parse(text: str):
    assert SPEC is not None
    return validate(SPEC, parse_args(SPEC, split_words(text), "/t"), "/t")


def test_flags_positionals_switches_and_key_value() -> None:
    p = parse("hello world -n prod --shout count=3")
    assert p.words == ["hello", "world"]
    assert p.namespace == "prod"
    assert p.shout is True
    assert p.count == 3


def test_long_flag_with_equals_and_quotes() -> None:
    p = parse('"two words" --namespace=kube-system')
    assert p.words == ["two words"]
    assert p.namespace == "kube-system"


def test_unknown_option_is_named_with_the_known_ones() -> None:
    with pytest.raises(ParseError, match=r"unknown option --bogus for /t echo \(options: .*--namespace"):
        parse("--bogus 1")


def test_option_without_value() -> None:
    with pytest.raises(ParseError, match="option -n needs a value"):
        parse("hi -n")


def test_bad_namespace_is_rejected_naming_the_rule() -> None:
    with pytest.raises(ParseError, match=r"namespace: 'Prod_1' is not a valid name \(RFC 1123"):
        parse("-n Prod_1")


def test_wrong_type_names_the_field_and_shows_usage() -> None:
    with pytest.raises(ParseError, match=r"count: .*integer.*Usage: /t echo \[WORDS\]"):
        parse("-c many")


def test_unclosed_quote_is_a_clear_error() -> None:
    with pytest.raises(ParseError, match="check your quotes"):
        split_words('say "hello')


def test_smart_quotes_from_slack_clients_work() -> None:
    assert split_words("“two words” x") == ["two words", "x"]


def test_usage_lists_positionals_then_flags() -> None:
    assert SPEC is not None
    assert usage(SPEC, "/t").startswith("/t echo [WORDS] [-n NAMESPACE] [--shout]")
