"""A pod's STATUS, READY and RESTARTS as `kubectl get pods` derives them.

Follows kubectl's printPod: a waiting or terminated container reason (CrashLoopBackOff,
ImagePullBackOff, OOMKilled, Completed, ExitCode:N) wins over the phase; init containers
show as Init:N/M or Init:REASON; sidecars (restartable init containers) count as containers;
a pod being deleted is Terminating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from handlers.k8s.fmt import age

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import V1Container, V1ContainerStatus, V1Pod

# Statuses that are healthy for a pod: running with every container ready, or finished well.
DONE = frozenset({"Completed", "Succeeded"})
IMAGE_PULL = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})


@dataclass(frozen=True)
class PodState:
    name: str
    namespace: str
    status: str
    ready: int
    total: int
    restarts: int
    last_restart: datetime | None
    created: datetime | None
    node: str
    oomkilled: bool  # the current or the last termination was OOMKilled

    @property
    def terminating(self) -> bool:
        return self.status == "Terminating"

    @property
    def healthy(self) -> bool:
        return (self.status == "Running" and self.ready == self.total) or self.status in DONE

    @property
    def unhealthy(self) -> bool:
        return not self.healthy and not self.terminating

    def restarts_text(self) -> str:
        if self.restarts and self.last_restart is not None:
            return f"{self.restarts} ({age(self.last_restart)} ago)"
        return str(self.restarts)


def _restartable(container: V1Container | None) -> bool:
    return container is not None and container.restart_policy == "Always"


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _last_finished(cs: V1ContainerStatus) -> datetime | None:
    last = cs.last_state.terminated if cs.last_state else None
    return last.finished_at if last else None


def _oom(cs: V1ContainerStatus) -> bool:
    now = cs.state.terminated if cs.state else None
    last = cs.last_state.terminated if cs.last_state else None
    return any(t is not None and t.reason == "OOMKilled" for t in (now, last))


def pod_state(pod: V1Pod) -> PodState:
    """READY, STATUS and RESTARTS of one pod, as kubectl shows them."""
    meta, spec, st = pod.metadata, pod.spec, pod.status
    phase = (st.phase if st else None) or "Unknown"
    reason = (st.reason if st and st.reason else None) or phase
    conditions = (st.conditions if st else None) or []
    if any(c.type == "PodScheduled" and c.reason == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_specs = {c.name: c for c in (spec.init_containers if spec else None) or []}
    total = len(spec.containers) if spec else 0
    total += sum(1 for c in init_specs.values() if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None
    initializing = False
    init_statuses = (st.init_container_statuses if st else None) or []
    for i, cs in enumerate(init_statuses):
        restarts += cs.restart_count
        last = _later(last, _last_finished(cs))
        sidecar = _restartable(init_specs.get(cs.name))
        if sidecar:
            sidecar_restarts += cs.restart_count
            sidecar_last = _later(sidecar_last, _last_finished(cs))
        term = cs.state.terminated if cs.state else None
        waiting = cs.state.waiting if cs.state else None
        if term is not None and term.exit_code == 0:
            continue
        if sidecar and cs.started:
            ready += 1 if cs.ready else 0
            continue
        if term is not None:
            if term.reason:
                reason = f"Init:{term.reason}"
            elif term.signal:
                reason = f"Init:Signal:{term.signal}"
            else:
                reason = f"Init:ExitCode:{term.exit_code}"
        elif waiting is not None and waiting.reason and waiting.reason != "PodInitializing":
            reason = f"Init:{waiting.reason}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.type == "Initialized" and c.status == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed((st.container_statuses if st else None) or []):
            restarts += cs.restart_count
            last = _later(last, _last_finished(cs))
            term = cs.state.terminated if cs.state else None
            waiting = cs.state.waiting if cs.state else None
            if waiting is not None and waiting.reason:
                reason = waiting.reason
            elif term is not None and term.reason:
                reason = term.reason
            elif term is not None:
                reason = f"Signal:{term.signal}" if term.signal else f"ExitCode:{term.exit_code}"
            elif cs.ready and cs.state is not None and cs.state.running is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"
    deleting = meta is not None and meta.deletion_timestamp is not None
    if deleting and st is not None and st.reason == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    oom = any(_oom(cs) for cs in [*init_statuses, *((st.container_statuses if st else None) or [])])
    return PodState(
        name=(meta.name if meta else None) or "",
        namespace=(meta.namespace if meta else None) or "",
        status=reason,
        ready=ready,
        total=total,
        restarts=restarts,
        last_restart=last,
        created=meta.creation_timestamp if meta else None,
        node=(spec.node_name if spec else None) or "<none>",
        oomkilled=oom,
    )
