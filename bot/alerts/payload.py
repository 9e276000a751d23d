"""The webhook payloads: Alertmanager's (version "4") and Grafana's contact point, as one `Batch`.

Every field is bounded (counts and sizes) so a hostile or broken sender cannot make the bot
store megabytes per alert; the whole body is already limited to 1 MiB by the endpoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_TEXT = 4096
FIRING, RESOLVED = "firing", "resolved"
# Alertmanager sends endsAt = "0001-01-01T00:00:00Z" for alerts still firing.
_ZERO_YEAR = 1


class PayloadError(ValueError):
    """The body is not a payload this endpoint takes; the message names the field."""


def _bounded(d: dict[str, Any], what: str) -> dict[str, str]:
    if len(d) > MAX_LABELS:
        raise ValueError(f"more than {MAX_LABELS} {what}")
    out = {}
    for k, v in d.items():
        key, value = str(k), "" if v is None else str(v)
        if len(key) > 200:
            raise ValueError(f"{what}: a name is longer than 200 characters")
        out[key] = value[:MAX_TEXT]
    return out


class _Lenient(BaseModel):
    # Senders add fields over time (Grafana adds many): unknown fields are ignored, not errors.
    model_config = ConfigDict(extra="ignore")


class AlertIn(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, Any] = Field(default_factory=dict)
    annotations: dict[str, Any] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - the sender's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = ""

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, Any]) -> dict[str, str]:
        return _bounded(v, "labels")

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, Any]) -> dict[str, str]:
        return _bounded(v, "annotations")

    @field_validator("generatorURL")
    @classmethod
    def _url(cls, v: str) -> str:
        return v[:2048]

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, v: str) -> str:
        if len(v) > 64:
            raise ValueError("longer than 64 characters")
        return v


class GroupIn(_Lenient):
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    groupLabels: dict[str, Any] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, Any] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, Any] = Field(default_factory=dict)  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    alerts: list[AlertIn] = Field(max_length=MAX_ALERTS)

    @field_validator("groupLabels", "commonLabels", "commonAnnotations")
    @classmethod
    def _maps(cls, v: dict[str, Any]) -> dict[str, str]:
        return _bounded(v, "labels")


class AlertmanagerIn(GroupIn):
    version: str = "4"
    groupKey: str = Field(min_length=1, max_length=8192)  # noqa: N815


class GrafanaIn(GroupIn):
    pass


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str


@dataclass(frozen=True)
class Batch:
    source: str
    group_key: str
    receiver: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    alerts: list[Alert]
    truncated: int = 0  # alerts the sender left out of this post (Alertmanager's max_alerts)

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(f"{self.source}\0{self.group_key}".encode()).hexdigest()


def utc(value: datetime) -> datetime:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # Whole microseconds, UTC: the same instant is the same key on SQLite and PostgreSQL.
    return value.astimezone(UTC)


def fingerprint_of(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint when a sender gives none: a hash of the sorted label set."""
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]


def _error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse(source: str, data: Any) -> Batch:
    """Validate a decoded JSON body as the given source's payload."""
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    model: type[GroupIn] = AlertmanagerIn if source == "alertmanager" else GrafanaIn
    if source == "alertmanager" and str(data.get("version", "4")) != "4":
        raise PayloadError(f"version {data.get('version')!r}: only Alertmanager's webhook version 4 is taken")
    try:
        group = model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(f"not an {source} webhook payload: {_error(exc)}") from None
    alerts = []
    for a in group.alerts:
        ends = utc(a.endsAt) if a.endsAt is not None and a.endsAt.year > _ZERO_YEAR else None
        alerts.append(
            Alert(
                fingerprint=a.fingerprint or fingerprint_of(a.labels),
                status=a.status,
                labels=a.labels,
                annotations=a.annotations,
                starts_at=utc(a.startsAt),
                ends_at=ends,
                generator_url=a.generatorURL,
            )
        )
    key = group.groupKey or json.dumps(sorted(group.groupLabels.items()))
    return Batch(
        source=source,
        group_key=key,
        receiver=group.receiver[:200],
        group_labels=group.groupLabels,
        common_labels=group.commonLabels,
        common_annotations=group.commonAnnotations,
        alerts=alerts,
        truncated=max(0, group.truncatedAlerts),
    )
