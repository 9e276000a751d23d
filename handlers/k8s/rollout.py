"""`/k8s rollout status` and `/k8s rollout history`: where a deployment's rollout stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest
from handlers.k8s.errors import cluster_name
from handlers.k8s.fmt import age, cut
from handlers.k8s.refs import SERVICE_HELP, DeploymentName, NamespacedParams
from handlers.k8s.workloads import deployment_conditions, read_deployment, revision_of, revisions
from handlers.params import arg
from handlers.results import Check, Group, KeyValues, Result, Status, Table, Value

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Deployment

STALLED_REASON = "ProgressDeadlineExceeded"
Revision = Annotated[int, Field(ge=1)]


class RolloutParams(NamespacedParams):
    deployment: DeploymentName = arg(..., positional=True, help="the deployment: NAME or deploy/NAME")
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)


class HistoryParams(RolloutParams):
    revision: Revision | None = arg(None, flags=("--revision",), help="show this revision's pod template")


def rollout_state(dep: V1Deployment) -> tuple[Status, str, dict[str, Value]]:
    """kubectl's rollout status logic: (status, sentence, numbers)."""
    spec, st = dep.spec, dep.status
    counts = _Replicas(
        desired=spec.replicas if spec and spec.replicas is not None else 1,
        updated=(st.updated_replicas if st else None) or 0,
        total=(st.replicas if st else None) or 0,
        available=(st.available_replicas if st else None) or 0,
    )
    status, sentence, stalled = _rollout_verdict(dep, counts)
    values: dict[str, Value] = {
        "desired": counts.desired,
        "updated": counts.updated,
        "ready": (st.ready_replicas if st else None) or 0,
        "available": counts.available,
        "unavailable": (st.unavailable_replicas if st else None) or 0,
        "revision": revision_of(dep),
        "paused": bool(spec and spec.paused),
        "stalled": stalled,
        "complete": status is Status.OK,
    }
    return status, sentence, values


@dataclass(frozen=True)
class _Replicas:
    desired: int
    updated: int
    total: int
    available: int


def _rollout_verdict(dep: V1Deployment, n: _Replicas) -> tuple[Status, str, bool]:
    """The first of kubectl's checks that holds the rollout up, in kubectl's order (and stalled?)."""
    name = (dep.metadata.name if dep.metadata else None) or ""
    st = dep.status
    generation = (dep.metadata.generation if dep.metadata else None) or 0
    observed = (st.observed_generation if st else None) or 0
    if generation > observed:
        return Status.WARN, f"Waiting for deployment {name} spec update to be observed…", False
    progressing = next((c for c in (st.conditions if st else None) or [] if c.type == "Progressing"), None)
    if progressing is not None and progressing.reason == STALLED_REASON:
        msg = f"Rollout of deployment {name} is stalled: it exceeded its progress deadline"
        return Status.CRIT, msg + (f" ({cut(progressing.message, 200)})" if progressing.message else ""), True
    waiting = f"Waiting for rollout of {name}:"
    if dep.spec and dep.spec.paused:
        sentence = f"Deployment {name} is paused: its rollout does not progress until resumed"
    elif n.updated < n.desired:
        sentence = f"{waiting} {n.updated} of {n.desired} new replicas updated"
    elif n.total > n.updated:
        sentence = f"{waiting} {n.total - n.updated} old replicas pending termination"
    elif n.available < n.updated:
        sentence = f"{waiting} {n.available} of {n.updated} updated replicas available"
    else:
        return Status.OK, f"Deployment {name} successfully rolled out", False
    return Status.WARN, sentence, False


@handler("k8s.rollout_status", RolloutParams, client=Client.KUBERNETES, sub="rollout status")
def rollout_status(ctx: Context[ApiClient], params: RolloutParams) -> Group:
    """Show a deployment's rollout: updated/ready/available against desired, conditions, stalls.

    `/k8s rollout status deploy/backend -n prod`. A rollout past its progress deadline is
    named stalled (crit); one still moving is a warning; a finished one is ok.
    """
    dep = read_deployment(ctx, params.namespace, params.deployment)
    status, sentence, values = rollout_state(dep)
    conditions = deployment_conditions(dep)
    detail = (
        f"{values['updated']}/{values['desired']} updated, {values['ready']}/{values['desired']} ready, "
        f"{values['available']}/{values['desired']} available"
    )
    title = f"Rollout of deployment {params.deployment} in {params.namespace} on cluster {cluster_name(ctx)}"
    check = Check(title=sentence, status=status, detail=detail, values=values)
    return Group(title=title, parts=[check, conditions], values=values)


@handler("k8s.rollout_history", HistoryParams, client=Client.KUBERNETES, sub="rollout history")
def rollout_history(ctx: Context[ApiClient], params: HistoryParams) -> Result:
    """List a deployment's revisions from its ReplicaSets: change-cause, image, age.

    `/k8s rollout history deploy/backend -n prod`; `--revision 2` shows that revision's pod
    template. The current revision is marked; `rollout undo` goes back to the previous one.
    """
    ns, name = params.namespace, params.deployment
    dep = read_deployment(ctx, ns, name)
    revs = revisions(ctx, dep)
    current = revision_of(dep) or (revs[-1].number if revs else None)
    title = f"Rollout history of deployment {name} in {ns} on cluster {cluster_name(ctx)}"
    if params.revision is not None:
        chosen = next((r for r in revs if r.number == params.revision), None)
        if chosen is None:
            known = ", ".join(str(r.number) for r in revs) or "none"
            raise InvalidRequest(
                f"deployment {name} in {ns} has no revision {params.revision} (known revisions: {known})"
            )
        tpl = chosen.template
        containers = (tpl.spec.containers if tpl and tpl.spec else None) or []
        items = [
            ("ReplicaSet", chosen.name),
            ("Change cause", chosen.change_cause or "<none>"),
            ("Created", f"{age(chosen.created)} ago"),
        ]
        for c in containers:
            env = ", ".join(
                f"{e.name}={e.value}" if e.value is not None else f"{e.name} (from a source)"
                for e in c.env or []
            )
            items.append((f"Container {c.name}", f"{c.image}" + (f"; env {env}" if env else "")))
        return KeyValues(
            title=f"{title}: revision {chosen.number}",
            items=items,
            values={"revision": chosen.number, "current": chosen.number == current},
        )
    rows = [
        [
            f"{r.number}" + (" (current)" if r.number == current else ""),
            r.change_cause or "<none>",
            ", ".join(r.images),
            age(r.created),
            str(r.replicas),
        ]
        for r in reversed(revs)
    ]
    older = [r.number for r in revs if current is not None and r.number < current]
    return Table(
        title=title,
        columns=("REVISION", "CHANGE-CAUSE", "IMAGE", "AGE", "REPLICAS"),
        rows=rows,
        summary=f"{len(revs)} revisions, current {current}" if revs else "No revisions found.",
        values={
            "revisions": len(revs),
            "current_revision": current,
            "previous_revision": max(older, default=None),
        },
    )
