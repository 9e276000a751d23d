"""Pod STATUS / READY / RESTARTS derived as `kubectl get pods` derives them (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import V1Pod

from handlers.k8s.fmt import human_duration
from handlers.k8s.status import pod_state


def pod(
    containers: list[dict[str, Any]],
    *,
    init: list[dict[str, Any]] | None = None,
    init_specs: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    reason: str | None = None,
) -> V1Pod:
    spec: dict[str, Any] = {"containers": [{"name": c["name"]} for c in containers] or [{"name": "app"}]}
    if init_specs is not None:
        spec["initContainers"] = init_specs
    status: dict[str, Any] = {"phase": phase, "containerStatuses": containers, "conditions": conditions or []}
    if init is not None:
        status["initContainerStatuses"] = init
    if reason:
        status["reason"] = reason
    meta: dict[str, Any] = {"name": "p", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    built = V1Pod.from_dict({"metadata": meta, "spec": spec, "status": status})
    assert built is not None
    return built


def cs(
    name: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "image": "img",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        **extra,
    }


RUNNING = {"running": {"startedAt": "2024-01-01T00:00:00Z"}}


def test_running_and_ready() -> None:
    s = pod_state(pod([cs("app", RUNNING, ready=True)]))
    assert (s.status, s.ready, s.total, s.healthy) == ("Running", 1, 1, True)


def test_a_waiting_reason_wins_over_the_phase() -> None:
    s = pod_state(pod([cs("app", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4)]))
    assert (s.status, s.restarts, s.unhealthy) == ("CrashLoopBackOff", 4, True)


def test_terminated_without_reason_shows_signal_or_exit_code() -> None:
    assert pod_state(pod([cs("app", {"terminated": {"exitCode": 2}})])).status == "ExitCode:2"
    assert pod_state(pod([cs("app", {"terminated": {"exitCode": 137, "signal": 9}})])).status == "Signal:9"


def test_completed_with_a_container_still_running_is_running_or_not_ready() -> None:
    both = [cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}), cs("b", RUNNING, ready=True)]
    ready = [{"type": "Ready", "status": "True"}]
    assert pod_state(pod(both, conditions=ready)).status == "Running"
    assert pod_state(pod(both)).status == "NotReady"


@pytest.mark.parametrize(
    ("init_state", "expected"),
    [
        ({"waiting": {"reason": "PodInitializing"}}, "Init:0/1"),
        ({"waiting": {"reason": "CrashLoopBackOff"}}, "Init:CrashLoopBackOff"),
        ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Init:Error"),
        ({"terminated": {"exitCode": 3}}, "Init:ExitCode:3"),
        (RUNNING, "Init:0/1"),
    ],
)
def test_init_containers(init_state: dict[str, Any], expected: str) -> None:
    p = pod(
        [cs("app", {"waiting": {"reason": "PodInitializing"}})],
        init=[cs("migrate", init_state)],
        init_specs=[{"name": "migrate"}],
        phase="Pending",
    )
    assert pod_state(p).status == expected


def test_sidecars_count_as_containers_and_their_restarts_count() -> None:
    p = pod(
        [cs("app", RUNNING, ready=True)],
        init=[cs("proxy", RUNNING, ready=True, restarts=2, started=True)],
        init_specs=[{"name": "proxy", "restartPolicy": "Always"}],
        conditions=[{"type": "Initialized", "status": "True"}],
    )
    s = pod_state(p)
    assert (s.status, s.ready, s.total, s.restarts) == ("Running", 2, 2, 2)


def test_deleted_pods_are_terminating_or_unknown_when_the_node_is_lost() -> None:
    assert pod_state(pod([cs("app", RUNNING, ready=True)], deleting=True)).status == "Terminating"
    lost = pod([cs("app", RUNNING, ready=True)], deleting=True, reason="NodeLost")
    assert pod_state(lost).status == "Unknown"
    done = pod(
        [cs("app", {"terminated": {"exitCode": 0, "reason": "Completed"}})], phase="Succeeded", deleting=True
    )
    assert pod_state(done).status == "Completed"


def test_evicted_pods_show_the_status_reason() -> None:
    s = pod_state(pod([], phase="Failed", reason="Evicted"))
    assert (s.status, s.unhealthy) == ("Evicted", True)


def test_scheduling_gated() -> None:
    gated = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert pod_state(pod([], phase="Pending", conditions=gated)).status == "SchedulingGated"


def test_oomkilled_now_or_last_time() -> None:
    last = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    s = pod_state(pod([cs("app", {"waiting": {"reason": "CrashLoopBackOff"}}, lastState=last)]))
    assert s.oomkilled is True
    assert s.status == "CrashLoopBackOff"


AGES = [(45, "45s"), (119, "119s"), (330, "5m30s"), (600, "10m"), (5700, "95m"), (19800, "5h30m")]
AGES += [
    (108000, "30h"),
    (277200, "3d5h"),
    (12 * 86400, "12d"),
    (800 * 86400, "2y70d"),
    (9 * 365 * 86400, "9y"),
]


@pytest.mark.parametrize(("seconds", "shown"), AGES)
def test_ages_read_like_kubectl(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown
