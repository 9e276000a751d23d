"""`/k8s events`: warnings first, newest first, optionally about one object."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator

from handlers import Client, Context, handler
from handlers.k8s.errors import cluster_name, list_core
from handlers.k8s.fmt import age, cut
from handlers.k8s.refs import SERVICE_HELP, NamespacedParams, check_name
from handlers.params import arg
from handlers.results import Table

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Event

# kubectl's short names for the kinds events are usually about.
EVENT_KINDS = {
    **dict.fromkeys(("po", "pod", "pods"), "Pod"),
    **dict.fromkeys(("deploy", "deployment", "deployments"), "Deployment"),
    **dict.fromkeys(("rs", "replicaset", "replicasets"), "ReplicaSet"),
    **dict.fromkeys(("sts", "statefulset", "statefulsets"), "StatefulSet"),
    **dict.fromkeys(("ds", "daemonset", "daemonsets"), "DaemonSet"),
    **dict.fromkeys(("job", "jobs"), "Job"),
    **dict.fromkeys(("cj", "cronjob", "cronjobs"), "CronJob"),
    **dict.fromkeys(("svc", "service", "services"), "Service"),
    **dict.fromkeys(("ing", "ingress", "ingresses"), "Ingress"),
    **dict.fromkeys(
        ("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"), "HorizontalPodAutoscaler"
    ),
    **dict.fromkeys(("no", "node", "nodes"), "Node"),
    **dict.fromkeys(("pvc", "persistentvolumeclaim", "persistentvolumeclaims"), "PersistentVolumeClaim"),
}


def _event_ref(value: str) -> str:
    """`pod/NAME` → `Pod/NAME`; a bare NAME matches any kind (`/NAME`)."""
    prefix, slash, name = value.partition("/")
    if not slash:
        return f"/{check_name(value)}"
    kind = EVENT_KINDS.get(prefix.lower())
    if kind is None:
        raise ValueError(
            f"{value!r}: unknown kind {prefix!r} (use NAME or KIND/NAME: pod, deploy, rs, svc, node, hpa...)"
        )
    return f"{kind}/{check_name(name)}"


EventRef = Annotated[str, AfterValidator(_event_ref)]


class EventsParams(NamespacedParams):
    name: EventRef | None = arg(
        None, positional=True, help="only events about this object: NAME or KIND/NAME"
    )
    warnings: bool = arg(False, flags=("-w", "--warnings"), help="only warnings")
    all_namespaces: bool = arg(False, flags=("-A", "--all-namespaces"), help="events in every namespace")
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)


def last_seen(ev: CoreV1Event) -> datetime | None:
    series = ev.series.last_observed_time if ev.series else None
    created = ev.metadata.creation_timestamp if ev.metadata else None
    return ev.last_timestamp or series or ev.event_time or ev.first_timestamp or created


def count_of(ev: CoreV1Event) -> int:
    return ev.count or (ev.series.count if ev.series and ev.series.count else 0) or 1


def fetch_events(
    ctx: Context[ApiClient], namespace: str | None, kind: str | None = None, name: str | None = None
) -> list[CoreV1Event]:
    """Events in a namespace (or everywhere), optionally about one object; server-side filtered."""
    from kubernetes.client import CoreV1Api

    fields = []
    if name:
        fields.append(f"involvedObject.name={name}")
    if kind:
        fields.append(f"involvedObject.kind={kind}")
    selector = ",".join(fields) or None
    core = CoreV1Api(ctx.client)
    return list_core(
        ctx,
        "events",
        namespace,
        core.list_namespaced_event,
        core.list_event_for_all_namespaces,
        field_selector=selector,
    )


def _order(ev: CoreV1Event) -> tuple[int, float]:
    seen = last_seen(ev)
    return (0 if ev.type == "Warning" else 1, -(seen.timestamp() if seen else 0.0))


def events_table(events: Sequence[CoreV1Event], *, title: str, all_namespaces: bool = False) -> Table:
    """Warnings first, each group newest first; counts and the commonest warning in `values`."""
    ordered = sorted(events, key=_order)
    columns: tuple[str, ...] = ("LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE")
    if all_namespaces:
        columns = ("NAMESPACE", *columns)
    rows = []
    for ev in ordered:
        obj = ev.involved_object
        row = [
            age(last_seen(ev)),
            ev.type or "",
            ev.reason or "",
            f"{(obj.kind or '').lower()}/{obj.name or ''}",
            str(count_of(ev)),
            cut(ev.message or "", 200),
        ]
        rows.append([(ev.metadata.namespace if ev.metadata else None) or "", *row] if all_namespaces else row)
    warnings = [ev for ev in ordered if ev.type == "Warning"]
    reasons: Counter[str] = Counter()
    for ev in warnings:
        reasons[ev.reason or ""] += count_of(ev)
    top = reasons.most_common(1)[0][0] if reasons else ""
    summary = f"{len(ordered)} events, {len(warnings)} warnings"
    if top:
        summary += f" (most repeated: {top})"
    return Table(
        title=title,
        columns=columns,
        rows=rows,
        summary=summary if ordered else "No events.",
        values={"events": len(ordered), "warnings": len(warnings), "top_warning": top},
    )


@handler("k8s.events", EventsParams, client=Client.KUBERNETES, sub="events")
def events(ctx: Context[ApiClient], params: EventsParams) -> Table:
    """Show events, warnings first and newest first, with their count and age.

    `/k8s events -n prod`, `/k8s events pod/backend-7d9f-x2x -n prod` (one object),
    `/k8s events --warnings -A`.
    """
    kind, name = None, None
    if params.name:
        k, _, name = params.name.partition("/")
        kind = k or None
    namespace = None if params.all_namespaces else params.namespace
    found = fetch_events(ctx, namespace, kind, name)
    if params.warnings:
        found = [ev for ev in found if ev.type == "Warning"]
    about = f" about {params.name.lstrip('/')}" if params.name else ""
    where = "all namespaces" if namespace is None else namespace
    return events_table(
        found,
        title=f"Events in {where}{about} on cluster {cluster_name(ctx)}",
        all_namespaces=namespace is None,
    )
