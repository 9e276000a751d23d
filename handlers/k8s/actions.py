"""`/k8s scale`, `/k8s set image`, `/k8s delete pod`: fixes that run after confirmation."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from handlers import Client, Context, handler
from handlers.errors import Forbidden, HandlerError, InvalidRequest, TargetMoved
from handlers.k8s.errors import ApiNotServed, Call, call, cluster_name
from handlers.k8s.refs import (
    SERVICE_HELP,
    ContainerName,
    DeploymentName,
    NamespacedParams,
    PodName,
    check_label,
)
from handlers.k8s.status import pod_state
from handlers.k8s.workloads import patch_deployment, read_deployment
from handlers.params import arg
from handlers.pin import pinned
from handlers.results import KeyValues, Pin, Preview

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import (
        ApiClient,
        V1Deployment,
        V1Pod,
        V1Scale,
    )

# --- scale --------------------------------------------------------------------------------


class ScaleParams(NamespacedParams):
    deployment: DeploymentName = arg(..., positional=True, help="the deployment: NAME or deploy/NAME")
    replicas: Annotated[int, Field(ge=0, le=100_000)] = arg(
        ..., positional=True, flags=("--replicas",), help="the new number of replicas"
    )
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)


def _scale_plan(ctx: Context[ApiClient], params: ScaleParams, pin: Pin | None = None) -> int:
    """The current replicas, read through the scale subresource; refuses what is out of bounds,
    and, for a confirmed action, a count other than the one its preview showed."""
    from kubernetes.client import AppsV1Api

    ns, name = params.namespace, params.deployment
    lo, hi = int(ctx.options.get("scale_min", 0)), int(ctx.options.get("scale_max", 50))
    if not lo <= params.replicas <= hi:
        raise InvalidRequest(
            f"deployment {name} in {ns}: {params.replicas} replicas is outside the allowed {lo}–{hi} "
            "(limits.scale in chatops.yaml)"
        )
    scale: V1Scale = call(
        ctx,
        Call("get", "deployments/scale", "apps", ns, name),
        AppsV1Api(ctx.client).read_namespaced_deployment_scale,
        name,
        ns,
    )
    current = (scale.spec.replicas if scale.spec else None) or 0
    if pin is not None and pin.get("replicas") != current:
        raise TargetMoved(
            f"deployment {name} in {ns} moved on since the preview: it has {current} replicas now, and "
            f"the confirmed preview showed {pin.get('replicas')} → {params.replicas} (someone else or an "
            "autoscaler scaled it). Nothing was changed; ask again for a fresh preview."
        )
    if current == params.replicas:
        raise InvalidRequest(f"deployment {name} in {ns} already has {current} replicas: nothing to change")
    return current


def _autoscaler_of(ctx: Context[ApiClient], namespace: str, deployment: str) -> str | None:
    """The HPA managing this deployment, if any (it would undo a manual scale)."""
    from kubernetes.client import AutoscalingV2Api

    try:
        hpas = call(
            ctx,
            Call("list", "horizontalpodautoscalers", "autoscaling", namespace),
            AutoscalingV2Api(ctx.client).list_namespaced_horizontal_pod_autoscaler,
            namespace,
        ).items
    except (Forbidden, ApiNotServed):
        return None  # only a warning in a preview: never block the fix on it
    for h in hpas:
        ref = h.spec.scale_target_ref if h.spec else None
        if ref is not None and ref.kind == "Deployment" and ref.name == deployment:
            spec = h.spec
            hpa = h.metadata.name if h.metadata else "?"
            return f"HPA {hpa} (min {spec.min_replicas or 1}, max {spec.max_replicas})"
    return None


def preview_scale(ctx: Context[ApiClient], params: ScaleParams) -> Preview:
    current = _scale_plan(ctx, params)
    details = []
    if params.replicas == 0:
        details.append(
            f"every pod of {params.deployment} stops: its service has no endpoints until scaled up again"
        )
    hpa = _autoscaler_of(ctx, params.namespace, params.deployment)
    if hpa:
        details.append(f"{hpa} manages this deployment and will move the count back within its bounds")
    details.append(f"cluster {cluster_name(ctx)}")
    return Preview(
        summary=(
            f"deployment {params.deployment} in {params.namespace}: replicas {current} → {params.replicas}"
        ),
        details=details,
        pin={"replicas": current},
    )


@handler(
    "k8s.scale", ScaleParams, client=Client.KUBERNETES, destructive=True, preview=preview_scale, sub="scale"
)
def scale(ctx: Context[ApiClient], params: ScaleParams) -> KeyValues:
    """Scale a deployment through its scale subresource, within limits.scale from chatops.yaml.

    `/k8s scale deploy/backend 5 -n prod`, `/k8s scale backend --replicas 0 -n prod`. The
    preview shows current → new replicas; runs after confirmation.
    """
    from kubernetes.client import AppsV1Api

    ns, name = params.namespace, params.deployment
    pin = pinned(ctx)
    current = _scale_plan(ctx, params, pin)
    body: object = {"spec": {"replicas": params.replicas}}
    if pin is not None:
        # Applied only if the count is still the previewed one: a scale landing between our
        # read and our write makes the API server refuse the patch (422).
        body = [
            {"op": "test", "path": "/spec/replicas", "value": current},
            {"op": "replace", "path": "/spec/replicas", "value": params.replicas},
        ]
    try:
        done: V1Scale = call(
            ctx,
            Call("patch", "deployments/scale", "apps", ns, name),
            AppsV1Api(ctx.client).patch_namespaced_deployment_scale,
            name,
            ns,
            body,
        )
    except HandlerError:
        if pin is not None:
            _scale_plan(ctx, params, pin)  # raises TargetMoved naming the new count
        raise
    now = (done.spec.replicas if done.spec else None) or 0
    return KeyValues(
        title=f"Deployment {name} in {ns} on cluster {cluster_name(ctx)} scaled",
        items=[
            ("Replicas", f"{current} → {now}"),
            ("Follow it", f"/k8s rollout status deploy/{name} -n {ns}"),
        ],
        values={"previous_replicas": current, "replicas": now},
    )


# --- set image ----------------------------------------------------------------------------

# An image reference: [registry[:port]/]path[:tag][@sha256:digest]
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


def _image_spec(value: str) -> str:
    container, eq, image = value.rpartition("=")
    if eq:
        check_label(container)
    if len(image) > 512 or not _IMAGE.match(image):
        raise ValueError(f"{image!r} is not an image reference (registry/name:tag or name@sha256:digest)")
    return value


class SetImageParams(NamespacedParams):
    deployment: DeploymentName = arg(..., positional=True, help="the deployment: NAME or deploy/NAME")
    image: Annotated[str, AfterValidator(_image_spec)] = arg(
        ..., positional=True, help="CONTAINER=IMAGE, or IMAGE when the pod has one container"
    )
    container: ContainerName | None = arg(
        None, flags=("-c", "--container"), help="the container (or CONTAINER=IMAGE)"
    )
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)

    def pair(self) -> tuple[str | None, str]:
        container, eq, image = self.image.rpartition("=")
        return (container if eq else self.container), image


def _image_plan(ctx: Context[ApiClient], params: SetImageParams) -> tuple[V1Deployment, str, str, str, str]:
    """(deployment, field, container, old image, new image); refuses an unknown container."""
    ns, name = params.namespace, params.deployment
    dep = read_deployment(ctx, ns, name)
    tpl = dep.spec.template.spec if dep.spec else None
    lists = {
        "containers": (tpl.containers if tpl else []),
        "initContainers": (tpl.init_containers if tpl else None) or [],
    }
    wanted, image = params.pair()
    names = [c.name for cs in lists.values() for c in cs]
    if wanted is None:
        if len(lists["containers"]) != 1:
            raise InvalidRequest(
                f"deployment {name} has containers {', '.join(names)}: say which, as CONTAINER=IMAGE"
            )
        wanted = lists["containers"][0].name
    for field, cs in lists.items():
        for c in cs:
            if c.name == wanted:
                if c.image == image:
                    raise InvalidRequest(
                        f"deployment {name} in {ns}: container {wanted} already runs {image}"
                    )
                return dep, field, wanted, c.image or "", image
    raise InvalidRequest(
        f"deployment {name} in {ns} has no container {wanted!r} (it has: {', '.join(names)})"
    )


def preview_set_image(ctx: Context[ApiClient], params: SetImageParams) -> Preview:
    _dep, _field, container, old, new = _image_plan(ctx, params)
    return Preview(
        summary=(
            f"deployment {params.deployment} in {params.namespace}: container {container} image {old} → {new}"
        ),
        details=["its pods are replaced by a rolling update", f"cluster {cluster_name(ctx)}"],
    )


@handler(
    "k8s.set_image",
    SetImageParams,
    client=Client.KUBERNETES,
    destructive=True,
    preview=preview_set_image,
    sub="set image",
)
def set_image(ctx: Context[ApiClient], params: SetImageParams) -> KeyValues:
    """Set a container's image in a deployment, as `kubectl set image` does.

    `/k8s set image deploy/backend app=registry.example.com/backend:1.3 -n prod`. Runs
    after confirmation; `rollout undo` goes back.
    """
    ns, name = params.namespace, params.deployment
    _dep, field, container, old, new = _image_plan(ctx, params)
    patch = {"spec": {"template": {"spec": {field: [{"name": container, "image": new}]}}}}
    patch_deployment(ctx, ns, name, patch)
    return KeyValues(
        title=f"Deployment {name} in {ns} on cluster {cluster_name(ctx)}: image set",
        items=[
            ("Container", container),
            ("Image", f"{old} → {new}"),
            ("Follow it", f"/k8s rollout status deploy/{name} -n {ns}"),
        ],
        values={"container": container, "image": new, "previous_image": old},
    )


# --- delete pod ---------------------------------------------------------------------------


class DeletePodParams(NamespacedParams):
    pod: PodName = arg(..., positional=True, help="the pod: NAME or pod/NAME")
    grace_period: Annotated[int, Field(ge=0, le=3600)] | None = arg(
        None, flags=("--grace-period",), help="seconds to let it stop (default: the pod's own)"
    )


def _pod_plan(ctx: Context[ApiClient], params: DeletePodParams) -> tuple[V1Pod, str]:
    from kubernetes.client import CoreV1Api

    ns = params.namespace
    pod: V1Pod = call(
        ctx,
        Call("get", "pods", namespace=ns, name=params.pod),
        CoreV1Api(ctx.client).read_namespaced_pod,
        params.pod,
        ns,
    )
    owners = [o for o in ((pod.metadata.owner_references if pod.metadata else None) or []) if o.controller]
    if owners:
        fate = f"its {owners[0].kind} {owners[0].name} starts a new pod in its place"
    else:
        fate = "no controller owns it: it will NOT come back"
    return pod, fate


def preview_delete_pod(ctx: Context[ApiClient], params: DeletePodParams) -> Preview:
    pod, fate = _pod_plan(ctx, params)
    st = pod_state(pod)
    return Preview(
        summary=(
            f"pod {params.pod} in {params.namespace} ({st.status}, {st.restarts} restarts, "
            f"on {st.node}): delete"
        ),
        details=[fate, f"cluster {cluster_name(ctx)}"],
    )


@handler(
    "k8s.delete_pod",
    DeletePodParams,
    client=Client.KUBERNETES,
    destructive=True,
    preview=preview_delete_pod,
    sub="delete pod",
)
def delete_pod(ctx: Context[ApiClient], params: DeletePodParams) -> KeyValues:
    """Delete a pod (its controller starts a fresh one), as `kubectl delete pod` does.

    `/k8s delete pod backend-7d9f-x2x -n prod [--grace-period 0]`. Runs after confirmation.
    """
    from kubernetes.client import CoreV1Api

    ns = params.namespace
    pod, fate = _pod_plan(ctx, params)
    before = pod_state(pod)
    kwargs = {} if params.grace_period is None else {"grace_period_seconds": params.grace_period}
    call(
        ctx,
        Call("delete", "pods", namespace=ns, name=params.pod),
        CoreV1Api(ctx.client).delete_namespaced_pod,
        params.pod,
        ns,
        **kwargs,
    )
    return KeyValues(
        title=f"Pod {params.pod} in {ns} on cluster {cluster_name(ctx)} deleted",
        items=[("Was", f"{before.status}, {before.restarts} restarts, on {before.node}"), ("Next", fate)],
        values={"deleted": params.pod, "status": before.status, "restarts": before.restarts},
    )
