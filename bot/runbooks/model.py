"""The runbook file schema: one YAML file per runbook in `runbooks/`.

    name: high-db-cpu                 # kebab-case, the file's name without .yaml
    title: High database CPU
    description: ...
    source: [{file: 001_….txt, section: "Runbook: High Database CPU"}]
    symptoms: ["Database CPU > 80%"]
    tags: [database, postgres]
    params:                           # typed; `/runbook run high-db-cpu service=backend min=10m`
      service: {type: service, default: backend}
      min: {type: duration, default: 5m}
    diagnostics:                      # run concurrently; each step's output goes in the thread
      - {id: long, title: Long-running queries, handler: db.long_running,
         args: {service: "{{service}}", min: "{{min}}"}, timeout: 10s}
      - {id: history, kind: manual, title: Recent changes, text: "...", command: "git log ..."}
    checks:                           # thresholds over a step's result `values`
      - {step: long, value: count, warn: "> 0", crit: "> 5"}
    resolution:                       # handler steps become buttons (destructive ones confirm)
      - {id: restart, title: Restart, handler: k8s.rollout_restart, args: {service: "{{service}}"}}
      - {id: fix, kind: checklist, title: Before you restart, items: [...]}
    links: [{title: Dashboard, url: "https://…"}]
    schedule: {cron: "0 9 * * *", timezone: UTC}

Steps are `handler` (the default kind), `manual` (seed text for what no handler does:
git, Terraform, ArgoCD, a cloud CLI) or `checklist` (items to tick). Templates are
`{{ param }}` only; see `bot.runbooks.template`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from bot.cron import check_cron, check_timezone
from bot.runbooks.thresholds import check_threshold
from handlers.params import Duration

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
STEP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
PARAM_RE = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

MAX_TIMEOUT = timedelta(minutes=5)


def _name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a runbook name (lowercase letters, digits and '-', like high-db-cpu)"
        )
    return value


def _step_id(value: str) -> str:
    if not STEP_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a step id (lowercase letters, digits, '-' and '_')")
    return value


def _tag(value: str) -> str:
    if not TAG_RE.match(value):
        raise ValueError(f"{value!r} is not a tag (lowercase letters, digits and '-')")
    return value


RunbookName = Annotated[str, AfterValidator(_name)]
StepId = Annotated[str, AfterValidator(_step_id)]
TagName = Annotated[str, AfterValidator(_tag)]
Threshold = Annotated[str, AfterValidator(check_threshold)]
Text = Annotated[str, Field(min_length=1)]

# A step argument as written in YAML; strings may hold `{{ param }}` templates.
Scalar = str | int | float | bool
ArgValue = Scalar | list[Scalar]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    """Where a procedure comes from: the seed file and its section heading."""

    file: Text
    section: Text


class Link(_Model):
    title: Text
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]


ParamType = Literal["string", "int", "duration", "bool", "service"]


class Param(_Model):
    """A runbook parameter. Without a `default` key it is required; `default: null` = optional."""

    type: ParamType = "string"
    default: str | int | bool | None = None
    help: str = ""
    choices: list[str] | None = None

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class HandlerStep(_Model):
    """Runs a registry handler (`k8s.pods`, `db.connections`…) with templated args."""

    kind: Literal["handler"] = "handler"
    id: StepId
    title: Text
    handler: Text
    args: dict[str, ArgValue] = Field(default_factory=dict)
    timeout: Duration | None = None
    # The seed's original command, kept so a reader can see what this step replaces.
    command: str | None = None
    note: str = ""

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and not timedelta(0) < v <= MAX_TIMEOUT:
            raise ValueError("timeout must be more than 0 and at most 5m")
        return v


class ManualStep(_Model):
    """A step no handler performs (git, Terraform, ArgoCD, a cloud CLI): shown with its text."""

    kind: Literal["manual"]
    id: StepId
    title: Text
    text: Text
    command: str | None = None


class ChecklistStep(_Model):
    """Items an engineer ticks by hand (a seed's `- [ ] …` list)."""

    kind: Literal["checklist"]
    id: StepId
    title: Text
    items: Annotated[list[Text], Field(min_length=1)]


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "handler"))
    return str(getattr(value, "kind", "handler"))


Step = Annotated[
    Annotated[HandlerStep, Tag("handler")]
    | Annotated[ManualStep, Tag("manual")]
    | Annotated[ChecklistStep, Tag("checklist")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="kind must be handler (the default), manual or checklist",
    ),
]
STEP_KINDS = ("handler", "manual", "checklist")


class CheckRule(_Model):
    """Judge a diagnostic step by one of its result's `values`: `warn: "> 80"`, `crit: "> 95"`."""

    step: StepId
    value: Text
    warn: Threshold | None = None
    crit: Threshold | None = None
    label: str = ""

    @model_validator(mode="after")
    def _one(self) -> CheckRule:
        if self.warn is None and self.crit is None:
            raise ValueError("a check needs warn, crit or both")
        return self


class RunbookSchedule(_Model):
    """Run this runbook on a cron schedule (five fields; weekday 0 or 7 = Sunday)."""

    cron: Annotated[str, AfterValidator(check_cron)]
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    channel: str | None = None  # default: slack.ops_channel
    params: dict[str, str] = Field(default_factory=dict)


class Runbook(_Model):
    name: RunbookName
    title: Text
    description: str = ""
    source: list[Source] = Field(default_factory=list)
    symptoms: list[Text] = Field(default_factory=list)
    tags: list[TagName] = Field(default_factory=list)
    params: dict[str, Param] = Field(default_factory=dict)
    diagnostics: list[Step] = Field(default_factory=list)
    checks: list[CheckRule] = Field(default_factory=list)
    resolution: list[Step] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    schedule: RunbookSchedule | None = None

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, Param]) -> dict[str, Param]:
        for name in v:
            if not PARAM_RE.match(name):
                raise ValueError(f"{name!r} is not a parameter name (lowercase letters, digits and '_')")
        return v

    @model_validator(mode="after")
    def _has_steps(self) -> Runbook:
        if not self.diagnostics and not self.resolution:
            raise ValueError("a runbook needs at least one step in diagnostics or resolution")
        return self

    def handler_steps(self) -> list[HandlerStep]:
        return [s for s in self.diagnostics if isinstance(s, HandlerStep)]

    def resolution_step(self, step_id: str) -> HandlerStep | None:
        return next((s for s in self.resolution if isinstance(s, HandlerStep) and s.id == step_id), None)

    def matches(self, words: str) -> bool:
        """Whether a search word appears in the name, title, tags or symptoms (for `list`)."""
        hay = " ".join([self.name, self.title, *self.tags, *self.symptoms]).lower()
        return all(w in hay for w in words.lower().split())
