"""`/k8s describe pod|deployment`: conditions, containers, resources, revisions, events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import model_validator

from handlers import Client, Context, handler
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.events import events_table, fetch_events
from handlers.k8s.fmt import age, cut, labels_string, selector_string
from handlers.k8s.refs import SERVICE_HELP, DeploymentName, NamespacedParams, kind_of, split_ref
from handlers.k8s.status import PodState, pod_state
from handlers.k8s.workloads import (
    CHANGE_CAUSE,
    deployment_conditions,
    read_deployment,
    revision_of,
    revisions,
)
from handlers.params import ObjectName, arg
from handlers.results import Group, KeyValues, Result, Table, Value

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import (
        ApiClient,
        V1Container,
        V1ContainerState,
        V1ContainerStatus,
        V1Deployment,
        V1Pod,
    )


class DescribeParams(NamespacedParams):
    kind: str | None = arg(None, positional=True, help="pod or deployment (or pod/NAME, deploy/NAME)")
    name: ObjectName | None = arg(None, positional=True, help="the pod's or deployment's name")
    deployment: DeploymentName | None = arg(
        None, flags=("-d", "--deployment"), help="describe this deployment"
    )
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)

    def target(self) -> tuple[str, str]:
        """(kind, name) from `pod NAME`, `deploy/NAME`, or a service's deployment."""
        if self.kind is None:
            if self.deployment is None:
                raise ValueError("say what to describe: pod NAME, deployment NAME, or --service")
            return "deployment", self.deployment
        if "/" in self.kind:
            if self.name is not None:
                raise ValueError(f"give either {self.kind!r} or a name, not both")
            return split_ref(self.kind, "pod")
        kind = kind_of(self.kind)
        if kind is None:
            raise ValueError(f"{self.kind!r}: describe takes pod NAME or deployment NAME")
        if self.name is None:
            if kind == "deployment" and self.deployment is not None:
                return kind, self.deployment
            raise ValueError(f"give the {kind}'s name: describe {kind} NAME")
        return kind, self.name

    @model_validator(mode="after")
    def _check(self) -> DescribeParams:
        self.target()
        return self


def _resources(spec: V1Container) -> tuple[str, str]:
    res = spec.resources

    def fmt(values: Mapping[str, str] | None) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted((values or {}).items())) or "-"

    return fmt(res.requests if res else None), fmt(res.limits if res else None)


def _state(state: V1ContainerState | None) -> str:
    if state is None:
        return "-"
    if state.running is not None:
        return f"Running (for {age(state.running.started_at)})"
    if state.waiting is not None:
        return f"Waiting: {state.waiting.reason or ''}".rstrip(": ")
    if state.terminated is not None:
        t = state.terminated
        return f"Terminated: {t.reason or 'Error'} (exit {t.exit_code})"
    return "-"


def _last(cs: V1ContainerStatus | None) -> str:
    t = cs.last_state.terminated if cs and cs.last_state else None
    if t is None:
        return "-"
    return f"{t.reason or 'Error'} (exit {t.exit_code}, {age(t.finished_at)} ago)"


def _conditions(rows: list[list[str]]) -> Table:
    return Table(title="Conditions", columns=("TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"), rows=rows)


def describe_pod(ctx: Context[ApiClient], namespace: str, name: str) -> Group:
    from kubernetes.client import CoreV1Api

    pod: V1Pod = call(
        ctx,
        Call("get", "pods", namespace=namespace, name=name),
        CoreV1Api(ctx.client).read_namespaced_pod,
        name,
        namespace,
    )
    state = pod_state(pod)
    st = pod.status
    rows, last_reason, last_exit = _container_rows(pod)
    conditions = [
        [c.type, c.status, c.reason or "", age(c.last_transition_time), cut(c.message or "", 160)]
        for c in (st.conditions if st else None) or []
    ]
    ev_table = events_table(fetch_events(ctx, namespace, "Pod", name), title="Events")
    values: dict[str, Value] = {
        "status": state.status,
        "ready": state.healthy,
        "restarts": state.restarts,
        "containers": state.total,
        "ready_containers": state.ready,
        "oomkilled": state.oomkilled,
        "last_reason": last_reason,
        "last_exit_code": last_exit,
        "warnings": ev_table.values["warnings"],
        "node": state.node,
    }
    title = f"Pod {name} in {namespace} on cluster {cluster_name(ctx)}"
    containers = Table(
        title="Containers",
        columns=("NAME", "IMAGE", "STATE", "READY", "RESTARTS", "LAST TERMINATION", "REQUESTS", "LIMITS"),
        rows=rows,
    )
    parts: list[Result] = [
        KeyValues(title=title, items=_pod_overview(pod, state)),
        _conditions(conditions),
        containers,
        ev_table,
    ]
    return Group(title=title, parts=parts, values=values)


def _container_rows(pod: V1Pod) -> tuple[list[list[str]], str, int | None]:
    """A row per container (init containers first), and the last termination of an app container."""
    spec, st = pod.spec, pod.status
    statuses = (
        {cs.name: cs for cs in [*(st.init_container_statuses or []), *(st.container_statuses or [])]}
        if st
        else {}
    )
    specs = (
        [(c, True) for c in (spec.init_containers or [])] + [(c, False) for c in spec.containers]
        if spec
        else []
    )
    rows = []
    last_reason, last_exit = "", None
    for c, is_init in specs:
        cs = statuses.get(c.name)
        req, lim = _resources(c)
        rows.append(
            [
                f"{c.name} (init)" if is_init else c.name,
                c.image or "",
                _state(cs.state if cs else None),
                str(cs.ready if cs else False).lower(),
                str(cs.restart_count if cs else 0),
                _last(cs),
                req,
                lim,
            ]
        )
        term = cs.last_state.terminated if cs and cs.last_state else None
        now_term = cs.state.terminated if cs and cs.state else None
        for t in (term, now_term):
            if t is not None and not is_init:
                last_reason, last_exit = t.reason or "Error", t.exit_code
    return rows, last_reason, last_exit


def _pod_overview(pod: V1Pod, state: PodState) -> list[tuple[str, str]]:
    meta, st = pod.metadata, pod.status
    owners = (meta.owner_references if meta else None) or []
    overview = [
        ("Status", state.status),
        ("Ready", f"{state.ready}/{state.total}"),
        ("Restarts", state.restarts_text()),
        ("Node", state.node),
        ("IP", (st.pod_ip if st else None) or "<none>"),
        ("Age", age(state.created)),
        ("Controlled by", ", ".join(f"{o.kind}/{o.name}" for o in owners) or "<none>"),
        ("QoS class", (st.qos_class if st else None) or "-"),
        ("Labels", labels_string(meta.labels if meta else None) or "<none>"),
    ]
    if st and (st.reason or st.message):
        overview.append(("Message", cut(f"{st.reason or ''} {st.message or ''}".strip(), 300)))
    return overview


def _replicas_line(dep: V1Deployment) -> tuple[str, dict[str, Value]]:
    st = dep.status
    desired = dep.spec.replicas if dep.spec and dep.spec.replicas is not None else 1
    nums: dict[str, Value] = {
        "desired": desired,
        "updated": (st.updated_replicas if st else None) or 0,
        "ready": (st.ready_replicas if st else None) or 0,
        "available": (st.available_replicas if st else None) or 0,
        "unavailable": (st.unavailable_replicas if st else None) or 0,
    }
    total = (st.replicas if st else None) or 0
    line = (
        f"{desired} desired | {nums['updated']} updated | {total} total | {nums['available']} available | "
        f"{nums['unavailable']} unavailable"
    )
    return line, nums


def describe_deployment(ctx: Context[ApiClient], namespace: str, name: str) -> Group:
    dep = read_deployment(ctx, namespace, name)
    spec, meta = dep.spec, dep.metadata
    line, values = _replicas_line(dep)
    strategy = spec.strategy if spec else None
    strat = (strategy.type if strategy else None) or "RollingUpdate"
    if strategy and strategy.rolling_update:
        ru = strategy.rolling_update
        strat += f" (max surge {ru.max_surge}, max unavailable {ru.max_unavailable})"
    tpl = spec.template if spec else None
    containers = (tpl.spec.containers if tpl and tpl.spec else None) or []
    annotations = (meta.annotations if meta else None) or {}
    current = revision_of(dep)
    overview = [
        ("Replicas", line),
        ("Selector", selector_string(spec.selector if spec else None) or "<none>"),
        ("Strategy", strat),
        ("Revision", str(current) if current is not None else "-"),
        ("Change cause", annotations.get(CHANGE_CAUSE, "<none>")),
        ("Images", ", ".join(f"{c.name}={c.image}" for c in containers)),
        ("Paused", "yes" if spec and spec.paused else "no"),
        ("Age", age(meta.creation_timestamp if meta else None)),
    ]
    template_rows = [[c.name, c.image or "", *_resources(c)] for c in containers]
    revs = revisions(ctx, dep)
    rs_rows = [
        [
            str(r.number) + (" (current)" if r.number == current else ""),
            r.name,
            str(r.replicas),
            age(r.created),
        ]
        for r in reversed(revs)
    ]
    ev_table = events_table(fetch_events(ctx, namespace, "Deployment", name), title="Events")
    values.update(
        revision=current,
        revisions=len(revs),
        warnings=ev_table.values["warnings"],
        paused=bool(spec and spec.paused),
    )
    title = f"Deployment {name} in {namespace} on cluster {cluster_name(ctx)}"
    parts: list[Result] = [
        KeyValues(title=title, items=overview),
        deployment_conditions(dep),
        Table(title="Pod template", columns=("CONTAINER", "IMAGE", "REQUESTS", "LIMITS"), rows=template_rows),
        Table(title="ReplicaSets", columns=("REVISION", "NAME", "REPLICAS", "AGE"), rows=rs_rows),
        ev_table,
    ]
    return Group(title=title, parts=parts, values=values)


@handler("k8s.describe", DescribeParams, client=Client.KUBERNETES, sub="describe")
def describe(ctx: Context[ApiClient], params: DescribeParams) -> Group:
    """Describe a pod or a deployment: conditions, containers, resources, revisions, events.

    `/k8s describe pod backend-7d9f-x2x -n prod`, `/k8s describe deploy/backend -n prod`,
    `/k8s describe --service backend`. For a pod: each container's state, last termination
    reason and exit code (OOMKilled, 137), restarts, requests and limits, image and node.
    """
    kind, name = params.target()
    if kind == "pod":
        return describe_pod(ctx, params.namespace, name)
    return describe_deployment(ctx, params.namespace, name)
