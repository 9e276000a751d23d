"""Alertmanager (version 4) and Grafana webhook payloads, as the real senders build them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx

TOKEN = "alerts-token-0123456789abcdef"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert(
    name: str = "HighErrorRate",
    *,
    status: str = "firing",
    starts: datetime = T0,
    ends: datetime | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    generator: str = "http://prometheus:9090/graph?g0.expr=up",
) -> dict[str, Any]:
    lbls = {"alertname": name, "severity": "critical", "service": "backend", **(labels or {})}
    fp = hashlib.sha256(json.dumps(sorted(lbls.items())).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": lbls,
        "annotations": {"summary": f"{name} on backend", **(annotations or {})},
        "startsAt": iso(starts),
        "endsAt": iso(ends) if ends else "0001-01-01T00:00:00Z",
        "generatorURL": generator,
        "fingerprint": fp,
    }


def group(
    alerts: list[dict[str, Any]], *, key: str | None = None, group_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    first = alerts[0]["labels"]
    glabels = (
        group_labels
        if group_labels is not None
        else {"alertname": first["alertname"], "service": first.get("service", "")}
    )
    common = {k: v for k, v in first.items() if all(a["labels"].get(k) == v for a in alerts)}
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": key or "{}:" + json.dumps(sorted(glabels.items())),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "chatops",
        "groupLabels": glabels,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def grafana(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    body = group(alerts)
    body.pop("version")
    body.update({"orgId": 1, "title": "[FIRING:1] grafana", "state": "alerting", "message": "x"})
    for a in body["alerts"]:
        a.update({"values": {"A": 1}, "silenceURL": "http://grafana/silence", "dashboardURL": ""})
    return body


def post(
    base_url: str, body: Any, *, token: str = TOKEN, path: str = "/alerts/alertmanager"
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        base_url + path,
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )


def config(
    *,
    routes: str = "",
    extra: str = "",
    alertmanager: str = "",
    runbooks_dir: str = "",
    health: str = "http://127.0.0.1:9/health",
) -> str:
    am = f"\n  alertmanager: {{url: {alertmanager}}}" if alertmanager else ""
    rb = f"runbooks_dir: {runbooks_dir}\n" if runbooks_dir else ""
    return f"""
{rb}slack: {{incidents_channel: incidents, ops_channel: ops}}
services:
  backend: {{health: ["{health}"]}}
health: {{allow_private: true}}  # the test services are on loopback
access:
  operators: [U0OPS]
alerts:
  token: {TOKEN}
  channel: ops
  lease: 2s{am}
  routes:
{routes or '    - {matchers: [severity="warning"]}'}
{extra}"""


RUNBOOK = """
name: svc-check
title: Service check
description: Checks the service's health endpoints.
params:
  service: {type: service, default: backend}
diagnostics:
  - id: health
    title: Health endpoints
    handler: health.check
    args: {service: "{{service}}"}
"""
