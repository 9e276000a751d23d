"""`/health [service|all|URL]`: GET health URLs and judge them by the seeds' thresholds.

Warning over 2 s, critical over 5 s or on any 5xx or when no response came; a 4xx is a
warning (the URL is probably wrong). A JSON body is summarised (`status=ok database.connections=12`)
and its top-level `status` judged too. `all` checks every configured service concurrently.

How the target is given (the bot's service expansion fills `urls` from a service's `health`
list when `service` names a configured service):
  /health backend           -> service="backend", urls=[...its health URLs]
  /health all  or  /health  -> every service in ctx.options["services"]
  /health https://x/health  -> service is a URL: that URL alone
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import model_validator

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest, NotFound
from handlers.health.common import FetchError, HttpUrl, check_allowed, fetch, is_url, shown
from handlers.health.egress import EgressRefused
from handlers.humanize import cut, millis
from handlers.params import Duration, Params, arg
from handlers.redact import redact
from handlers.results import Check, Group, Status, Table, Value

# The seeds' thresholds: response time over 2 s is a warning, over 5 s critical.
WARN_AFTER = timedelta(seconds=2)
CRIT_AFTER = timedelta(seconds=5)
MAX_WORKERS = 16
_BAD = {"down", "fail", "failed", "failing", "unhealthy", "error", "critical", "ko", "unavailable", "red"}
_DEGRADED = {"degraded", "warn", "warning", "yellow", "partial"}
_STATUS_KEYS = ("status", "state", "health", "healthy")
_BODY_VALUES = 30  # body.<path> entries put in `values` for a single URL


class HealthCheck(Params):
    service: str | None = arg(
        None,
        positional=True,
        help="a configured service, `all` (the default), or a URL",
    )
    urls: list[HttpUrl] = arg(
        [], flags=("--url",), help="health URLs (filled from the service's health list)"
    )
    warn: Duration = arg(WARN_AFTER, flags=("--warn",), help="warn when slower than this (2s)")
    crit: Duration = arg(CRIT_AFTER, flags=("--crit",), help="critical when slower than this (5s)")

    @model_validator(mode="after")
    def _service_or_url(self) -> HealthCheck:
        if self.service is not None and is_url(self.service):
            HttpUrlCheck.model_validate({"url": self.service})
        return self


class HttpUrlCheck(Params):
    url: HttpUrl


@dataclass
class Probe:
    service: str
    url: str
    status: Status = Status.OK
    code: int | None = None
    latency_s: float | None = None
    detail: str = ""
    summary: str = ""
    body_values: dict[str, Value] = field(default_factory=dict)
    refused: bool = False


def _flatten(obj: Any, prefix: str, out: dict[str, Any], depth: int = 0) -> None:
    if isinstance(obj, dict) and depth < 5:
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, list):
        out[prefix or "items"] = f"[{len(obj)} items]"
    else:
        out[prefix or "value"] = obj


def _is_status_key(path: str) -> bool:
    return path.rsplit(".", 1)[-1].lower() in _STATUS_KEYS


def _judge_body(flat: dict[str, Any]) -> tuple[Status, str]:
    """The body's own verdict: top-level status/healthy, then components reporting down."""
    for key in _STATUS_KEYS:
        value = next((v for k, v in flat.items() if k.lower() == key), None)
        if value is False or (isinstance(value, str) and value.lower() in _BAD):
            return Status.CRIT, f"the body says {key}={value}"
        if isinstance(value, str) and value.lower() in _DEGRADED:
            return Status.WARN, f"the body says {key}={value}"
    down = [
        f"{k}={v}"
        for k, v in flat.items()
        if "." in k and _is_status_key(k) and str(v).lower() in _BAD | {"false"}
    ]
    if down:
        return Status.WARN, "a component reports " + ", ".join(down[:3])
    return Status.OK, ""


def _summarise(flat: dict[str, Any]) -> str:
    ordered = sorted(flat.items(), key=lambda kv: (0 if _is_status_key(kv[0]) else 1, kv[0].count(".")))
    parts: list[str] = []
    for k, v in ordered:
        parts.append(f"{k}={json.dumps(v) if not isinstance(v, str) else v}")
        if sum(len(p) + 1 for p in parts) > 160:
            break
    return redact(cut(" ".join(parts), 180))


def _body(probe: Probe, content_type: str, body: bytes) -> tuple[Status, str]:
    text = body.decode("utf-8", "replace").strip()
    looks_json = "json" in content_type.lower() or text[:1] in ("{", "[")
    if not looks_json:
        probe.summary = redact(cut(text, 80))
        return Status.OK, ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        probe.summary = redact(cut(text, 60))
        return Status.WARN, f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except ValueError as exc:  # e.g. a number too large to convert
        probe.summary = redact(cut(text, 60))
        return Status.WARN, f"the body is not valid JSON ({exc})"
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    probe.summary = _summarise(flat)
    for k, v in list(flat.items())[:_BODY_VALUES]:
        if isinstance(v, bool | int | float) or v is None:
            probe.body_values[f"body.{k}"] = v
        else:
            probe.body_values[f"body.{k}"] = redact(cut(str(v), 100))
    return _judge_body(flat)


def probe(ctx: Context[Any], service: str, url: str, warn: float, crit: float) -> Probe:
    """GET one health URL and judge it; never raises for a failed request."""
    result = Probe(service=service, url=shown(url))
    try:
        got = fetch(ctx, "GET", url)
    except FetchError as exc:
        result.status, result.detail = Status.CRIT, exc.cause
        return result
    except EgressRefused as exc:  # e.g. a service URL that resolves to a private address
        result.status, result.detail, result.refused = Status.CRIT, str(exc), True
        return result
    result.code, result.latency_s = got.status, got.elapsed_s
    verdicts: list[tuple[Status, str]] = []
    if got.status >= 500:
        verdicts.append((Status.CRIT, f"HTTP {got.status} {got.reason}"))
    elif got.status >= 400:
        verdicts.append((Status.WARN, f"HTTP {got.status} {got.reason}: is the health URL right?"))
    elif 300 <= got.status < 400:
        verdicts.append((Status.OK, f"redirects to {shown(got.header('location') or '?')}"))
    if got.elapsed_s > crit:
        verdicts.append((Status.CRIT, f"slower than {crit:g} s"))
    elif got.elapsed_s > warn:
        verdicts.append((Status.WARN, f"slower than {warn:g} s"))
    verdicts.append(_body(result, got.content_type, got.body))
    result.status = Status.worst([s for s, _ in verdicts])
    reasons = [why for _, why in verdicts if why]
    result.detail = f"HTTP {got.status} in {millis(got.elapsed_s * 1000)}" + (
        f": {'; '.join(reasons)}" if reasons else ""
    )
    return result


def _targets(ctx: Context[Any], params: HealthCheck) -> list[tuple[str, str]]:
    services: dict[str, list[str]] = dict(ctx.options.get("services") or {})
    name = params.service if params.service and not is_url(params.service) else ""
    if params.urls:
        jobs = [(name, u) for u in params.urls]
        return jobs + ([("", params.service)] if params.service and is_url(params.service) else [])
    if params.service and is_url(params.service):
        return [("", params.service)]
    if params.service in (None, "all"):
        if not services:
            raise InvalidRequest(
                "no services with health URLs are configured (services.NAME.health in chatops.yaml); "
                "give a URL instead: /health https://example.com/health"
            )
        return [(svc, u) for svc, urls in sorted(services.items()) for u in urls]
    if params.service in services:
        return [(params.service, u) for u in services[params.service]]
    known = ", ".join(sorted(services)) or "none"
    raise NotFound(f"no health URLs for service {params.service!r} (services with health URLs: {known})")


@handler("health.check", HealthCheck, client=Client.HTTP, sub="check", default=True)
def check(ctx: Context[Any], params: HealthCheck) -> Check | Group:
    """GET health URLs: status, latency and a JSON summary; warn over 2 s, critical over 5 s or on 5xx.

    `/health [service|all|URL]`: a configured service's health URLs, every service at once
    (the default, checked concurrently, one table), or one URL. `--warn 2s --crit 5s` change
    the thresholds.
    """
    jobs = _targets(ctx, params)
    for _svc, url in jobs:  # a URL from chat that the config does not name: refused up front
        check_allowed(ctx, url)
    warn, crit = params.warn.total_seconds(), params.crit.total_seconds()
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(jobs)), thread_name_prefix="health") as pool:
        probes = list(pool.map(lambda job: probe(ctx, job[0], job[1], warn, crit), jobs))
    latencies = [p.latency_s for p in probes if p.latency_s is not None]
    worst = Status.worst([p.status for p in probes])
    values: dict[str, Value] = {
        "checked": len(probes),
        "ok": sum(p.status is Status.OK for p in probes),
        "degraded": sum(p.status is Status.WARN for p in probes),
        "unhealthy": sum(p.status is Status.CRIT for p in probes),
        "latency_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "status": worst.value,
    }
    if len(probes) == 1:
        p = probes[0]
        if p.refused:
            raise EgressRefused(p.detail)
        values.update({"status_code": p.code, **p.body_values})
        what = f"{p.service} ({p.url})" if p.service else p.url
        detail = p.detail + (f"\n{p.summary}" if p.summary else "")
        return Check(title=f"Health of {what}", status=p.status, detail=detail, values=values)
    for svc in sorted({p.service for p in probes if p.service}):
        mine = [p for p in probes if p.service == svc]
        lat = [p.latency_s for p in mine if p.latency_s is not None]
        values[f"{svc}.status"] = Status.worst([p.status for p in mine]).value
        values[f"{svc}.latency_ms"] = round(max(lat) * 1000, 1) if lat else None
    summary = (
        f"{values['ok']} ok, {values['degraded']} degraded, {values['unhealthy']} unhealthy "
        f"of {len(probes)} health URLs"
    )
    table = Table(
        title="Health checks",
        columns=("", "service", "url", "status", "latency", "detail", "body"),
        rows=[
            (
                {"ok": "✅", "warn": "⚠️", "crit": "🔴"}[p.status.value],
                p.service,
                p.url,
                str(p.code) if p.code is not None else "—",
                millis(p.latency_s * 1000) if p.latency_s is not None else "—",
                p.detail,
                p.summary,
            )
            for p in sorted(probes, key=lambda p: (-p.status.rank, p.service, p.url))
        ],
        values=values,
    )
    overall = Check(title="Health", status=worst, detail=summary, values=values)
    return Group(title="Health", parts=(overall, table), values=values)
