"""`/k8s pods`: pods as `kubectl get pods` shows them, unhealthy first, with counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from handlers import Client, Context, handler
from handlers.k8s.errors import cluster_name
from handlers.k8s.fmt import age
from handlers.k8s.refs import SERVICE_HELP, DeploymentName, NamespacedParams
from handlers.k8s.status import IMAGE_PULL, PodState, pod_state
from handlers.k8s.workloads import deployment_selector, list_pods, read_deployment
from handlers.params import LabelSelector, arg
from handlers.results import Table

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Pod

COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE")


class PodsParams(NamespacedParams):
    service: str | None = arg(None, positional=True, help=SERVICE_HELP)
    selector: LabelSelector | None = arg(None, flags=("-l", "--selector"), help="label selector: app=backend")
    deployment: DeploymentName | None = arg(
        None, flags=("-d", "--deployment"), help="pods of this deployment"
    )
    all_namespaces: bool = arg(False, flags=("-A", "--all-namespaces"), help="pods in every namespace")


def _order(state: PodState) -> tuple[int, str, str]:
    rank = 0 if state.unhealthy else (1 if state.terminating else 2)
    return (rank, state.namespace, state.name)


def pods_table(pods: Sequence[V1Pod], *, title: str, all_namespaces: bool = False) -> Table:
    """The pods as a table (unhealthy first), a summary line and the counts in `values`."""
    states = sorted((pod_state(p) for p in pods), key=_order)
    columns = ("NAMESPACE", *COLUMNS) if all_namespaces else COLUMNS
    rows = []
    for s in states:
        row = [s.name, f"{s.ready}/{s.total}", s.status, s.restarts_text(), age(s.created), s.node]
        rows.append([s.namespace, *row] if all_namespaces else row)
    unhealthy = [s for s in states if s.unhealthy]
    by_status = Counter(s.status for s in unhealthy)
    restarts = sum(s.restarts for s in states)
    values = {
        "pods": len(states),
        "ready": sum(1 for s in states if s.healthy and s.status == "Running"),
        "unhealthy": len(unhealthy),
        "terminating": sum(1 for s in states if s.terminating),
        "restarts": restarts,
        "crashloop": by_status.get("CrashLoopBackOff", 0),
        "image_pull": sum(n for status, n in by_status.items() if status in IMAGE_PULL),
        "oomkilled": sum(1 for s in states if s.oomkilled),
        "pending": sum(1 for s in states if s.status in ("Pending", "ContainerCreating", "SchedulingGated")),
        "not_ready": sum(1 for s in unhealthy if s.status == "Running"),
        "completed": sum(1 for s in states if s.status in ("Completed", "Succeeded")),
    }
    if not states:
        summary = "No pods found."
    else:
        summary = f"{len(states)} pods, {len(unhealthy)} unhealthy"
        if unhealthy:
            parts = [f"{n} {'not ready' if st == 'Running' else st}" for st, n in by_status.most_common()]
            summary += f" ({', '.join(parts)})"
        if values["terminating"]:
            summary += f", {values['terminating']} terminating"
        summary += f", {restarts} restarts"
        if values["oomkilled"]:
            summary += f", {values['oomkilled']} OOMKilled now or last time"
    return Table(title=title, columns=columns, rows=rows, summary=summary, values=values)


@handler("k8s.pods", PodsParams, client=Client.KUBERNETES, sub="pods")
def pods(ctx: Context[ApiClient], params: PodsParams) -> Table:
    """List pods as `kubectl get pods` shows them, unhealthy first, counted in a summary.

    `/k8s pods -n prod -l app=backend`, `/k8s pods backend` (a service from chatops.yaml:
    its namespace and deployment), `/k8s pods -d backend -n prod`, `/k8s pods -A`.
    STATUS is derived as kubectl derives it: CrashLoopBackOff, ImagePullBackOff, OOMKilled,
    Completed, Init:N/M, Terminating, else the phase.
    """
    selector = params.selector
    if params.deployment and not selector:
        selector = deployment_selector(read_deployment(ctx, params.namespace, params.deployment))
    namespace = None if params.all_namespaces else params.namespace
    found = list_pods(ctx, namespace, selector)
    where = "all namespaces" if namespace is None else namespace
    if params.deployment and not params.selector:
        what = f" of deployment {params.deployment}"
    else:
        what = f" ({selector})" if selector else ""
    title = f"Pods in {where}{what} on cluster {cluster_name(ctx)}"
    return pods_table(found, title=title, all_namespaces=namespace is None)
