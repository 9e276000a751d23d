"""Reading deployments, their ReplicaSets (revisions) and their pods, as kubectl does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from handlers import Context
from handlers.errors import InvalidRequest
from handlers.k8s.errors import Call, call, list_core
from handlers.k8s.fmt import age, cut, selector_string
from handlers.k8s.status import pod_state
from handlers.results import Table

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import (
        ApiClient,
        V1Deployment,
        V1Pod,
        V1PodTemplateSpec,
        V1ReplicaSet,
    )

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def read_deployment(ctx: Context[ApiClient], namespace: str, name: str) -> V1Deployment:
    from kubernetes.client import AppsV1Api

    return call(
        ctx,
        Call("get", "deployments", "apps", namespace, name),
        AppsV1Api(ctx.client).read_namespaced_deployment,
        name,
        namespace,
    )


def patch_deployment(ctx: Context[ApiClient], namespace: str, name: str, patch: object) -> V1Deployment:
    """Patch a deployment: a dict is a strategic merge patch, a list of ops a JSON patch."""
    from kubernetes.client import AppsV1Api

    return call(
        ctx,
        Call("patch", "deployments", "apps", namespace, name),
        AppsV1Api(ctx.client).patch_namespaced_deployment,
        name,
        namespace,
        patch,
    )


def deployment_conditions(dep: V1Deployment) -> Table:
    """The deployment's conditions as kubectl describe shows them (SINCE: last update, else transition)."""
    st = dep.status
    return Table(
        title="Conditions",
        columns=("TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"),
        rows=[
            [
                c.type or "",
                c.status or "",
                c.reason or "",
                age(c.last_update_time or c.last_transition_time),
                cut(c.message or "", 160),
            ]
            for c in (st.conditions if st else None) or []
        ],
    )


def deployment_selector(dep: V1Deployment) -> str:
    sel = selector_string(dep.spec.selector if dep.spec else None)
    if not sel:
        # An empty selector would select every pod in the namespace: never act on that.
        raise InvalidRequest(f"deployment {dep.metadata.name if dep.metadata else '?'} has an empty selector")
    return sel


def revision_of(obj: V1ReplicaSet | V1Deployment) -> int | None:
    annotations = (obj.metadata.annotations if obj.metadata else None) or {}
    try:
        return int(annotations[REVISION])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Revision:
    number: int
    replicaset: V1ReplicaSet

    @property
    def template(self) -> V1PodTemplateSpec | None:
        return self.replicaset.spec.template if self.replicaset.spec else None

    @property
    def change_cause(self) -> str:
        annotations = (self.replicaset.metadata.annotations if self.replicaset.metadata else None) or {}
        return annotations.get(CHANGE_CAUSE, "")

    @property
    def images(self) -> list[str]:
        tpl = self.template
        containers = (tpl.spec.containers if tpl and tpl.spec else None) or []
        return [c.image or "" for c in containers]

    @property
    def created(self) -> datetime | None:
        return self.replicaset.metadata.creation_timestamp if self.replicaset.metadata else None

    @property
    def name(self) -> str:
        return (self.replicaset.metadata.name if self.replicaset.metadata else None) or ""

    @property
    def replicas(self) -> int:
        return (self.replicaset.spec.replicas if self.replicaset.spec else None) or 0


def revisions(ctx: Context[ApiClient], dep: V1Deployment) -> list[Revision]:
    """The deployment's ReplicaSets that it controls (by owner reference), oldest revision first."""
    from kubernetes.client import AppsV1Api

    meta = dep.metadata
    namespace = (meta.namespace if meta else None) or "default"
    uid = meta.uid if meta else None
    found = call(
        ctx,
        Call("list", "replicasets", "apps", namespace),
        AppsV1Api(ctx.client).list_namespaced_replica_set,
        namespace,
        label_selector=deployment_selector(dep),
    )
    out = []
    for rs in found.items:
        owners = (rs.metadata.owner_references if rs.metadata else None) or []
        if not any(o.uid == uid and o.controller for o in owners):
            continue  # selected by labels but owned by something else
        number = revision_of(rs)
        if number is not None:
            out.append(Revision(number, rs))
    return sorted(out, key=lambda r: r.number)


def list_pods(ctx: Context[ApiClient], namespace: str | None, selector: str | None) -> list[V1Pod]:
    from kubernetes.client import CoreV1Api

    core = CoreV1Api(ctx.client)
    return list_core(
        ctx,
        "pods",
        namespace,
        core.list_namespaced_pod,
        core.list_pod_for_all_namespaces,
        label_selector=selector or None,
    )


def newest_pod(pods: list[V1Pod]) -> tuple[V1Pod, bool] | None:
    """The newest ready pod (as `kubectl logs deploy/x` users expect), else the newest one."""
    if not pods:
        return None

    def created(p: V1Pod) -> float:
        ts = p.metadata.creation_timestamp if p.metadata else None
        return ts.timestamp() if ts else 0.0

    ready = [p for p in pods if pod_state(p).healthy and pod_state(p).status == "Running"]
    if ready:
        return max(ready, key=created), True
    return max(pods, key=created), False
