"""`/alerts silence`: create a silence on the Alertmanager named in chatops.yaml (`alerts.alertmanager.url`).

The URL never comes from chat. The preview lists the alerts the silence would mute right now,
so the person confirming sees what goes quiet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import field_validator

from handlers import Client, Context, handler
from handlers.alerts.matchers import Matcher, MatcherError, parse_all
from handlers.errors import HandlerError, TargetUnavailable
from handlers.params import Duration, Params, arg
from handlers.redact import redact
from handlers.results import KeyValues, Preview

MAX_SILENCE = timedelta(days=14)
COMMENT_MAX = 500


class Silence(Params):
    matchers: list[str] = arg(
        positional=True, help='Alertmanager matchers: severity="critical" service=~"api.*"'
    )
    duration: Duration = arg(timedelta(hours=1), flags=("--for",), help="how long: 30m, 1h, 4h (max 14d)")
    comment: str = arg("Silenced from Slack", flags=("--comment", "-m"), help="why (shown on Alertmanager)")

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError('give at least one matcher, like alertname="HighErrorRate"')
        try:
            found = parse_all(v)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        if not any(m.op == "=" and m.value for m in found):
            # Alertmanager would accept it, but it silences far more than anyone means at 3 a.m.
            raise ValueError('at least one matcher must be an equality (name="value")')
        return [str(m) for m in found]

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= v <= MAX_SILENCE:
            raise ValueError("a silence lasts from 1m to 14d")
        return v

    @field_validator("comment")
    @classmethod
    def _comment(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("give a comment: why is it silenced?")
        return v[:COMMENT_MAX]

    def parsed(self) -> list[Matcher]:
        return parse_all(self.matchers)


def _base(ctx: Context[Any]) -> str:
    url = str(ctx.options.get("alertmanager") or "")
    if not url:
        raise HandlerError(
            "no Alertmanager is configured: add `alerts: {alertmanager: {url: …}}` to chatops.yaml"
        )
    return url.rstrip("/")


def _client(ctx: Context[Any]) -> httpx.Client:
    if not isinstance(ctx.client, httpx.Client):
        raise HandlerError("no HTTP client is configured")
    return ctx.client


def _request(ctx: Context[Any], method: str, path: str, **kw: Any) -> httpx.Response:
    base = _base(ctx)
    try:
        resp = _client(ctx).request(method, base + path, timeout=ctx.timeout, **kw)
    except httpx.TimeoutException:
        raise TargetUnavailable(
            f"Alertmanager {redact(base)}: no answer within {ctx.timeout:.0f} s"
        ) from None
    except httpx.HTTPError as exc:
        raise TargetUnavailable(
            f"Alertmanager {redact(base)}: {type(exc).__name__}: {redact(str(exc))}"
        ) from None
    if resp.status_code >= 400:
        raise HandlerError(
            f"Alertmanager {redact(base)} answered {resp.status_code} to {method} {path}: "
            f"{redact(resp.text[:300].strip())}"
        )
    return resp


def firing(ctx: Context[Any], matchers: list[Matcher]) -> list[dict[str, Any]]:
    """The active, not yet silenced alerts these matchers select."""
    params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    params += [("filter", str(m)) for m in matchers]
    data = _request(ctx, "GET", "/api/v2/alerts", params=params).json()
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


def preview_silence(ctx: Context[Any], params: Silence) -> Preview:
    matchers = params.parsed()
    alerts = firing(ctx, matchers)
    names = sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in alerts})
    shown = ", ".join(str(m) for m in matchers)
    details = [f"Alertmanager: {redact(_base(ctx))}", f"Comment: {params.comment}"]
    details += [f"Firing now: {', '.join(names[:10])}"] if names else ["No alert matches right now."]
    return Preview(
        summary=f"Silence {{{shown}}} for {_human(params.duration)} ({len(alerts)} firing alert(s) now)",
        details=details,
    )


def _human(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes % (60 * 24) == 0:
        return f"{minutes // (60 * 24)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@handler(
    "alerts.silence", Silence, client=Client.HTTP, destructive=True, preview=preview_silence, sub="silence"
)
def silence(ctx: Context[Any], params: Silence) -> KeyValues:
    """Silence alerts on Alertmanager: MATCHERS --for 2h --comment TEXT (asks to confirm first)."""
    now = datetime.now(UTC)
    body = {
        "matchers": [m.to_silence() for m in params.parsed()],
        "startsAt": now.isoformat().replace("+00:00", "Z"),
        "endsAt": (now + params.duration).isoformat().replace("+00:00", "Z"),
        "createdBy": ctx.requester or "chatops",
        "comment": params.comment,
    }
    data = _request(ctx, "POST", "/api/v2/silences", json=body).json()
    silence_id = str(data.get("silenceID", "")) if isinstance(data, dict) else ""
    if not silence_id:
        raise HandlerError(f"Alertmanager {redact(_base(ctx))} did not return a silence id")
    return KeyValues(
        title="Silence created",
        items=[
            ("id", silence_id),
            ("matchers", ", ".join(params.matchers)),
            ("until", (now + params.duration).strftime("%Y-%m-%d %H:%M UTC")),
            ("comment", params.comment),
        ],
    )
