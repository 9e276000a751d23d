"""`/k8s rollout restart` and `/k8s rollout undo`, done the way kubectl does them.

Restart sets the `kubectl.kubernetes.io/restartedAt` annotation on the pod template, so the
deployment replaces its pods at its own pace. Undo copies the target ReplicaSet's pod template
(its `pod-template-hash` label removed) into the deployment with a JSON patch, and carries the
ReplicaSet's annotations over, exactly as `kubectl rollout undo` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handlers import Client, Context, handler
from handlers.errors import HandlerError, InvalidRequest, TargetMoved
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import age, now
from handlers.k8s.rollout import Revision, RolloutParams
from handlers.k8s.workloads import (
    HASH_LABEL,
    RESTARTED_AT,
    REVISION,
    patch_deployment,
    read_deployment,
    revision_of,
    revisions,
)
from handlers.k8s.workloads import Revision as RevisionInfo
from handlers.params import arg
from handlers.pin import pinned
from handlers.results import KeyValues, Pin, Preview

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Deployment

# kubectl keeps these deployment annotations and does not copy them from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def _images(dep_or_rev: V1Deployment | RevisionInfo) -> str:
    if isinstance(dep_or_rev, RevisionInfo):
        return ", ".join(dep_or_rev.images)
    tpl = dep_or_rev.spec.template if dep_or_rev.spec else None
    return ", ".join(c.image or "" for c in ((tpl.spec.containers if tpl and tpl.spec else None) or []))


def _not_paused(dep: V1Deployment, what: str) -> None:
    if dep.spec and dep.spec.paused:
        name = dep.metadata.name if dep.metadata else "?"
        raise InvalidRequest(f"deployment {name} is paused: resume it before you {what} it")


# --- restart ------------------------------------------------------------------------------


def preview_restart(ctx: Context[ApiClient], params: RolloutParams) -> Preview:
    dep = read_deployment(ctx, params.namespace, params.deployment)
    _not_paused(dep, "restart")
    replicas = dep.spec.replicas if dep.spec and dep.spec.replicas is not None else 1
    strategy = dep.spec.strategy if dep.spec else None
    kind = (strategy.type if strategy else None) or "RollingUpdate"
    how = (
        "one batch at a time (RollingUpdate)"
        if kind == "RollingUpdate"
        else "all at once (Recreate: downtime)"
    )
    return Preview(
        summary=f"deployment {params.deployment} in {params.namespace}: restart all {replicas} pods",
        details=[f"pods are replaced {how}", f"images stay {_images(dep)}", f"cluster {cluster_name(ctx)}"],
    )


@handler(
    "k8s.rollout_restart",
    RolloutParams,
    client=Client.KUBERNETES,
    destructive=True,
    preview=preview_restart,
    sub="rollout restart",
)
def rollout_restart(ctx: Context[ApiClient], params: RolloutParams) -> KeyValues:
    """Restart a deployment's pods with a rolling update, as `kubectl rollout restart` does.

    `/k8s rollout restart deploy/backend -n prod`. Sets the kubectl.kubernetes.io/restartedAt
    annotation on the pod template; runs after confirmation.
    """
    ns, name = params.namespace, params.deployment
    dep = read_deployment(ctx, ns, name)
    _not_paused(dep, "restart")
    stamp = now().strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    done = patch_deployment(ctx, ns, name, patch)
    replicas = done.spec.replicas if done.spec and done.spec.replicas is not None else 1
    return KeyValues(
        title=f"Deployment {name} in {ns} on cluster {cluster_name(ctx)} is restarting",
        items=[
            ("Restarted at", stamp),
            ("Pods to replace", str(replicas)),
            ("Follow it", f"/k8s rollout status deploy/{name} -n {ns}"),
        ],
        values={"restarted_at": stamp, "replicas": replicas},
    )


# --- undo ---------------------------------------------------------------------------------


class UndoParams(RolloutParams):
    to_revision: Revision | None = arg(
        None, flags=("--to-revision",), help="go back to this revision (default: previous)"
    )


@dataclass(frozen=True)
class _Plan:
    deployment: V1Deployment
    current: int | None
    target: RevisionInfo
    known: list[int]


def _plan(ctx: Context[ApiClient], params: UndoParams) -> _Plan:
    """kubectl's choice of revision: `--to-revision N`, or the newest one before the latest."""
    ns, name = params.namespace, params.deployment
    dep = read_deployment(ctx, ns, name)
    _not_paused(dep, "roll back")
    revs = revisions(ctx, dep)
    known = [r.number for r in revs]
    listing = ", ".join(map(str, known)) or "none"
    if params.to_revision is not None:
        target = next((r for r in revs if r.number == params.to_revision), None)
        if target is None:
            raise InvalidRequest(
                f"deployment {name} in {ns} has no revision {params.to_revision} (known revisions: {listing})"
            )
    else:
        if len(revs) < 2:
            raise InvalidRequest(
                f"deployment {name} in {ns} has no previous revision to go back to (revisions: {listing})"
            )
        target = revs[-2]
    current = revision_of(dep)
    tpl = target.template
    if (
        tpl is not None
        and dep.spec is not None
        and _without_hash(tpl.to_dict()) == _without_hash(dep.spec.template.to_dict())
    ):
        raise InvalidRequest(
            f"deployment {name} in {ns} already runs the template of revision {target.number}: "
            "nothing to undo"
        )
    return _Plan(dep, current, target, known)


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop(HASH_LABEL, None)
    return {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}


def preview_undo(ctx: Context[ApiClient], params: UndoParams) -> Preview:
    plan = _plan(ctx, params)
    t = plan.target
    return Preview(
        # What runs after the confirmation must still go from this revision to that one.
        pin={"from_revision": plan.current, "to_revision": t.number, "replicaset": t.name},
        summary=(
            f"deployment {params.deployment} in {params.namespace}: revision {plan.current} → {t.number} "
            f"(image {_images(plan.deployment)} → {_images(t)})"
        ),
        details=[
            f"revision {t.number}: {t.change_cause or 'no change-cause recorded'}, from {age(t.created)} ago "
            f"(ReplicaSet {t.name})",
            f"known revisions: {', '.join(map(str, plan.known))}",
            f"cluster {cluster_name(ctx)}",
        ],
    )


def _pointer(key: str) -> str:
    """A JSON pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`."""
    return key.replace("~", "~0").replace("/", "~1")


def _pinned_plan(ctx: Context[ApiClient], params: UndoParams, pin: Pin) -> _Plan:
    """The plan, refused with what changed when the deployment is not where the preview saw it."""
    ns, name = params.namespace, params.deployment
    was, to = pin.get("from_revision"), pin.get("to_revision")
    shown = f"the confirmed preview showed revision {was} → {to}"
    dep = read_deployment(ctx, ns, name)
    now = revision_of(dep)
    if now != was:
        raise TargetMoved(
            f"deployment {name} in {ns} moved on since the preview: it is at revision {now} now, and "
            f"{shown}. Nothing was changed; ask again for a fresh preview."
        )
    try:
        plan = _plan(ctx, params)
    except InvalidRequest as exc:
        raise TargetMoved(f"{exc}; {shown}. Nothing was changed; ask again for a fresh preview.") from None
    if plan.target.number != to or plan.target.name != pin.get("replicaset", plan.target.name):
        raise TargetMoved(
            f"deployment {name} in {ns}: revision {to} is now ReplicaSet {plan.target.name}, not "
            f"{pin.get('replicaset')}; {shown}. Nothing was changed; ask again for a fresh preview."
        )
    return plan


def _raw_template(ctx: Context[ApiClient], namespace: str, rs_name: str) -> dict[str, Any]:
    """The ReplicaSet's pod template exactly as the server stores it (no model round trip)."""
    from kubernetes.client import AppsV1Api

    resp: Any = call(
        ctx,
        Call("get", "replicasets", "apps", namespace, rs_name),
        AppsV1Api(ctx.client).read_namespaced_replica_set,
        rs_name,
        namespace,
        _preload_content=False,
    )
    try:
        template = json.loads(resp.data)["spec"]["template"]
    except (ValueError, KeyError, TypeError):
        raise HandlerError(
            f"replica set {rs_name} in {namespace}: the API server sent no pod template"
        ) from None
    if not isinstance(template, dict):
        raise HandlerError(f"replica set {rs_name} in {namespace}: the API server sent no pod template")
    return template


@handler(
    "k8s.rollout_undo",
    UndoParams,
    client=Client.KUBERNETES,
    destructive=True,
    preview=preview_undo,
    sub="rollout undo",
)
def rollout_undo(ctx: Context[ApiClient], params: UndoParams) -> KeyValues:
    """Roll a deployment back to its previous revision, or to `--to-revision N`, as kubectl does.

    `/k8s rollout undo deploy/backend -n prod`, `/k8s rollout undo deploy/backend
    --to-revision 1 -n prod`. An unknown revision is refused with the known ones listed. Runs
    after confirmation.
    """
    ns, name = params.namespace, params.deployment
    pin = pinned(ctx)
    if pin is not None:
        # Exactly the revisions the confirmed preview showed, or nothing.
        params = params.model_copy(update={"to_revision": pin.get("to_revision")})
        plan = _pinned_plan(ctx, params, pin)
    else:
        plan = _plan(ctx, params)
    template = _raw_template(ctx, ns, plan.target.name)
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    dep_annotations = (plan.deployment.metadata.annotations if plan.deployment.metadata else None) or {}
    rs_meta = plan.target.replicaset.metadata
    annotations = {k: v for k, v in dep_annotations.items() if k in ANNOTATIONS_TO_SKIP}
    annotations.update(
        {
            k: v
            for k, v in ((rs_meta.annotations if rs_meta else None) or {}).items()
            if k not in ANNOTATIONS_TO_SKIP
        }
    )
    patch: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]
    if pin is not None and plan.current is not None:
        # The API server applies the patch only if the deployment is still at the pinned
        # revision: a deploy landing between our read and our write makes it refuse (422).
        test = {
            "op": "test",
            "path": "/metadata/annotations/" + _pointer(REVISION),
            "value": str(plan.current),
        }
        patch.insert(0, test)
    try:
        patch_deployment(ctx, ns, name, patch)
    except HandlerError:
        if pin is not None:
            _pinned_plan(ctx, params, pin)  # raises TargetMoved naming the new revision
        raise
    t = plan.target
    return KeyValues(
        title=f"Deployment {name} in {ns} on cluster {cluster_name(ctx)} rolled back to revision {t.number}",
        items=[
            ("From revision", str(plan.current)),
            ("To revision", f"{t.number} ({t.change_cause or 'no change-cause'})"),
            ("Image", f"{_images(plan.deployment)} → {_images(t)}"),
            ("Follow it", f"/k8s rollout status deploy/{name} -n {ns}"),
        ],
        values={"from_revision": plan.current, "to_revision": t.number, "image": _images(t)},
    )
