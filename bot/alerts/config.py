"""chatops.yaml's `alerts:` and `watches:` sections (added to `ChatopsConfig` in bot.config)."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from handlers.alerts.matchers import Matcher, MatcherError, parse_all
from handlers.params import Duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertmanagerConfig(_Model):
    url: str  # silences from Slack go to {url}/api/v2/silences

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http:// or https:// URL")
        return v.rstrip("/")


class RouteConfig(_Model):
    """First match wins; no match: the group is posted only."""

    matchers: list[str] = Field(default_factory=list)  # Alertmanager's syntax; none = every alert
    declare: str | None = None  # a severity: declare an incident (its channel is created)
    runbook: str | None = None  # a runbook name, may use {{ label }}
    auto_resolve: bool = False  # resolve the incident when every alert of the group resolved

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        try:
            parse_all(v)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("declare")
    @classmethod
    def _declare(cls, v: str | None) -> str | None:
        if v is None:
            return None
        sev = v.strip().upper()
        if not re.fullmatch(r"P[0-9]", sev):
            raise ValueError(f"declare: {v!r} is not a severity (P0..P9)")
        return sev

    def parsed(self) -> list[Matcher]:
        return parse_all(self.matchers)


class AlertsConfig(_Model):
    token: str = Field(min_length=16)  # the webhook's bearer token
    channel: str | None = None  # default: slack.ops_channel
    alertmanager: AlertmanagerConfig | None = None
    routes: list[RouteConfig] = Field(default_factory=list)
    # How long a replica's claim on a group's Slack work lasts before another replica takes it over
    # (longer than a Slack call with its retries: 10 s timeout, two retries).
    lease: Duration = timedelta(seconds=60)
    # How often each replica looks for groups whose Slack work is unfinished (a replica died).
    sweep_every: Duration = timedelta(seconds=10)


class WatchConfig(_Model):
    """The bot's own probe of a service: its health URLs, or a read-only handler."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    service: str
    every: Duration = timedelta(seconds=30)
    fail_after: int = Field(3, ge=1, le=100)
    recover_after: int = Field(2, ge=1, le=100)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    handler: str = "health.check"  # a read-only handler; `service` is passed to it
    params: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> WatchConfig:
        if self.every < timedelta(seconds=1):
            raise ValueError(f"watch {self.name}: every must be at least 1s")
        for key in self.labels:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", key):
                raise ValueError(f"watch {self.name}: {key!r} is not a label name")
        return self


def check_watches(watches: list[WatchConfig], services: set[str]) -> None:
    """Names unique, services configured (called by ChatopsConfig's validator)."""
    seen: set[str] = set()
    for w in watches:
        if w.name in seen:
            raise ValueError(f"watches: {w.name!r} is given twice")
        seen.add(w.name)
        if w.service not in services:
            known = ", ".join(sorted(services)) or "none configured"
            raise ValueError(f"watches.{w.name}.service: {w.service!r} is not configured (known: {known})")
