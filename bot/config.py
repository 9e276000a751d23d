"""Settings from the environment, and the validated model of chatops.yaml.

`load_config(path)` expands `${VAR}` from the environment and validates the file; every
problem is reported as a `ConfigError` that names the file and the key.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import yaml_safe
from bot.alerts.config import AlertsConfig, WatchConfig, check_watches
from bot.oncall.config import OncallConfig, PagingConfig, check_rotation_refs
from bot.prometheus import PrometheusConfig, check_metrics
from handlers.params import Duration


class ConfigError(Exception):
    """chatops.yaml (or the environment) is wrong; the message names the key and the file."""


class Settings(BaseSettings):
    """Process settings read from the environment (names as in DESIGN.md)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: str = Field("", alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str = Field("", alias="SLACK_SIGNING_SECRET")
    slack_app_token: str = Field("", alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    config_path: Path = Field(Path("chatops.yaml"), alias="CHATOPS_CONFIG")
    database_url: str = Field("sqlite:///chatops.db", alias="DATABASE_URL")
    # The console's identity: a Slack user id, so access rules apply as they do in Slack.
    console_user: str = Field("", alias="CHATOPS_USER")
    # Where outcomes wait when the state store is down (bot/store/spool.py); default: next to
    # the SQLite file, or in the temp directory for PostgreSQL.
    audit_spool: str = Field("", alias="CHATOPS_AUDIT_SPOOL")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        # WebClient joins base_url and the method name: a base with a path needs its slash.
        return v if v.endswith("/") else v + "/"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlackConfig(_Model):
    incidents_channel: str = "incidents"
    ops_channel: str = "ops"
    # Renamed slash commands: {k8s: /kube}. Keys are the built-in command names.
    commands: dict[str, str] = Field(default_factory=dict)

    @field_validator("commands")
    @classmethod
    def _slashes(cls, v: dict[str, str]) -> dict[str, str]:
        for key, name in v.items():
            if not re.fullmatch(r"/[a-z0-9_-]{1,31}", name):
                raise ValueError(f"commands.{key}: {name!r} is not a slash command (/name)")
        return v


class ClusterConfig(_Model):
    context: str | None = None  # kubeconfig context; None = the current one, or in-cluster
    kubeconfig: str | None = None
    default: bool = False


class DatabaseConfig(_Model):
    dsn: str
    statement_timeout: Duration = timedelta(seconds=5)
    pool_size: int = Field(4, ge=1, le=50)
    default: bool = False


class RedisConfig(_Model):
    url: str
    default: bool = False


class ServiceConfig(_Model):
    cluster: str | None = None
    namespace: str | None = None
    deployment: str | None = None
    health: list[str] = Field(default_factory=list)
    database: str | None = None
    redis: str | None = None
    contacts: list[str] = Field(default_factory=list)  # contact group names or Slack ids
    runbooks: list[str] = Field(default_factory=list)
    # Named PromQL (`error_rate`, `latency_p95`); see bot.prometheus.
    metrics: dict[str, str] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: dict[str, str]) -> dict[str, str]:
        return check_metrics(v)


class IncidentsConfig(_Model):
    channel_name: str = "incident-{date}-{severity}-{slug}"
    update_every: Duration = timedelta(minutes=30)
    # Bookmark link for a service's runbook named in services.X.runbooks (a runbook that is
    # already a URL is bookmarked as is): "https://git.example.com/ops/runbooks/{name}.yaml".
    runbook_url: str | None = None

    @field_validator("channel_name")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        known = {"date", "severity", "slug", "id", "service"}
        unknown = sorted(set(re.findall(r"{([^{}]*)}", v)) - known)
        if unknown:
            raise ValueError(
                f"channel_name: unknown placeholder {{{unknown[0]}}} (known: {{date}}, {{severity}}, "
                "{slug}, {id}, {service})"
            )
        return v


class EscalationStep(_Model):
    after: Duration
    notify: str  # a contacts key, a Slack user/group id, or rotation:NAME (whoever is on call)
    page: bool = False  # also page through PagerDuty (bot.oncall.paging)


class SeverityConfig(_Model):
    label: str
    update_every: Duration | None = None
    escalate: list[EscalationStep] = Field(default_factory=list)
    page: bool = False  # declaring an incident of this severity pages through PagerDuty


def _ladder(*steps: tuple[int, str]) -> list[EscalationStep]:
    return [EscalationStep(after=timedelta(minutes=m), notify=who) for m, who in steps]


def default_severities() -> dict[str, SeverityConfig]:
    """The seeds' escalation matrix (seed 002, "Escalation Matrix")."""
    return {
        "P0": SeverityConfig(
            label="Critical", escalate=_ladder((0, "oncall"), (5, "senior"), (15, "manager"), (30, "cto"))
        ),
        "P1": SeverityConfig(label="High", escalate=_ladder((15, "oncall"), (30, "senior"), (60, "manager"))),
        "P2": SeverityConfig(
            label="Medium", escalate=_ladder((60, "oncall"), (120, "senior"), (240, "manager"))
        ),
        "P3": SeverityConfig(label="Low", escalate=_ladder((1440, "oncall"), (2880, "senior"))),
    }


class AccessRule(_Model):
    handlers: list[str] = Field(default_factory=lambda: ["*"])
    clusters: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    databases: list[str] = Field(default_factory=list)
    instances: list[str] = Field(default_factory=list)  # redis instances
    # For commands that take a severity (incident.declare, incident.severity): P0, P1…
    severities: list[str] = Field(default_factory=list)
    # approval: a second person (an approver) must approve; operators: only operators may
    # run it, even when read-only; approvers: only approvers may run it.
    need: Literal["approval", "operators", "approvers"]


class AccessConfig(_Model):
    operators: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    rules: list[AccessRule] = Field(default_factory=list)
    confirm_expiry: Duration = timedelta(minutes=10)
    destructive_per_minute: int = Field(5, ge=1)
    group_cache: Duration = timedelta(minutes=5)


class ScaleBounds(_Model):
    min: int = Field(0, ge=0)
    max: int = Field(50, ge=0)


class LimitsConfig(_Model):
    scale: ScaleBounds = ScaleBounds()
    handler_timeout: Duration = timedelta(seconds=10)
    workers: int = Field(16, ge=1, le=256)
    # Confirmed destructive actions run on workers of their own, which read-only traffic
    # cannot fill; one person's read-only work in flight is capped (bot/executor.py).
    action_workers: int = Field(4, ge=1, le=64)
    user_inflight: int = Field(4, ge=1, le=256)
    fan_out: int = Field(20, ge=1, le=1000)  # items one list argument may carry (`--url` ×N)


class ScheduleConfig(_Model):
    name: str
    cron: str  # five fields: minute hour day month weekday
    timezone: str = "UTC"
    runbook: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    message: str | None = None
    channel: str | None = None  # default: slack.ops_channel

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        # crontab's weekdays (0 or 7 = Sunday), computed by APScheduler: see bot.cron.
        from bot.cron import check_cron

        return check_cron(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from bot.cron import check_timezone

        return check_timezone(v)

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleConfig:
        if (self.runbook is None) == (self.message is None):
            raise ValueError(f"schedule {self.name!r}: give exactly one of runbook or message")
        return self


class HealthConfig(_Model):
    """What /health (and runbook steps that fetch a URL) may reach besides the services' URLs."""

    # URL patterns: `https://*.example.com/*` (scheme, host glob, optional port or *, path glob).
    allow: list[str] = Field(default_factory=list)
    # Loopback, private and link-local addresses (in-cluster services) are refused unless true.
    allow_private: bool = False

    @field_validator("allow")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        from handlers.health.egress import check_patterns

        check_patterns(v)
        return v


class ConsoleUser(_Model):
    """An OS account's console identity: its Slack user id, and the ids it may pick with --user."""

    id: str
    act_as: list[str] = Field(default_factory=list)


class ConsoleConfig(_Model):
    # OS account -> Slack user id (`alice: U0ALICE`) or {id: U0ALICE, act_as: [U0BOT]}.
    users: dict[str, str | ConsoleUser] = Field(default_factory=dict)


class ChatopsConfig(_Model):
    slack: SlackConfig = SlackConfig()
    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    databases: dict[str, DatabaseConfig] = Field(default_factory=dict)
    redis: dict[str, RedisConfig] = Field(default_factory=dict)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    incidents: IncidentsConfig = IncidentsConfig()
    severities: dict[str, SeverityConfig] = Field(default_factory=default_severities)
    contacts: dict[str, list[str]] = Field(default_factory=dict)
    access: AccessConfig = AccessConfig()
    limits: LimitsConfig = LimitsConfig()
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    health: HealthConfig = HealthConfig()
    console: ConsoleConfig = ConsoleConfig()
    runbooks_dir: str = "runbooks"
    oncall: OncallConfig = OncallConfig()
    paging: PagingConfig = PagingConfig()
    prometheus: dict[str, PrometheusConfig] = Field(default_factory=dict)
    alerts: AlertsConfig | None = None
    watches: list[WatchConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> ChatopsConfig:
        for name, svc in self.services.items():
            for key, table in (
                ("cluster", self.clusters),
                ("database", self.databases),
                ("redis", self.redis),
            ):
                ref = getattr(svc, key)
                if ref is not None and ref not in table:
                    known = ", ".join(sorted(table)) or "none configured"
                    raise ValueError(f"services.{name}.{key}: {ref!r} is not configured (known: {known})")
        for sev, cfg in self.severities.items():
            if not re.fullmatch(r"P[0-9]", sev):
                raise ValueError(f"severities.{sev}: severity names are P0..P9")
            del cfg
        check_rotation_refs(self)  # rotation:NAME contacts name a rotation (bot.oncall.config)
        check_watches(self.watches, set(self.services))
        return self

    def update_every(self, severity: str) -> timedelta:
        sev = self.severities.get(severity)
        return sev.update_every if sev and sev.update_every else self.incidents.update_every

    def default_target(self, kind: Literal["clusters", "databases", "redis", "prometheus"]) -> str | None:
        """The only configured target of a kind, else the one marked default or named 'default'."""
        table: dict[str, Any] = getattr(self, kind)
        if len(table) == 1:
            return next(iter(table))
        marked = [n for n, c in table.items() if c.default]
        if marked:
            return marked[0]
        return "default" if "default" in table else None

    def command_name(self, command: str) -> str:
        """The slash command a built-in command is registered under (`k8s` -> `/k8s`)."""
        return self.slack.commands.get(command, "/" + command)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(node: Any, path: str, env: dict[str, str], file: str) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), env, file) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", env, file) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise ConfigError(f"{file}: {path}: environment variable {m.group(1)} is not set")
            return env[m.group(1)]

        return _VAR.sub(sub, node)
    return node


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_config(
    text: str, *, file: str = "chatops.yaml", env: dict[str, str] | None = None
) -> ChatopsConfig:
    try:
        raw = yaml_safe.safe_load(text)  # no aliases: a 500-byte alias bomb is gigabytes
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys (slack, clusters, ...)")
    expanded = _expand(raw, "", dict(os.environ) if env is None else env, file)
    try:
        return ChatopsConfig.model_validate(expanded)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _loc(err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown key")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(f"{file}: " + "; ".join(problems)) from None


def load_config(path: Path | str, *, env: dict[str, str] | None = None) -> ChatopsConfig:
    """Read chatops.yaml; a missing file means no targets configured (the bot still runs)."""
    p = Path(path)
    if not p.exists():
        return ChatopsConfig()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read: {exc}") from None
    return parse_config(text, file=str(p), env=env)
