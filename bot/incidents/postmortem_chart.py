"""The post-mortem's picture: the incident's timeline (detected, declared, each update,
mitigation, resolved) over its service's error rate and latency in the incident window.

Drawn from the same timeline as the Markdown. The metrics come from the service's named
PromQL (`services.X.metrics.error_rate`, `latency_p95`) on the default Prometheus; when the
service has none, or Prometheus does not answer, the chart has the timeline alone and `notes`
says why, so the post-mortem never waits on (or fails for) a metrics store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.config import ChatopsConfig
from bot.incidents import records
from bot.incidents.deps import IncidentDeps
from bot.prometheus import service_metrics
from bot.store.timeline import Event, events
from handlers import Client, Context
from handlers.errors import HandlerError
from handlers.figures import LineChart, Mark, TimelineChart
from handlers.prom.judge import default_limits, guess_unit
from handlers.prom.query import choose_step, line_chart, query_range
from handlers.results import Text

if TYPE_CHECKING:
    from bot.runtime import Runtime

METRICS = ("error_rate", "latency_p95")
PAD = 0.15  # of the window, before and after, so the metrics show the lead-up and the recovery
MIN_PAD = timedelta(minutes=5)


@dataclass
class Picture:
    chart: TimelineChart
    notes: list[str] = field(default_factory=list)


def _marks(inc: records.Incident, timeline: list[Event]) -> list[Mark]:
    marks: list[Mark] = []
    declared = next((e for e in timeline if e.kind == "declared"), None)
    detected = None
    for e in timeline:
        # An alert-declared incident carries when its alert started (Alertmanager's startsAt).
        for key in ("detected_at", "starts_at", "startsAt"):
            if e.data.get(key) and detected is None:
                try:
                    detected = datetime.fromisoformat(str(e.data[key]).replace("Z", "+00:00"))
                except ValueError:
                    continue
        if e.kind in ("detected", "alert") and detected is None:
            detected = e.at
    if detected is not None:
        marks.append(Mark(detected.timestamp(), "detected", "detected"))
    marks.append(
        Mark(
            (declared.at if declared else inc.declared_at).timestamp(), "declared", f"declared {inc.severity}"
        )
    )
    for e in timeline:
        if e.kind == "update":
            marks.append(Mark(e.at.timestamp(), "update", e.text))
        elif e.kind == "status" and e.data.get("to") == "monitoring":
            marks.append(Mark(e.at.timestamp(), "mitigated", "mitigated (monitoring)"))
        elif e.kind == "resolved":
            marks.append(Mark(e.at.timestamp(), "resolved", "resolved"))
    return marks


def picture(
    engine: Engine,
    config: ChatopsConfig,
    incident_id: int,
    *,
    prometheus: object | None,
    now: datetime,
) -> Picture:
    """The chart for an incident; `prometheus` is the default instance's client (or None)."""
    inc = records.require(engine, incident_id)
    timeline = list(events(engine, inc.id))
    marks = _marks(inc, timeline)
    notes: list[str] = []
    metrics: list[LineChart] = []
    named = service_metrics(config.services).get(inc.service or "", {})
    wanted = [m for m in METRICS if m in named]
    if inc.service and not wanted:
        notes.append(
            f"no error rate or latency over the incident: add `services.{inc.service}.metrics.error_rate` "
            "and `latency_p95` (PromQL) to chatops.yaml"
        )
    elif wanted and prometheus is None:
        notes.append("no metrics over the incident: no Prometheus is configured under `prometheus:`")
    elif wanted:
        start = min(m.at for m in marks)
        end = (inc.resolved_at or now).timestamp()
        pad = max((end - start) * PAD, MIN_PAD.total_seconds())
        start, end = start - pad, end + pad
        name = config.default_target("prometheus") or ""
        timeout = config.prometheus[name].timeout.total_seconds() if name in config.prometheus else 10.0
        ctx: Context[object] = Context(client=prometheus, timeout=timeout, target=name)
        step, _ = choose_step(end - start, None)
        for metric in wanted:
            try:
                found = query_range(ctx, named[metric], start, end, step)  # type: ignore[arg-type]
            except HandlerError as exc:
                notes.append(f"{metric}: {exc}")
                continue
            drawn = line_chart(
                metric,
                found,
                guess_unit(metric),
                since=timedelta(seconds=end - start),
                step=step,
                thresholds=tuple(default_limits(metric).lines()),
            )
            if isinstance(drawn, LineChart):
                metrics.append(drawn)
            else:
                notes.append(f"{metric}: no data over the incident window")
    title = f"Incident #{inc.id}: {inc.title}"[:100]
    words = Text(text="; ".join(notes) or f"{len(marks)} moments, {len(metrics)} metrics")
    return Picture(TimelineChart(title=title, parts=[words], marks=marks, metrics=metrics), notes)


def upload(runtime: Runtime, desk: IncidentDeps, incident_id: int, channel: str) -> str:
    """Draw and upload the chart beside the Markdown; a sentence for the requester's answer."""
    from bot.charts.upload import upload_charts

    config = desk.config
    name = config.default_target("prometheus")
    client = None
    if name is not None and name in config.prometheus:
        try:
            client = runtime.services.clients.get(Client.PROMETHEUS, name)
        except Exception:  # a bad URL: the timeline chart still goes up, the note says why
            client = None
    pic = picture(desk.engine, config, incident_id, prometheus=client, now=desk.clock())
    if desk.slack is None:  # the console: the Markdown is the whole answer
        return ""
    problems = upload_charts(desk.slack, channel, pic.chart)
    notes = "; ".join([*pic.notes, *problems])
    return (
        f" The timeline chart is beside it{f' ({notes})' if notes else ''}."
        if not problems
        else f" ({notes})"
    )
