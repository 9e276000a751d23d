"""Kubernetes runbook handlers (`/k8s`): importing this module registers every one of them.

The handlers live in `handlers.k8s` by concern; each talks to the cluster through the
official client it gets in `Context.client` (a `kubernetes.client.ApiClient`), never through
a shell or kubectl.
"""

from __future__ import annotations

from handlers.k8s import (
    actions,
    describe,
    events,
    hpa,
    logs,
    network,
    nodes,
    pods,
    rollback,
    rollout,
    top,
)

MODULES = (pods, events, logs, describe, top, network, hpa, nodes, rollout, rollback, actions)
