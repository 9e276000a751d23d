"""The fake Kubernetes API server's vocabulary: kinds, recorded requests, Status errors, pod logs.

Split from `tests.fakes.k8s` (the server and its store) to keep each file readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.k8s_ops import Obj, selector_to_string


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("Namespace", "", "v1", "namespaces", namespaced=False),
        Kind("Node", "", "v1", "nodes", namespaced=False),
        Kind("Pod", "", "v1", "pods"),
        Kind("Service", "", "v1", "services"),
        Kind("Endpoints", "", "v1", "endpoints"),
        Kind("Event", "", "v1", "events"),
        Kind("Deployment", "apps", "v1", "deployments"),
        Kind("ReplicaSet", "apps", "v1", "replicasets"),
        Kind("Ingress", "networking.k8s.io", "v1", "ingresses"),
        Kind("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers"),
        Kind("PodMetrics", "metrics.k8s.io", "v1beta1", "pods"),
        Kind("NodeMetrics", "metrics.k8s.io", "v1beta1", "nodes", namespaced=False),
    )
}
BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS.values()}
METRICS_GROUP = "metrics.k8s.io"
SERVICE_ACCOUNT = "system:serviceaccount:chatops:chatops"


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Request:
    """One request the fake received, described in RBAC terms (verb, group, resource)."""

    method: str
    path: str
    query: dict[str, str]
    verb: str
    group: str
    resource: str  # plural, or plural/subresource ("pods/log", "deployments/scale")
    namespace: str | None
    name: str | None
    content_type: str
    body: Any


class ApiError(Exception):
    """Raised inside the router to answer at once with a status body."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.details = status, reason, message, details or {}

    def body(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.status,
        }


REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


Log = list[tuple[datetime, str]]


def read_log(
    pod: Obj | None, name: str, logs: Mapping[tuple[str, bool], Log], query: Mapping[str, str]
) -> str:
    """A pod's log as GET .../pods/NAME/log answers: container, previous, sinceSeconds, tailLines."""
    if pod is None:
        raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
    spec = pod["spec"]
    names = [c["name"] for c in spec.get("containers", [])]
    every = names + [c["name"] for c in spec.get("initContainers") or []]
    container = query.get("container")
    if container is None:
        if len(names) > 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]",
            )
        container = names[0]
    if container not in every:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    previous = query.get("previous") in ("true", "1")
    lines = logs.get((container, previous))
    if lines is None:
        if previous:
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        waiting = next(
            (
                s["state"]["waiting"]
                for s in statuses
                if s["name"] == container and "waiting" in s.get("state", {})
            ),
            None,
        )
        if waiting is not None:
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: '
                + str(waiting.get("reason", "")),
            )
        lines = []
    if "sinceSeconds" in query:
        cutoff = datetime.now(UTC) - timedelta(seconds=int(query["sinceSeconds"]))
        lines = [item for item in lines if item[0] >= cutoff]
    if "tailLines" in query:
        tail = int(query["tailLines"])
        lines = lines[-tail:] if tail > 0 else []
    stamp = query.get("timestamps") in ("true", "1")
    text = "".join(f"{iso(ts)} {line}\n" if stamp else f"{line}\n" for ts, line in lines)
    if "limitBytes" in query:
        text = text[: int(query["limitBytes"])]
    return text


def scale_of(dep: Obj) -> Obj:
    """The autoscaling/v1 Scale a deployment's scale subresource shows."""
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: dep["metadata"][k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": dep["spec"].get("replicas", 1)},
        "status": {
            "replicas": (dep.get("status") or {}).get("replicas", 0),
            "selector": selector_to_string(dep["spec"]["selector"]),
        },
    }
