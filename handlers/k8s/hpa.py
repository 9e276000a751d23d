"""`/k8s hpa` (current/desired/min/max and metrics) and `/k8s patch hpa` (min/max)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, model_validator

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import age, cut
from handlers.k8s.refs import NamespacedParams
from handlers.params import LabelSelector, ObjectName, arg
from handlers.results import Group, KeyValues, Preview, Table, Value

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import (
        ApiClient,
        V2HorizontalPodAutoscaler,
        V2MetricSpec,
        V2MetricStatus,
        V2MetricTarget,
        V2MetricValueStatus,
    )

GROUP = "autoscaling"


class HpaParams(NamespacedParams):
    name: ObjectName | None = arg(
        None, positional=True, help="one HPA by name (default: all in the namespace)"
    )
    selector: LabelSelector | None = arg(None, flags=("-l", "--selector"), help="label selector")


def _target(t: V2MetricTarget | None) -> str:
    if t is None:
        return "<unset>"
    if t.average_utilization is not None:
        return f"{t.average_utilization}%"
    return str(t.average_value or t.value or "<unset>")


def _current(c: V2MetricValueStatus | None, utilization: bool) -> str:
    if c is None:
        return "<unknown>"
    if utilization and c.average_utilization is not None:
        return f"{c.average_utilization}%"
    return str(c.average_value or c.value or "<unknown>")


def _metric(spec: V2MetricSpec, status: V2MetricStatus | None) -> tuple[str, str, str]:
    """(metric name, current, target) as kubectl prints them."""
    if spec.resource is not None or spec.container_resource is not None:
        src = spec.resource or spec.container_resource
        name = src.name if src else "?"
        target = src.target if src else None
        util = target is not None and target.average_utilization is not None
        cur_src = (status.resource or status.container_resource) if status else None
        return name, _current(cur_src.current if cur_src else None, util), _target(target)
    for kind in ("pods", "object", "external"):
        src = getattr(spec, kind)
        if src is not None:
            cur = getattr(status, kind) if status else None
            return src.metric.name, _current(cur.current if cur else None, False), _target(src.target)
    return spec.type, "<unknown>", "<unset>"


def _metrics(hpa: V2HorizontalPodAutoscaler) -> list[tuple[str, str, str]]:
    specs = (hpa.spec.metrics if hpa.spec else None) or []
    statuses = (hpa.status.current_metrics if hpa.status else None) or []
    out = []
    for i, spec in enumerate(specs):
        # Status entries follow the spec's order; match by type and name to be safe.
        match = next(
            (s for s in statuses if s.type == spec.type and _metric(spec, s)[0] == _metric(spec, None)[0]),
            statuses[i] if i < len(statuses) else None,
        )
        out.append(_metric(spec, match))
    return out


def _numbers(hpa: V2HorizontalPodAutoscaler) -> tuple[int, int, int, int]:
    spec, st = hpa.spec, hpa.status
    min_r = (spec.min_replicas if spec else None) or 1
    max_r = spec.max_replicas if spec else 0
    return min_r, max_r, (st.current_replicas if st else None) or 0, (st.desired_replicas if st else 0)


def _limited(hpa: V2HorizontalPodAutoscaler) -> bool:
    return any(
        c.type == "ScalingLimited" and c.status == "True"
        for c in (hpa.status.conditions if hpa.status else None) or []
    )


@handler("k8s.hpa", HpaParams, client=Client.KUBERNETES, sub="hpa")
def hpas(ctx: Context[ApiClient], params: HpaParams) -> Table | Group:
    """Show autoscalers: current/desired against min/max replicas, and their metrics.

    `/k8s hpa -n prod`, `/k8s hpa backend -n prod` (with its conditions). An HPA at its
    maximum, or limited by it, is counted in the summary.
    """
    ns = params.namespace
    items = _read_hpas(ctx, params)
    at_max = sum(1 for _min, max_r, cur, _desired in map(_numbers, items) if cur >= max_r)
    limited = sum(1 for h in items if _limited(h))
    values: dict[str, Value] = {"hpas": len(items), "at_max": at_max, "limited": limited}
    summary = f"{len(items)} autoscalers" + (f", {at_max} at their maximum" if at_max else "")
    summary += f", {limited} held back by their limits" if limited else ""
    table = Table(
        title=f"Autoscalers in {ns} on cluster {cluster_name(ctx)}",
        columns=("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "DESIRED", "AGE"),
        rows=[_hpa_row(h) for h in items],
        summary=summary,
        values=values,
    )
    if not params.name:
        return table
    return _one_hpa(items[0], table, values)


def _read_hpas(ctx: Context[ApiClient], params: HpaParams) -> list[V2HorizontalPodAutoscaler]:
    from kubernetes.client import AutoscalingV2Api

    api, ns = AutoscalingV2Api(ctx.client), params.namespace
    if params.name:
        return [
            call(
                ctx,
                Call("get", "horizontalpodautoscalers", GROUP, ns, params.name),
                api.read_namespaced_horizontal_pod_autoscaler,
                params.name,
                ns,
            )
        ]
    return list(
        call(
            ctx,
            Call("list", "horizontalpodautoscalers", GROUP, ns),
            api.list_namespaced_horizontal_pod_autoscaler,
            ns,
            label_selector=params.selector,
        ).items
    )


def _hpa_row(h: V2HorizontalPodAutoscaler) -> list[str]:
    min_r, max_r, cur, desired = _numbers(h)
    ref = h.spec.scale_target_ref if h.spec else None
    return [
        (h.metadata.name if h.metadata else None) or "",
        f"{ref.kind}/{ref.name}" if ref else "",
        ", ".join(f"{n}: {c}/{t}" for n, c, t in _metrics(h)) or "<none>",
        str(min_r),
        str(max_r),
        str(cur),
        str(desired),
        age(h.metadata.creation_timestamp if h.metadata else None),
    ]


def _one_hpa(h: V2HorizontalPodAutoscaler, table: Table, values: dict[str, Value]) -> Group:
    """One autoscaler: its numbers and metrics as values, and its conditions."""
    min_r, max_r, cur, desired = _numbers(h)
    values.update(min=min_r, max=max_r, current=cur, desired=desired)
    for name, current, target in _metrics(h):
        if current.endswith("%"):
            values[f"{name}_pct"] = int(current[:-1])
        if target.endswith("%"):
            values[f"{name}_target_pct"] = int(target[:-1])
    conditions = Table(
        title="Conditions",
        columns=("TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"),
        rows=[
            [c.type, c.status, c.reason or "", age(c.last_transition_time), cut(c.message or "", 160)]
            for c in (h.status.conditions if h.status else None) or []
        ],
    )
    return Group(title=table.title, parts=[table, conditions], values=values)


Replicas = Annotated[int, Field(ge=1, le=10_000)]


class PatchHpaParams(NamespacedParams):
    name: ObjectName = arg(..., positional=True, help="the HPA's name")
    min_replicas: Replicas | None = arg(None, flags=("--min",), help="new minimum replicas")
    max_replicas: Replicas | None = arg(None, flags=("--max",), help="new maximum replicas")

    @model_validator(mode="after")
    def _some(self) -> PatchHpaParams:
        if self.min_replicas is None and self.max_replicas is None:
            raise ValueError("give --min, --max or both")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise ValueError(f"--min {self.min_replicas} is above --max {self.max_replicas}")
        return self


def _planned(ctx: Context[ApiClient], params: PatchHpaParams) -> tuple[V2HorizontalPodAutoscaler, int, int]:
    from kubernetes.client import AutoscalingV2Api

    ns = params.namespace
    hpa = call(
        ctx,
        Call("get", "horizontalpodautoscalers", GROUP, ns, params.name),
        AutoscalingV2Api(ctx.client).read_namespaced_horizontal_pod_autoscaler,
        params.name,
        ns,
    )
    min_r, max_r, _cur, _desired = _numbers(hpa)
    new_min = params.min_replicas if params.min_replicas is not None else min_r
    new_max = params.max_replicas if params.max_replicas is not None else max_r
    lo, hi = max(1, int(ctx.options.get("scale_min", 0))), int(ctx.options.get("scale_max", 50))
    what = f"HPA {params.name} in {ns}"
    if new_min > new_max:
        raise InvalidRequest(f"{what}: min {new_min} would be above max {new_max}; give both --min and --max")
    if new_min < lo or new_max > hi:
        raise InvalidRequest(
            f"{what}: min {new_min} / max {new_max} is outside the allowed {lo}–{hi} replicas "
            "(limits.scale in chatops.yaml)"
        )
    return hpa, new_min, new_max


def preview_patch_hpa(ctx: Context[ApiClient], params: PatchHpaParams) -> Preview:
    hpa, new_min, new_max = _planned(ctx, params)
    min_r, max_r, cur, desired = _numbers(hpa)
    ref = hpa.spec.scale_target_ref if hpa.spec else None
    return Preview(
        summary=f"HPA {params.name} in {params.namespace}: min {min_r} → {new_min}, max {max_r} → {new_max}",
        details=[
            f"scales {ref.kind.lower()}/{ref.name}" if ref else "scale target unknown",
            f"now {cur} replicas, it wants {desired}",
            f"cluster {cluster_name(ctx)}",
        ],
    )


@handler(
    "k8s.patch_hpa",
    PatchHpaParams,
    client=Client.KUBERNETES,
    destructive=True,
    preview=preview_patch_hpa,
    sub="patch hpa",
)
def patch_hpa(ctx: Context[ApiClient], params: PatchHpaParams) -> KeyValues:
    """Change an autoscaler's minimum and/or maximum replicas (bounded by limits.scale).

    `/k8s patch hpa backend --min 3 --max 20 -n prod`. Runs after confirmation.
    """
    from kubernetes.client import AutoscalingV2Api

    hpa, new_min, new_max = _planned(ctx, params)
    min_r, max_r, _cur, _desired = _numbers(hpa)
    ns = params.namespace
    done = call(
        ctx,
        Call("patch", "horizontalpodautoscalers", GROUP, ns, params.name),
        AutoscalingV2Api(ctx.client).patch_namespaced_horizontal_pod_autoscaler,
        params.name,
        ns,
        {"spec": {"minReplicas": new_min, "maxReplicas": new_max}},
    )
    got_min, got_max, cur, _desired = _numbers(done)
    return KeyValues(
        title=f"HPA {params.name} in {ns} on cluster {cluster_name(ctx)} updated",
        items=[
            ("Min replicas", f"{min_r} → {got_min}"),
            ("Max replicas", f"{max_r} → {got_max}"),
            ("Current replicas", str(cur)),
        ],
        values={"min": got_min, "max": got_max, "previous_min": min_r, "previous_max": max_r},
    )
