"""Broken runbook files: each problem names the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runbooks.loader import RunbookError, load_dir, load_file, parse
from handlers import Registry, load_all

FILE = "runbooks/broken.yaml"

GOOD = """\
name: broken
title: A runbook
params:
  service: {type: service, default: backend}
  min: {type: duration, default: 5m}
diagnostics:
  - id: conns
    title: Connections
    handler: db.connections
    args: {service: "{{service}}"}
  - id: long
    title: Long-running
    handler: db.long_running
    args:
      service: "{{service}}"
      min: "{{min}}"
checks:
  - {step: conns, value: used_pct, warn: "> 80", crit: "> 95"}
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_all()


def problems(text: str, registry: Registry) -> list[str]:
    with pytest.raises(RunbookError) as info:
        parse(text, FILE, registry)
    return [str(p) for p in info.value.problems]


def test_the_good_file_loads(registry: Registry) -> None:
    rb = parse(GOOD, FILE, registry)
    assert [s.id for s in rb.diagnostics] == ["conns", "long"]


def test_unknown_handler_names_the_line_and_the_closest(registry: Registry) -> None:
    text = GOOD.replace("handler: db.connections", "handler: db.conections")
    assert problems(text, registry) == [
        f"{FILE}:9: diagnostics[0] (conns).handler: unknown handler 'db.conections' "
        "(did you mean db.connections?)"
    ]


def test_an_argument_the_handler_does_not_take(registry: Registry) -> None:
    text = GOOD.replace('      min: "{{min}}"', '      minimum: "{{min}}"')
    [msg] = problems(text, registry)
    assert msg.startswith(
        f"{FILE}:16: diagnostics[1] (long).args.minimum: db.long_running has no argument 'minimum'"
    )
    assert "(did you mean min?)" in msg


def test_a_wrong_argument_value(registry: Registry) -> None:
    text = GOOD.replace('      min: "{{min}}"', "      min: soon")
    [msg] = problems(text, registry)
    assert msg.startswith(f"{FILE}:16: diagnostics[1] (long).args.min: min:")
    assert "is not a duration" in msg


def test_a_string_param_into_an_int_argument(registry: Registry) -> None:
    text = (
        GOOD
        + """\
resolution:
  - id: kill
    title: Terminate
    handler: db.terminate
    args: {service: "{{service}}", pid: "{{who}}"}
""".replace("params:\n", "params:\n  who: {type: string}\n", 1)
    )
    text = text.replace("params:\n", "params:\n  who: {type: string}\n", 1)
    [msg] = problems(text, registry)
    assert "resolution[0] (kill).args.pid: pid: Input should be a valid integer" in msg
    assert msg.startswith(f"{FILE}:")


def test_a_missing_required_argument(registry: Registry) -> None:
    text = (
        GOOD
        + """\
resolution:
  - id: kill
    title: Terminate a backend
    handler: db.terminate
    args: {service: "{{service}}"}
"""
    )
    [msg] = problems(text, registry)
    assert msg.startswith(f"{FILE}:23: resolution[0] (kill).args: db.terminate needs argument 'pid'")


def test_unknown_template_variable(registry: Registry) -> None:
    text = GOOD.replace('args: {service: "{{service}}"}', 'args: {service: "{{servce}}"}', 1)
    assert problems(text, registry) == [
        f"{FILE}:10: diagnostics[0] (conns).args.service: unknown template variable 'servce' "
        "(params: service, min) (did you mean service?)"
    ]


def test_malformed_template(registry: Registry) -> None:
    text = GOOD.replace('args: {service: "{{service}}"}', 'args: {service: "{{ service"}', 1)
    [msg] = problems(text, registry)
    assert msg.startswith(f"{FILE}:10: diagnostics[0] (conns).args.service: malformed template")


def test_threshold_on_an_unknown_step(registry: Registry) -> None:
    text = GOOD.replace("{step: conns, value: used_pct", "{step: connections, value: used_pct")
    [msg] = problems(text, registry)
    assert msg.startswith(f"{FILE}:18: checks[0] (connections).step: unknown step 'connections'")
    assert "(diagnostics: conns, long)" in msg


def test_threshold_with_an_unknown_operator(registry: Registry) -> None:
    text = GOOD.replace('warn: "> 80"', 'warn: "=> 80"')
    assert problems(text, registry) == [
        f"{FILE}:18: checks[0] (conns).warn: threshold '=> 80' needs an operator (>, >=, <, <=, ==, !=) "
        'and a value, like "> 80"'
    ]


def test_threshold_comparing_a_word_with_greater_than(registry: Registry) -> None:
    text = GOOD.replace('crit: "> 95"', 'crit: "> lots"')
    [msg] = problems(text, registry)
    assert (
        msg == f"{FILE}:18: checks[0] (conns).crit: threshold '> lots': "
        "'lots' is not a number (> compares numbers)"
    )


def test_threshold_templated_from_a_string_param(registry: Registry) -> None:
    text = GOOD.replace('crit: "> 95"', 'crit: "> {{min}}"')
    [msg] = problems(text, registry)
    assert msg == f"{FILE}:18: checks[0] (conns).crit: threshold template 'min' must be an int param"


def test_malformed_yaml_names_its_line(registry: Registry) -> None:
    text = GOOD.replace("    title: Long-running\n", "    title: Long-running: [oops\n")
    [msg] = problems(text, registry)
    assert msg.startswith(f"{FILE}:12: not valid YAML:")


def test_duplicate_key(registry: Registry) -> None:
    text = GOOD.replace("    title: Connections\n", "    title: Connections\n    title: Again\n")
    assert problems(text, registry) == [f"{FILE}:9: duplicate key 'title'"]


def test_schema_errors_name_key_and_line(registry: Registry) -> None:
    text = GOOD.replace("    title: Connections\n", "    titel: Connections\n")
    assert problems(text, registry) == [
        f"{FILE}:7: diagnostics[0] (conns).title: is required",
        f"{FILE}:8: diagnostics[0] (conns).titel: unknown key",
    ]


def test_unknown_step_kind(registry: Registry) -> None:
    text = GOOD.replace("  - id: long\n", "  - id: long\n    kind: shell\n")
    [msg] = problems(text, registry)
    assert msg.startswith(
        f"{FILE}:11: diagnostics[1] (long): kind must be handler (the default), manual or checklist"
    )


def test_bad_param_default_and_duplicate_step_id(registry: Registry) -> None:
    text = GOOD.replace("default: 5m", "default: later").replace("  - id: long\n", "  - id: conns\n")
    assert problems(text, registry) == [
        f"{FILE}:5: params.min.default: 'later' is not a duration "
        "(use a number with s, m or h: 90s, 30m, 1h)",
        f"{FILE}:11: diagnostics[1] (conns).id: step id 'conns' is used twice (also diagnostics[0] (conns))",
    ]


def test_file_name_must_match_the_runbook_name(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(GOOD)
    with pytest.raises(RunbookError) as info:
        load_file(path, registry)
    assert str(info.value) == f"{path}:1: name: 'broken' must match the file name (other.yaml)"


def test_empty_and_binary_files(tmp_path: Path, registry: Registry) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00name")
    (tmp_path / "broken.yaml").write_text(GOOD)
    runbooks, found = load_dir(tmp_path, registry)
    assert list(runbooks) == ["broken"]  # the good file still loads
    messages = sorted(p.message for p in found)
    assert messages == ["is not UTF-8 text", "the file is empty"]


def test_every_problem_in_a_file_is_reported_at_once(registry: Registry) -> None:
    text = (
        GOOD.replace("handler: db.connections", "handler: db.conections")
        .replace('"{{min}}"', '"{{mins}}"')
        .replace('warn: "> 80"', 'warn: "> 80"}\n  - {step: nope, value: x, warn: "> 1"')
    )
    found = problems(text, registry)
    assert len(found) == 3
    assert [m.split(":")[1] for m in found] == ["9", "16", "19"]
