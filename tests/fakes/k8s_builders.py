"""Builders of realistic Kubernetes objects (plain dicts) for the fake API server.

Each builder fills every field the official client's (pydantic) models require: container
statuses carry `imageID`, nodes every `nodeInfo` field, HPA metrics their targets, and so on.
`tests.fakes.k8s_fixtures.populate` uses them to build a cluster where things are going wrong.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.k8s_api import iso
from tests.fakes.k8s_ops import HASH_LABEL, REVISION, template_hash

Obj = dict[str, Any]
REGISTRY = "registry.example.com"


def ago(delta: timedelta) -> str:
    return iso(datetime.now(UTC) - delta)


# --- containers ----------------------------------------------------------------------------


def container(
    name: str = "app",
    image: str = f"{REGISTRY}/backend:1.2",
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = 8080,
) -> Obj:
    spec: Obj = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec["resources"] = resources
    if env:
        spec["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port:
        spec["ports"] = [{"containerPort": port, "protocol": "TCP", "name": "http"}]
    return spec


def running(since: timedelta = timedelta(hours=2)) -> Obj:
    return {"running": {"startedAt": ago(since)}}


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, "message": message}}


def terminated(
    reason: str, exit_code: int, finished: timedelta = timedelta(minutes=1), signal: int | None = None
) -> Obj:
    state: Obj = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": ago(finished + timedelta(minutes=3)),
        "finishedAt": ago(finished),
        "containerID": "containerd://" + "0" * 64,
    }
    if signal is not None:
        state["signal"] = signal
    return {"terminated": state}


def cstatus(
    spec: Obj,
    state: Obj,
    *,
    ready: bool = False,
    restarts: int = 0,
    last: Obj | None = None,
    started: bool | None = None,
) -> Obj:
    """A container status for a container spec, with the fields the client requires."""
    image = spec["image"]
    return {
        "name": spec["name"],
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{'ab' * 32}" if "waiting" not in state else "",
        "containerID": "containerd://" + "1" * 64,
        "ready": ready,
        "started": started if started is not None else "running" in state,
        "restartCount": restarts,
        "state": state,
        "lastState": last or {},
    }


# --- workloads ------------------------------------------------------------------------------


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def make_pod(
    name: str,
    namespace: str = "prod",
    *,
    containers: list[tuple[Obj, Obj | None]],
    labels: dict[str, str] | None = None,
    node: str | None = "node-1",
    phase: str = "Running",
    owner: Obj | None = None,
    age: timedelta = timedelta(hours=2),
    init: list[tuple[Obj, Obj | None]] | None = None,
    conditions: list[Obj] | None = None,
    ip: str = "10.244.1.10",
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A pod from (container spec, container status) pairs; conditions follow the statuses."""
    statuses = [s for _c, s in containers if s is not None]
    all_ready = bool(statuses) and all(s["ready"] for s in statuses) and len(statuses) == len(containers)
    if conditions is None:
        scheduled = node is not None
        conditions = [
            {
                "type": "PodScheduled",
                "status": "True" if scheduled else "False",
                "lastTransitionTime": ago(age),
                **(
                    {}
                    if scheduled
                    else {
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }
                ),
            },
        ]
        if scheduled:
            conditions += [
                {
                    "type": "Initialized",
                    "status": "True" if not init else "False",
                    "lastTransitionTime": ago(age),
                },
                {"type": "ContainersReady", "status": str(all_ready), "lastTransitionTime": ago(age)},
                {"type": "Ready", "status": str(all_ready), "lastTransitionTime": ago(age)},
            ]
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": labels or {},
        "creationTimestamp": ago(age),
    }
    if annotations:
        meta["annotations"] = annotations
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    spec: Obj = {
        "containers": [c for c, _s in containers],
        "restartPolicy": "Always" if phase != "Succeeded" else "Never",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
    }
    if node is not None:
        spec["nodeName"] = node
    if init:
        spec["initContainers"] = [c for c, _s in init]
    status: Obj = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
    if node is not None:
        status.update({"hostIP": "192.168.1.11", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": ago(age)})
        status["containerStatuses"] = statuses
        if init:
            status["initContainerStatuses"] = [s for _c, s in init if s is not None]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def pod_template(
    labels: dict[str, str], containers: list[Obj], annotations: dict[str, str] | None = None
) -> Obj:
    meta: Obj = {"labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "metadata": meta,
        "spec": {"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
    }


def make_deployment(
    name: str,
    namespace: str,
    template: Obj,
    *,
    replicas: int = 3,
    revision: int = 1,
    ready: int | None = None,
    updated: int | None = None,
    available: int | None = None,
    change_cause: str | None = None,
    conditions: list[Obj] | None = None,
    age: timedelta = timedelta(days=30),
) -> Obj:
    labels = template["metadata"]["labels"]
    ready = replicas if ready is None else ready
    available = ready if available is None else available
    annotations = {REVISION: str(revision)}
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    status: Obj = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas if updated is None else updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": conditions
        or [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": ago(timedelta(hours=2)),
                "lastTransitionTime": ago(timedelta(hours=2)),
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}" has successfully progressed.',
                "lastUpdateTime": ago(timedelta(hours=2)),
                "lastTransitionTime": ago(timedelta(days=1)),
            },
        ],
    }
    if replicas - available > 0:
        status["unavailableReplicas"] = replicas - available
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": annotations,
            "creationTimestamp": ago(age),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": copy.deepcopy(template),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": status,
    }


def make_replicaset(
    deployment: Obj,
    template: Obj,
    revision: int,
    *,
    replicas: int = 0,
    age: timedelta = timedelta(days=1),
    change_cause: str | None = None,
) -> Obj:
    """A ReplicaSet owned by `deployment` (as stored, with its uid) for one revision."""
    h = template_hash(template)
    tpl = copy.deepcopy(template)
    tpl["metadata"].setdefault("labels", {})[HASH_LABEL] = h
    selector = copy.deepcopy(deployment["spec"]["selector"])
    selector["matchLabels"][HASH_LABEL] = h
    annotations = {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(replicas)}
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{h}",
            "namespace": meta["namespace"],
            "labels": tpl["metadata"]["labels"],
            "annotations": annotations,
            "ownerReferences": [owner_ref(deployment)],
            "creationTimestamp": ago(age),
        },
        "spec": {"replicas": replicas, "selector": selector, "template": tpl},
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "observedGeneration": 1,
        },
    }
