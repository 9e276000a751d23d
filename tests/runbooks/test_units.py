"""Templates, thresholds, params and cron: the small parts, with no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import parse_config
from bot.cron import latest_due, next_fire
from bot.runbooks.judge import evaluate
from bot.runbooks.model import CheckRule, Param, Runbook
from bot.runbooks.params import ParamError, bind, split_assignments
from bot.runbooks.template import OMIT, TemplateError, fill_args, fill_text, variables
from bot.runbooks.thresholds import crosses, parse_threshold
from handlers.results import Status


def test_a_whole_template_keeps_the_params_type() -> None:
    assert fill_args("{{ replicas }}", {"replicas": 3}) == 3
    assert fill_args("{{flag}}", {"flag": False}) is False
    assert fill_args("app={{ app }},tier={{tier}}", {"app": "web", "tier": 2}) == "app=web,tier=2"
    assert fill_args(["{{a}}/x", "{{b}}"], {"a": "h", "b": None}) == ["h/x"]


def test_an_unset_optional_param_leaves_the_arg_out() -> None:
    assert fill_args("{{pid}}", {"pid": None}) is OMIT
    assert fill_args({"pid": "{{pid}}", "service": "{{s}}"}, {"pid": None, "s": "api"}) == {"service": "api"}
    assert fill_text("Terminate {{pid}}", {"pid": None}) == "Terminate <pid>"


def test_templates_are_names_only_never_expressions() -> None:
    assert variables({"a": ["{{x}}", "{{ y }}z"]}) == {"x", "y"}
    with pytest.raises(TemplateError, match="malformed template"):
        variables("{{ x.__class__ }}")
    with pytest.raises(TemplateError, match="malformed template"):
        fill_args("{{ 1 + 1 }}", {})
    with pytest.raises(TemplateError, match="unknown template variable 'nope'"):
        fill_args("{{nope}}", {})


@pytest.mark.parametrize(
    ("text", "value", "hit"),
    [
        ("> 80", 81, True),
        ("> 80", 80, False),
        (">= 80", 80.0, True),
        ("< 1", 0, True),
        ("== down", "DOWN", True),
        ("!= running", "running", False),
        ("== false", False, True),
        ("== true", "true", True),
        ("> 5", "7", True),
    ],
)
def test_thresholds(text: str, value: object, hit: bool) -> None:
    assert crosses(value, parse_threshold(text)) is hit  # type: ignore[arg-type]


def test_values_that_cannot_be_compared() -> None:
    assert crosses(None, parse_threshold("> 1")) is None
    assert crosses("many", parse_threshold("> 1")) is None
    with pytest.raises(ValueError, match="true/false only compare with == or !="):
        parse_threshold("> true")


def test_evaluate_says_which_line_was_crossed() -> None:
    rule = CheckRule(step="c", value="used_pct", warn="> 80", crit="> 95", label="connections used (%)")
    assert evaluate(rule, {"used_pct": 97.5}).text == "connections used (%) = 97.5 (crit > 95)"
    assert evaluate(rule, {"used_pct": 85}).status is Status.WARN
    ok = evaluate(rule, {"used_pct": 12})
    assert (ok.status, ok.text) == (Status.OK, "connections used (%) = 12 (ok; warn > 80 / crit > 95)")
    missing = evaluate(rule, {"other": 1})
    assert missing.status is None
    assert "has no value 'used_pct' (it has: other)" in missing.text
    templated = CheckRule(step="c", value="ms", warn="> {{w}}")
    assert evaluate(templated, {"ms": 600}, lambda t: t.replace("{{w}}", "500")).status is Status.WARN


def _runbook(**params: Param) -> Runbook:
    return Runbook.model_validate(
        {
            "name": "x",
            "title": "X",
            "params": params,
            "resolution": [{"id": "m", "kind": "manual", "title": "M", "text": "t"}],
        }
    )


def test_params_are_typed_with_defaults_and_checked() -> None:
    rb = _runbook(
        service=Param(type="service", default="backend"),
        replicas=Param(type="int", default=2),
        since=Param(type="duration", default="1h"),
        dry=Param(type="bool", default=False),
        pid=Param(type="int", default=None),
    )
    config = parse_config("services: {backend: {}, frontend: {}}")
    values = bind(rb, split_assignments(["replicas=5", "dry=yes"]), config)
    assert values == {"service": "backend", "replicas": 5, "since": "1h", "dry": True, "pid": None}
    with pytest.raises(ParamError) as info:
        bind(rb, split_assignments(["replicas=many", "servce=api", "service=api"]), config)
    msg = str(info.value)
    assert (
        "unknown param 'servce' for x (params: service, replicas, since, dry, pid). Did you mean service?"
        in msg
    )
    assert "replicas: 'many' is not a whole number" in msg
    assert "service: unknown service 'api' (configured: backend, frontend)" in msg


def test_a_required_param_must_be_given() -> None:
    rb = _runbook(ip=Param(type="string", help="the client IP"))
    with pytest.raises(ParamError, match=r"ip is required \(the client IP\)"):
        bind(rb, {}, parse_config(""))
    with pytest.raises(ParamError, match="give params as key=value"):
        split_assignments(["backend"])


def test_cron_weekdays_are_crontabs_sunday_is_zero() -> None:
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    fire = next_fire("0 2 * * 0", "UTC", saturday)
    assert fire is not None
    assert fire.strftime("%A %H:%M") == "Sunday 02:00"
    friday = next_fire("0 17 * * 5", "UTC", saturday - timedelta(days=2))
    assert friday is not None
    assert friday.strftime("%A %H:%M") == "Friday 17:00"
    weekdays = next_fire("30 8 * * 1-5", "Europe/Berlin", saturday)
    assert weekdays is not None
    assert weekdays.strftime("%A %H:%M %Z") == "Monday 08:30 CET"


def test_latest_due_slot_within_the_grace_window() -> None:
    at = datetime(2026, 3, 2, 9, 4, tzinfo=UTC)
    assert latest_due("0 9 * * *", "UTC", at, timedelta(minutes=10)) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert latest_due("0 9 * * *", "UTC", at, timedelta(minutes=2)) is None
    # Missed slots coalesce into the newest one.
    assert latest_due("*/1 * * * *", "UTC", at, timedelta(minutes=10)) == at.replace(second=0)


def test_config_rejects_a_bad_schedule() -> None:
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"schedules\[0\]\.cron: cron '0 9 \* \*' needs five fields"):
        parse_config("schedules: [{name: x, cron: '0 9 * *', message: hi}]")
    with pytest.raises(ConfigError, match=r"schedules\[0\]\.timezone: unknown time zone 'Moon/Base'"):
        parse_config("schedules: [{name: x, cron: '0 9 * * *', timezone: Moon/Base, message: hi}]")
