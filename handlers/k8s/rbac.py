"""The Kubernetes API calls each /k8s handler makes, in RBAC terms: (verb, API group, resource).

`deploy/kubernetes/rbac.yaml` grants exactly these: its read-only ClusterRole holds the union
of the read-only handlers' calls, its operator ClusterRole what the destructive ones need on
top (their previews included). A test runs every handler against the fake API server and
checks that each request it makes is listed here, and that the manifest matches this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Rule = tuple[str, str, str]  # (verb, api group, resource); group "" is the core group

CORE, APPS, AUTOSCALING = "", "apps", "autoscaling"
NETWORKING, METRICS = "networking.k8s.io", "metrics.k8s.io"
HPA = "horizontalpodautoscalers"


def _rules(*rules: Rule) -> frozenset[Rule]:
    return frozenset(rules)


API_CALLS: Mapping[str, frozenset[Rule]] = {
    "k8s.pods": _rules(("list", CORE, "pods"), ("get", APPS, "deployments")),
    "k8s.events": _rules(("list", CORE, "events")),
    "k8s.logs": _rules(
        ("get", CORE, "pods"), ("get", APPS, "deployments"), ("list", CORE, "pods"), ("get", CORE, "pods/log")
    ),
    "k8s.describe": _rules(
        ("get", CORE, "pods"),
        ("list", CORE, "events"),
        ("get", APPS, "deployments"),
        ("list", APPS, "replicasets"),
    ),
    "k8s.top": _rules(
        ("list", METRICS, "pods"), ("list", METRICS, "nodes"), ("list", CORE, "pods"), ("list", CORE, "nodes")
    ),
    "k8s.svc": _rules(("get", CORE, "services"), ("list", CORE, "services")),
    "k8s.endpoints": _rules(("get", CORE, "endpoints"), ("list", CORE, "endpoints")),
    "k8s.ingress": _rules(("get", NETWORKING, "ingresses"), ("list", NETWORKING, "ingresses")),
    "k8s.hpa": _rules(("get", AUTOSCALING, HPA), ("list", AUTOSCALING, HPA)),
    "k8s.nodes": _rules(("get", CORE, "nodes"), ("list", CORE, "nodes")),
    "k8s.rollout_status": _rules(("get", APPS, "deployments")),
    "k8s.rollout_history": _rules(("get", APPS, "deployments"), ("list", APPS, "replicasets")),
    # Destructive handlers, previews included.
    "k8s.rollout_restart": _rules(("get", APPS, "deployments"), ("patch", APPS, "deployments")),
    "k8s.rollout_undo": _rules(
        ("get", APPS, "deployments"),
        ("list", APPS, "replicasets"),
        ("get", APPS, "replicasets"),
        ("patch", APPS, "deployments"),
    ),
    "k8s.scale": _rules(
        ("get", APPS, "deployments/scale"), ("patch", APPS, "deployments/scale"), ("list", AUTOSCALING, HPA)
    ),
    "k8s.set_image": _rules(("get", APPS, "deployments"), ("patch", APPS, "deployments")),
    "k8s.patch_hpa": _rules(("get", AUTOSCALING, HPA), ("patch", AUTOSCALING, HPA)),
    "k8s.delete_pod": _rules(("get", CORE, "pods"), ("delete", CORE, "pods")),
}


def union(rules: Iterable[frozenset[Rule]]) -> frozenset[Rule]:
    out: set[Rule] = set()
    for r in rules:
        out |= r
    return frozenset(out)


def role_rules(destructive: Iterable[str]) -> tuple[frozenset[Rule], frozenset[Rule]]:
    """(read-only role, operator role): the operator role adds only what reads do not cover."""
    chosen = set(destructive)
    read = union(v for k, v in API_CALLS.items() if k not in chosen)
    operate = union(v for k, v in API_CALLS.items() if k in chosen) - read
    return read, operate
