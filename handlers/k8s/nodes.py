"""`/k8s nodes`: Ready and pressure conditions, cordons, versions; unhealthy nodes first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import Client, Context, handler
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import age
from handlers.k8s.refs import K8sParams
from handlers.params import LabelSelector, ObjectName, arg
from handlers.results import Table

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Node

PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
ROLE_PREFIX = "node-role.kubernetes.io/"


class NodesParams(K8sParams):
    name: ObjectName | None = arg(None, positional=True, help="one node by name (default: all)")
    selector: LabelSelector | None = arg(None, flags=("-l", "--selector"), help="label selector")


def node_row(node: V1Node) -> tuple[bool, list[str], list[str]]:
    """(healthy, row, pressures) for one node, STATUS as kubectl shows it."""
    meta, spec, st = node.metadata, node.spec, node.status
    conditions = {c.type: c for c in (st.conditions if st else None) or []}
    ready = conditions.get("Ready")
    status = (
        "Ready"
        if ready and ready.status == "True"
        else ("NotReady" if ready and ready.status == "False" else "Unknown")
    )
    if ready is None:
        status = "Unknown"
    if spec and spec.unschedulable:
        status += ",SchedulingDisabled"
    pressures = [t for t in PRESSURE if t in conditions and conditions[t].status == "True"]
    labels = (meta.labels if meta else None) or {}
    roles = sorted(k.removeprefix(ROLE_PREFIX) for k in labels if k.startswith(ROLE_PREFIX)) or ["<none>"]
    info = st.node_info if st else None
    row = [
        (meta.name if meta else None) or "",
        status,
        ",".join(roles),
        age(meta.creation_timestamp if meta else None),
        info.kubelet_version if info else "",
        ",".join(pressures) or "-",
    ]
    healthy = status == "Ready" and not pressures
    return healthy, row, pressures


@handler("k8s.nodes", NodesParams, client=Client.KUBERNETES, sub="nodes")
def nodes(ctx: Context[ApiClient], params: NodesParams) -> Table:
    """List nodes with their Ready status and pressure conditions, unhealthy ones first.

    `/k8s nodes`, `/k8s nodes node-2`, `/k8s nodes -l node-role.kubernetes.io/worker`.
    A cordoned node shows SchedulingDisabled; MemoryPressure, DiskPressure, PIDPressure and
    NetworkUnavailable show under PRESSURE.
    """
    from kubernetes.client import CoreV1Api

    core = CoreV1Api(ctx.client)
    if params.name:
        items = [call(ctx, Call("get", "nodes", name=params.name), core.read_node, params.name)]
    else:
        items = call(ctx, Call("list", "nodes"), core.list_node, label_selector=params.selector).items
    rows = sorted((node_row(n) for n in items), key=lambda r: (r[0], r[1][0]))
    not_ready = sum(1 for _h, r, _p in rows if not r[1].startswith("Ready"))
    pressure = sum(1 for _h, _r, p in rows if p)
    cordoned = sum(1 for _h, r, _p in rows if "SchedulingDisabled" in r[1])
    summary = f"{len(rows)} nodes, {len(rows) - not_ready} Ready"
    for n, what in ((not_ready, "not Ready"), (pressure, "under pressure"), (cordoned, "cordoned")):
        if n:
            summary += f", {n} {what}"
    return Table(
        title=f"Nodes of cluster {cluster_name(ctx)}",
        columns=("NAME", "STATUS", "ROLES", "AGE", "VERSION", "PRESSURE"),
        rows=[r for _h, r, _p in rows],
        summary=summary,
        values={
            "nodes": len(rows),
            "ready": len(rows) - not_ready,
            "not_ready": not_ready,
            "pressure": pressure,
            "unschedulable": cordoned,
        },
    )
