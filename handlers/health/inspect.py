"""`/health headers URL` (what `curl -I` shows) and `/health metrics URL PATTERN` (Prometheus)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from prometheus_client import parser as prom_parser
from prometheus_client.openmetrics import parser as openmetrics_parser
from pydantic import Field

from handlers import Client, Context, handler
from handlers.errors import HandlerError
from handlers.health.common import Fetched, HttpUrl, fetch, shown
from handlers.humanize import count, millis
from handlers.params import Params, arg
from handlers.patterns import UserRegex, compile_user_regex
from handlers.redact import redact
from handlers.results import KeyValues, Table, Value

MAX_METRICS_BODY = 20 << 20  # 20 MiB of exposition text
_SAMPLE_VALUES = 50  # matched samples put in `values`
# Headers whose values are credentials: shown by name only.
_SECRET_HEADERS = {"set-cookie", "authorization", "proxy-authorization", "www-authenticate", "x-api-key"}


class Headers(Params):
    url: HttpUrl = arg(..., positional=True, help="the URL, e.g. a static asset")


def _header_value(name: str, value: str) -> str:
    if name.lower() == "set-cookie":
        # Keep the cookie's name and attributes (Path, Max-Age, Secure), not its value.
        cookie, _, attrs = value.partition(";")
        return f"{cookie.partition('=')[0]}=***" + (f";{attrs}" if attrs else "")
    if name.lower() in _SECRET_HEADERS:
        return "***"
    return redact(value)


@handler("health.headers", Headers, client=Client.HTTP)
def headers(ctx: Context[Any], params: Headers) -> KeyValues:
    """The status line and response headers of a URL, as `curl -I` shows (HEAD, GET if refused).

    Redirects are shown, not followed. `/health headers URL`
    """
    got = fetch(ctx, "HEAD", params.url, read_body=False)
    if got.status in (405, 501):  # HEAD not allowed: GET, but read no body
        got = fetch(ctx, "GET", params.url, read_body=False)
    length = got.header("content-length")
    items = [
        ("Status", f"{got.http_version} {got.status} {got.reason}"),
        ("Time", f"{millis(got.elapsed_s * 1000)} ({got.method})"),
        *((name, _header_value(name, value)) for name, value in got.headers),
    ]
    return KeyValues(
        title=f"Headers of {shown(params.url)}",
        items=items,
        values={
            "status_code": got.status,
            "latency_ms": round(got.elapsed_s * 1000, 1),
            "content_type": got.content_type,
            "content_length": int(length) if length and length.isdigit() else None,
            "cache_control": got.header("cache-control"),
            "location": shown(loc) if (loc := got.header("location")) else None,
        },
    )


class Metrics(Params):
    url: HttpUrl = arg(..., positional=True, help="the Prometheus endpoint, e.g. http://backend:5000/metrics")
    pattern: UserRegex | None = arg(
        None, positional=True, help="a regular expression matched against name{labels}: cpu, error|exception"
    )
    limit: Annotated[int, Field(ge=1, le=500)] = arg(100, flags=("-n", "--limit"), help="samples shown (100)")


def _families(got: Fetched) -> list[Any]:
    text = got.body.decode("utf-8", "replace")
    parse = (
        openmetrics_parser.text_string_to_metric_families
        if "openmetrics" in got.content_type.lower()
        else prom_parser.text_string_to_metric_families
    )
    try:
        return list(parse(text))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise HandlerError(
            f"{shown(got.url)} did not answer in the Prometheus text format "
            f"({got.content_type or 'no content type'}): {redact(str(exc))[:200]}"
        ) from None


def _sample_name(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _number(value: float) -> Value:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@handler("health.metrics", Metrics, client=Client.HTTP)
def metrics(ctx: Context[Any], params: Metrics) -> Table:
    """Scrape a Prometheus endpoint and show the samples whose name{labels} match a pattern.

    The pattern is a case-insensitive regular expression (`cpu`, `error|exception`), run on RE2
    (linear time; no backreferences or look-arounds).
    `/health metrics URL [PATTERN] [-n 100]`
    """
    got = fetch(ctx, "GET", params.url, max_body=MAX_METRICS_BODY)
    if got.status >= 400:
        raise HandlerError(f"{shown(params.url)}: HTTP {got.status} {got.reason}; no metrics to read")
    families = _families(got)
    rx = compile_user_regex(params.pattern) if params.pattern else None
    total = 0
    matched: list[tuple[str, str, float]] = []
    for family in families:
        for sample in family.samples:
            total += 1
            name = _sample_name(sample.name, dict(sample.labels))
            if rx is None or rx.search(name):
                matched.append((name, family.type, float(sample.value)))
    values: dict[str, Value] = {"families": len(families), "samples": total, "matched": len(matched)}
    if len(matched) == 1:
        values["value"] = _number(matched[0][2])
    for name, _kind, value in matched[:_SAMPLE_VALUES]:
        values[name] = _number(value)
    what = f"matching {params.pattern!r}" if params.pattern else "in total"
    summary = (
        f"{count(len(matched))} samples {what} of {count(total)} in {count(len(families))} metric families"
    )
    if len(matched) > params.limit:
        summary += f" (showing {params.limit})"
    if got.truncated:
        summary += f"; the response was cut at {MAX_METRICS_BODY >> 20} MiB"
    return Table(
        title=f"Metrics of {shown(params.url)}",
        columns=("sample", "type", "value"),
        rows=[(name, kind, f"{value:.15g}") for name, kind, value in matched[: params.limit]],
        summary=summary,
        values=values,
    )
