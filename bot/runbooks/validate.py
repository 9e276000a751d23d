"""Checks a runbook against itself and the handler registry, once its schema is valid.

Unknown handler, an argument the handler does not take, a missing required argument, a
value of the wrong type, an unknown template variable, a check on a step that does not
exist and a bad threshold each give a problem with the line to fix. Templated args are
validated with the param's default, or a stand-in of the param's type when it has none.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from bot.runbooks.model import ChecklistStep, HandlerStep, ManualStep, Runbook
from bot.runbooks.params import coerce, placeholders
from bot.runbooks.resolve import SERVICE_FILLS
from bot.runbooks.source import STEP_LISTS, KeyPath, Located, Problem, where
from bot.runbooks.template import TemplateError, fill_args, variables
from bot.runbooks.thresholds import parse_threshold
from handlers import TARGET_FIELD, HandlerSpec, Registry

# Error types that mean "this value has the wrong type" rather than "this value is not allowed":
# reported even for args whose value is only known at run time.
_TYPE_ERRORS = ("_parsing", "_type")
SERVICE_URL = "https://service.invalid/health"  # stands in for a service's health URLs


class _Collector:
    def __init__(self, doc: Located, file: str) -> None:
        self.doc = doc
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: KeyPath, message: str) -> None:
        at = where(self.doc, path)
        self.problems.append(Problem(self.file, self.doc.line(path), f"{at}: {message}" if at else message))


def _closest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _check_templates(out: _Collector, runbook: Runbook, path: KeyPath, value: Any) -> set[str]:
    try:
        names = variables(value)
    except TemplateError as exc:
        out.add(path, str(exc))
        return set()
    for name in sorted(names - set(runbook.params)):
        known = ", ".join(runbook.params) or "none declared"
        out.add(path, f"unknown template variable {name!r} (params: {known}){_closest(name, runbook.params)}")
    return names & set(runbook.params)


def _check_params(out: _Collector, runbook: Runbook) -> None:
    for name, p in runbook.params.items():
        if p.default is not None:
            try:
                coerce(name, p, p.default)
            except ValueError as exc:
                out.add(("params", name, "default"), str(exc))


def _run_time_only(out: _Collector, runbook: Runbook, path: KeyPath, args: Mapping[str, Any]) -> set[str]:
    """Check each arg's templates; the args whose value depends on a param without a default."""
    # Only their type can be checked: the value is known at run time.
    run_time_only: set[str] = set()
    for key, value in args.items():
        names = _check_templates(out, runbook, (*path, "args", key), value)
        if any(runbook.params[n].default is None for n in names):
            run_time_only.add(key)
    return run_time_only


def _drop_unknown(
    out: _Collector, path: KeyPath, spec: HandlerSpec, args: dict[str, Any], service_given: bool
) -> None:
    """Report and drop args the handler does not take (`service` is fine where it fills some)."""
    fields = spec.params.model_fields
    if service_given and "service" not in fields:
        if not any(dst in fields for dst in SERVICE_FILLS.values()):
            out.add(
                (*path, "args", "service"), f"{spec.name} takes no service (arguments: {', '.join(fields)})"
            )
        args.pop("service")
    for key in list(args):
        if key not in fields:
            out.add(
                (*path, "args", key),
                f"{spec.name} has no argument {key!r}{_closest(key, fields)} "
                f"(arguments: {', '.join(fields)})",
            )
            args.pop(key)


def _fill_service(spec: HandlerSpec, rendered: dict[str, Any]) -> set[str]:
    """As the service expansion would at run time: fill what a configured service gives.

    Returns the fields filled that way, which a missing-argument error must not name."""
    fields = spec.params.model_fields
    for dst in SERVICE_FILLS.values():
        if dst in fields and dst not in rendered:
            rendered[dst] = [SERVICE_URL] if dst == "urls" else "placeholder"
    return set(SERVICE_FILLS.values())


def _report_errors(
    out: _Collector,
    path: KeyPath,
    spec: HandlerSpec,
    exc: ValidationError,
    fillable: set[str],
    run_time_only: set[str],
) -> None:
    """The handler's own validation errors, each on the arg it names."""
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        kind = str(err["type"])
        if kind == "missing":
            if field in fillable:
                continue
            out.add((*path, "args"), f"{spec.name} needs argument {field!r} ({_help(spec, field)})")
        elif field in run_time_only and not kind.endswith(_TYPE_ERRORS):
            continue
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            if field:
                out.add((*path, "args", field), f"{field}: {msg}")
            else:
                out.add((*path, "args"), f"{spec.name}: {msg}")


def _check_args(
    out: _Collector,
    runbook: Runbook,
    path: KeyPath,
    step: HandlerStep,
    spec: HandlerSpec,
    stand_in: dict[str, Any],
) -> None:
    args = dict(step.args)
    run_time_only = _run_time_only(out, runbook, path, args)
    service_given = "service" in args
    _drop_unknown(out, path, spec, args, service_given)
    try:
        rendered = fill_args(args, stand_in)
    except TemplateError:
        return  # reported above
    # The target field is filled from the default target at run time.
    fillable = {TARGET_FIELD[spec.client]} if spec.client in TARGET_FIELD else set()
    if service_given:
        fillable |= _fill_service(spec, rendered)
    try:
        spec.params.model_validate(rendered)
    except ValidationError as exc:
        _report_errors(out, path, spec, exc, fillable, run_time_only)


def _help(spec: HandlerSpec, field: str) -> str:
    info = spec.params.model_fields.get(field)
    return (info.description if info and info.description else "see the handler's help") or ""


def _check_steps(out: _Collector, runbook: Runbook, registry: Registry | None) -> None:
    stand_in = placeholders(runbook)
    seen: dict[str, KeyPath] = {}
    for section in ("diagnostics", "resolution"):
        for i, step in enumerate(getattr(runbook, section)):
            path: KeyPath = (section, i)
            if step.id in seen:
                out.add(
                    (*path, "id"), f"step id {step.id!r} is used twice (also {where(out.doc, seen[step.id])})"
                )
            seen.setdefault(step.id, path)
            _check_templates(out, runbook, (*path, "title"), step.title)
            if isinstance(step, ManualStep):
                _check_templates(out, runbook, (*path, "text"), step.text)
                continue
            if isinstance(step, ChecklistStep):
                _check_templates(out, runbook, (*path, "items"), step.items)
                continue
            assert isinstance(step, HandlerStep)
            if registry is None:
                _check_templates(out, runbook, (*path, "args"), step.args)
                continue
            spec = registry.get(step.handler)
            if spec is None:
                names = [s.name for s in registry]
                out.add(
                    (*path, "handler"), f"unknown handler {step.handler!r}{_closest(step.handler, names)}"
                )
                continue
            _check_args(out, runbook, path, step, spec, stand_in)


def _check_checks(out: _Collector, runbook: Runbook) -> None:
    diag = {s.id: s for s in runbook.diagnostics}
    stand_in = placeholders(runbook)
    for i, rule in enumerate(runbook.checks):
        path: KeyPath = ("checks", i)
        step = diag.get(rule.step)
        if step is None:
            hint = " (it is a resolution step)" if any(s.id == rule.step for s in runbook.resolution) else ""
            out.add(
                (*path, "step"),
                f"unknown step {rule.step!r}{hint}{_closest(rule.step, diag)} "
                f"(diagnostics: {', '.join(diag) or 'none'})",
            )
        elif not isinstance(step, HandlerStep):
            out.add(
                (*path, "step"), f"step {rule.step!r} is a {step.kind} step: checks judge handler results"
            )
        for key in ("warn", "crit"):
            raw = getattr(rule, key)
            if raw is None:
                continue
            names = _check_templates(out, runbook, (*path, key), raw)
            not_int = sorted(n for n in names if runbook.params[n].type != "int")
            for name in not_int:
                out.add((*path, key), f"threshold template {name!r} must be an int param")
            if names and not not_int:
                try:
                    parse_threshold(str(fill_args(raw, stand_in)))
                except ValueError as exc:
                    out.add((*path, key), str(exc))


def _check_schedule(out: _Collector, runbook: Runbook) -> None:
    if runbook.schedule is None:
        return
    for key, value in runbook.schedule.params.items():
        path: KeyPath = ("schedule", "params", key)
        param = runbook.params.get(key)
        if param is None:
            out.add(path, f"unknown param {key!r}{_closest(key, runbook.params)}")
            continue
        try:
            coerce(key, param, value)
        except ValueError as exc:
            out.add(path, f"{key}: {exc}")
    missing = [n for n, p in runbook.params.items() if p.required and n not in runbook.schedule.params]
    if missing:
        out.add(("schedule",), f"a scheduled run needs a value for {', '.join(missing)} (schedule.params)")


def check(runbook: Runbook, doc: Located, file: str, registry: Registry | None) -> list[Problem]:
    out = _Collector(doc, file)
    _check_params(out, runbook)
    _check_steps(out, runbook, registry)
    _check_checks(out, runbook)
    _check_schedule(out, runbook)
    return out.problems


def check_raw(doc: Located, file: str, registry: Registry | None) -> list[Problem]:
    """What can be checked on a file whose schema failed: each step's handler and its argument
    names, read from the raw YAML data."""
    out = _Collector(doc, file)
    if registry is None or not isinstance(doc.data, Mapping):
        return out.problems
    names = [s.name for s in registry]
    for section in STEP_LISTS:
        steps = doc.data.get(section)
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            handler = step.get("handler") if isinstance(step, Mapping) else None
            if not isinstance(handler, str):
                continue
            spec = registry.get(handler)
            if spec is None:
                out.add((section, i, "handler"), f"unknown handler {handler!r}{_closest(handler, names)}")
                continue
            args = step.get("args")
            fields = spec.params.model_fields
            for key in args if isinstance(args, Mapping) else ():
                if key != "service" and key not in fields:
                    out.add(
                        (section, i, "args", key),
                        f"{spec.name} has no argument {key!r}{_closest(str(key), fields)} "
                        f"(arguments: {', '.join(fields)})",
                    )
    return out.problems
