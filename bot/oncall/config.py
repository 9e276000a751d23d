"""The `oncall:` and `paging:` sections of chatops.yaml, and the `rotation:NAME` contact checks.

Imported by `bot.config` (which adds the two fields to `ChatopsConfig`), so nothing here
imports `bot.config`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ROTATION_PREFIX = "rotation:"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVERY = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_HANDOFF = re.compile(r"^\s*(?:([A-Za-z]{3})[a-z]*\s+)?(\d{1,2}):(\d{2})\s*$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_MEMBERS = 100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_every(value: object) -> timedelta:
    """`1w`, `2w`, `7d`, `1d`: a rotation's shift length, in whole days."""
    if isinstance(value, timedelta):
        return value
    m = _EVERY.match(str(value))
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{value!r} is not a shift length (use whole days or weeks: 1d, 7d, 1w, 2w)")
    days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
    if days > 366:
        raise ValueError(f"{value!r}: a shift can last at most 366 days")
    return timedelta(days=days)


class Handoff(_Model):
    """`Fri 17:00` (weekly rotations) or `09:00` (daily ones): the local hand-off time."""

    weekday: int | None  # 0 = Monday, None = any day
    at: time

    @classmethod
    def parse(cls, text: str) -> Handoff:
        m = _HANDOFF.match(text)
        if not m:
            raise ValueError(
                f"handoff {text!r}: write a time, optionally after a weekday (`Fri 17:00`, `09:00`)"
            )
        day = m.group(1)
        weekday = None
        if day is not None:
            if day.lower() not in WEEKDAYS:
                raise ValueError(f"handoff {text!r}: {day!r} is not a weekday (Mon … Sun)")
            weekday = WEEKDAYS.index(day.lower())
        hour, minute = int(m.group(2)), int(m.group(3))
        if hour > 23 or minute > 59:
            raise ValueError(f"handoff {text!r}: {hour:02d}:{minute:02d} is not a time of day")
        return cls(weekday=weekday, at=time(hour, minute))


class RotationConfig(_Model):
    members: list[str] = Field(min_length=1, max_length=MAX_MEMBERS)  # Slack user ids, in order
    every: timedelta = timedelta(weeks=1)
    handoff: str = "Mon 09:00"
    timezone: str = "UTC"
    start: date  # the first shift starts on this day at the hand-off time

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, v: object) -> timedelta:
        return parse_every(v)

    @field_validator("members")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        for m in v:
            if not _USER.match(m):
                raise ValueError(f"{m!r} is not a Slack user id (U…): a rotation lists people, not groups")
        if len(set(v)) != len(v):
            dup = next(m for m in v if v.count(m) > 1)
            raise ValueError(f"{dup} is listed twice")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
        return v

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        Handoff.parse(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RotationConfig:
        hand = Handoff.parse(self.handoff)
        if hand.weekday is not None:
            if self.every.days % 7:
                raise ValueError(
                    f"handoff {self.handoff!r} names a weekday, so every must be whole weeks "
                    f"(not {self.every.days}d)"
                )
            if self.start.weekday() != hand.weekday:
                raise ValueError(
                    f"start {self.start.isoformat()} is a {self.start.strftime('%A')}, "
                    f"but the hand-off is on {WEEKDAYS[hand.weekday].capitalize()}: start on a hand-off day"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hand(self) -> Handoff:
        return Handoff.parse(self.handoff)


class OncallConfig(_Model):
    rotations: dict[str, RotationConfig] = Field(default_factory=dict)
    handoff_channel: str | None = None  # default: slack.ops_channel
    max_override_days: int = Field(31, ge=1, le=366)

    @field_validator("rotations")
    @classmethod
    def _names(cls, v: dict[str, RotationConfig]) -> dict[str, RotationConfig]:
        for name in v:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
                raise ValueError(f"rotation name {name!r}: lowercase letters, digits, '-' and '_'")
        return v


class PagerDutyConfig(_Model):
    routing_key: str = Field(min_length=1)  # an Events API v2 integration key
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    webhook_secret: str | None = None  # verifies inbound v3 webhooks; without it /paging/pagerduty is 404
    # A CA bundle for the events URL's certificate (a corporate proxy, a test server).
    ca_file: str | None = None
    source: str = "chatops"  # payload.source
    timeout: timedelta = timedelta(seconds=10)
    retries: int = Field(4, ge=0, le=10)  # 429 and 5xx, each waiting twice as long
    backoff: float = Field(1.0, gt=0, le=60)  # seconds before the first retry

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: object) -> object:
        from handlers.params import parse_duration

        return parse_duration(v)

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"{v!r} is not a readable file (a PEM bundle of CA certificates)")
        return v

    @field_validator("events_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith("https://") or not v.rstrip("/").endswith("/v2/enqueue"):
            raise ValueError(
                f"{v!r}: the Events API v2 URL is https://…/v2/enqueue (PagerDuty's client speaks only HTTPS)"
            )
        return v.rstrip("/")

    @property
    def base_url(self) -> str:
        return self.events_url[: -len("/v2/enqueue")]


class PagingConfig(_Model):
    pagerduty: PagerDutyConfig | None = None


# -- rotation:NAME references -------------------------------------------------------------------


def rotation_name(entry: str) -> str | None:
    """`rotation:primary` → `primary`; anything else → None."""
    return entry[len(ROTATION_PREFIX) :].strip() if entry.startswith(ROTATION_PREFIX) else None


def _contact_refs(config: Any) -> Iterator[tuple[str, str]]:
    """(key, entry) for every place a contact is accepted in the config."""
    for name, entries in config.contacts.items():
        for i, entry in enumerate(entries):
            yield f"contacts.{name}[{i}]", entry
    for name, svc in config.services.items():
        for i, entry in enumerate(svc.contacts):
            yield f"services.{name}.contacts[{i}]", entry
    for sev, cfg in config.severities.items():
        for i, step in enumerate(cfg.escalate):
            yield f"severities.{sev}.escalate[{i}].notify", step.notify


def check_rotation_refs(config: Any) -> None:
    """Every `rotation:NAME` contact names a configured rotation; raise naming the key otherwise."""
    rotations = config.oncall.rotations
    for key, entry in _contact_refs(config):
        name = rotation_name(entry)
        if name is None:
            continue
        if name not in rotations:
            known = ", ".join(sorted(rotations)) or "none configured under oncall.rotations"
            raise ValueError(f"{key}: {entry!r} names no rotation (rotations: {known})")
    if not config.paging.pagerduty:
        paged = [
            f"severities.{sev}" + (".page" if cfg.page else ".escalate[].page")
            for sev, cfg in config.severities.items()
            if cfg.page or any(s.page for s in cfg.escalate)
        ]
        if paged:
            raise ValueError(f"{paged[0]}: pages, but paging.pagerduty is not configured")
