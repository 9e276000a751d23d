"""A populated fake cluster where things are going wrong, for handler and scenario tests.

    with FakeKube() as kube:
        scenario = populate(kube)
        scenario.crashloop        # the name of the CrashLoopBackOff pod in prod

Namespace `prod`:
- deployment `backend` (3 replicas, 2 available) with ReplicaSet revisions 1, 2 and 3
  (images backend:1.0, 1.1, 1.2, each with its own env), owned by the deployment; its pods
  are Running, Running with 1 restart, and CrashLoopBackOff (last terminated OOMKilled);
- deployment `worker` whose pod is in ImagePullBackOff; a pod `cache-warmer` just OOMKilled;
  a Completed job pod; a Pending pod nobody can schedule; a pod in Init:0/1; `frontend` Running;
- events (BackOff, Failed pulls, FailedScheduling, Unhealthy, ScalingReplicaSet...), logs
  (current and previous), pod metrics, services `backend`/`worker`/`frontend`, their endpoints
  (`worker` has no ready address), ingress `web` with TLS, HPAs `backend` and `worker` (at max).
Nodes: node-1 Ready, node-2 Ready with MemoryPressure, node-3 NotReady and cordoned.
Namespace `staging`: a one-replica `backend` with one Running pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_builders import (
    REGISTRY,
    Obj,
    container,
    cstatus,
    make_deployment,
    make_pod,
    make_replicaset,
    pod_template,
    running,
    terminated,
    waiting,
)
from tests.fakes.k8s_infra import (
    make_endpoints,
    make_event,
    make_hpa,
    make_ingress,
    make_node,
    make_service,
    node_metrics,
    pod_metrics,
)
from tests.fakes.k8s_ops import template_hash

REQUESTS = {"cpu": "250m", "memory": "256Mi"}
LIMITS = {"cpu": "1", "memory": "512Mi"}
BACKEND_ENV = {
    1: {"LOG_LEVEL": "debug"},
    2: {"LOG_LEVEL": "info", "FEATURE_CHECKOUT_V2": "off"},
    3: {"LOG_LEVEL": "info", "FEATURE_CHECKOUT_V2": "on"},
}
CHANGE_CAUSE = {1: "initial release 1.0", 2: "release 1.1", 3: "release 1.2: checkout v2"}


@dataclass
class Scenario:
    """Names of what `populate` created, so tests need not repeat them."""

    namespace: str = "prod"
    backend_pods: list[str] = field(default_factory=list)  # running, running (1 restart), crashloop
    crashloop: str = ""
    image_pull: str = ""
    oomkilled: str = ""
    completed: str = ""
    pending: str = ""
    init: str = ""
    frontend: str = ""
    staging_pod: str = ""
    replicasets: dict[int, str] = field(default_factory=dict)  # revision -> ReplicaSet name
    templates: dict[int, Obj] = field(default_factory=dict)  # revision -> pod template (no hash label)

    @property
    def unhealthy(self) -> list[str]:
        return [self.crashloop, self.image_pull, self.oomkilled, self.pending, self.init]


def backend_template(revision: int) -> Obj:
    image = f"{REGISTRY}/backend:1.{revision - 1}"
    return pod_template(
        {"app": "backend"},
        [container("app", image, env=BACKEND_ENV[revision], requests=REQUESTS, limits=LIMITS)],
    )


def _backend(kube: FakeKube, sc: Scenario, ns: str = "prod") -> None:
    templates = {rev: backend_template(rev) for rev in (1, 2, 3)}
    sc.templates = templates
    dep = kube.add(
        make_deployment(
            "backend", ns, templates[3], replicas=3, revision=3, ready=2, change_cause=CHANGE_CAUSE[3]
        )
    )
    ages = {1: timedelta(days=20), 2: timedelta(days=6), 3: timedelta(hours=2)}
    rs = {}
    for rev in (1, 2, 3):
        rs[rev] = kube.add(
            make_replicaset(
                dep,
                templates[rev],
                rev,
                replicas=3 if rev == 3 else 0,
                age=ages[rev],
                change_cause=CHANGE_CAUSE[rev],
            )
        )
        sc.replicasets[rev] = rs[rev]["metadata"]["name"]
    h = template_hash(templates[3])
    labels = {"app": "backend", "pod-template-hash": h}
    spec = templates[3]["spec"]["containers"][0]
    ok = kube.add(
        make_pod(
            f"backend-{h}-x7k2p",
            ns,
            labels=labels,
            owner=rs[3],
            age=timedelta(hours=1),
            ip="10.244.1.21",
            containers=[(spec, cstatus(spec, running(), ready=True))],
        )
    )
    restarted = kube.add(
        make_pod(
            f"backend-{h}-m4n8q",
            ns,
            labels=labels,
            owner=rs[3],
            node="node-2",
            ip="10.244.2.22",
            containers=[
                (
                    spec,
                    cstatus(
                        spec,
                        running(timedelta(minutes=40)),
                        ready=True,
                        restarts=1,
                        last=terminated("Error", 1, timedelta(minutes=40)),
                    ),
                )
            ],
        )
    )
    crash = kube.add(
        make_pod(
            f"backend-{h}-q9w3z",
            ns,
            labels=labels,
            owner=rs[3],
            age=timedelta(minutes=50),
            ip="10.244.1.23",
            containers=[
                (
                    spec,
                    cstatus(
                        spec,
                        waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container=app"),
                        restarts=7,
                        last=terminated("OOMKilled", 137, timedelta(minutes=2)),
                    ),
                )
            ],
        )
    )
    sc.backend_pods = [p["metadata"]["name"] for p in (ok, restarted, crash)]
    sc.crashloop = crash["metadata"]["name"]
    kube.set_logs(
        ns,
        sc.backend_pods[0],
        [
            "INFO  starting backend 1.2 on :8080",
            "INFO  connected to postgres main",
            "INFO  GET /health 200 2ms",
            "ERROR checkout failed: upstream payment timeout after 3000ms",
            "INFO  GET /api/orders 200 41ms",
            "error  retrying payment call (attempt 2)",
            "INFO  GET /health 200 1ms",
            "WARN  slow query: SELECT * FROM orders took 1200ms",
            "INFO  using DATABASE_URL=postgresql://app:s3cr3t@db:5432/main",
        ],
    )
    kube.set_logs(ns, sc.backend_pods[1], ["INFO  starting backend 1.2 on :8080", "INFO  ready"])
    kube.set_logs(ns, sc.crashloop, ["INFO  starting backend 1.2 on :8080"])
    kube.set_logs(
        ns,
        sc.crashloop,
        [
            "INFO  starting backend 1.2 on :8080",
            "INFO  loading catalogue into memory",
            "ERROR MemoryError: cannot allocate 268435456 bytes",
            "Killed",
        ],
        previous=True,
    )
    for name, (cpu, mem) in zip(
        sc.backend_pods, [("420m", "310Mi"), ("180m", "250Mi"), ("5m", "490Mi")], strict=True
    ):
        kube.add(pod_metrics(name, ns, {"app": (cpu, mem)}))
    events = [
        make_event(
            ns,
            "Pod",
            sc.crashloop,
            "BackOff",
            f"Back-off restarting failed container app in pod {sc.crashloop}",
            type="Warning",
            count=42,
            last=timedelta(seconds=30),
            first=timedelta(minutes=50),
        ),
        make_event(
            ns,
            "Pod",
            sc.crashloop,
            "OOMKilling",
            "Memory cgroup out of memory: Killed process 4242 (backend)",
            type="Warning",
            count=7,
            last=timedelta(minutes=2),
            first=timedelta(minutes=50),
        ),
        make_event(
            ns,
            "Pod",
            sc.backend_pods[1],
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            type="Warning",
            count=3,
            last=timedelta(minutes=40),
        ),
        make_event(
            ns,
            "Pod",
            sc.backend_pods[0],
            "Pulled",
            f'Container image "{REGISTRY}/backend:1.2" already present',
            last=timedelta(hours=2),
        ),
        make_event(
            ns,
            "Deployment",
            "backend",
            "ScalingReplicaSet",
            f"Scaled up replica set {rs[3]['metadata']['name']} to 3",
            last=timedelta(hours=2),
            uid=dep["metadata"]["uid"],
        ),
        make_event(
            ns,
            "Deployment",
            "backend",
            "ScalingReplicaSet",
            f"Scaled down replica set {rs[2]['metadata']['name']} to 0 from 3",
            last=timedelta(minutes=110),
            uid=dep["metadata"]["uid"],
        ),
    ]
    for ev in events:
        kube.add(ev)


def _others(kube: FakeKube, sc: Scenario, ns: str = "prod") -> None:
    wtpl = pod_template({"app": "worker"}, [container("worker", f"{REGISTRY}/worker:2.4.1-typo", port=None)])
    wdep = kube.add(make_deployment("worker", ns, wtpl, replicas=1, ready=0, available=0))
    wrs = kube.add(make_replicaset(wdep, wtpl, 1, replicas=1))
    wspec = wtpl["spec"]["containers"][0]
    worker = kube.add(
        make_pod(
            f"worker-{template_hash(wtpl)}-t5v6b",
            ns,
            labels={"app": "worker"},
            owner=wrs,
            node="node-2",
            ip="10.244.2.31",
            age=timedelta(minutes=25),
            containers=[
                (
                    wspec,
                    cstatus(wspec, waiting("ImagePullBackOff", f'Back-off pulling image "{wspec["image"]}"')),
                )
            ],
        )
    )
    sc.image_pull = worker["metadata"]["name"]
    cspec = container("warmer", f"{REGISTRY}/cache-warmer:0.9", port=None, limits={"memory": "128Mi"})
    sc.oomkilled = kube.add(
        make_pod(
            "cache-warmer-6c8d5",
            ns,
            labels={"app": "cache-warmer"},
            ip="10.244.1.41",
            containers=[
                (
                    cspec,
                    cstatus(
                        cspec,
                        terminated("OOMKilled", 137, timedelta(seconds=20)),
                        restarts=2,
                        last=terminated("OOMKilled", 137, timedelta(minutes=3)),
                    ),
                )
            ],
        )
    )["metadata"]["name"]
    jspec = container("report", f"{REGISTRY}/reports:1.0", port=None)
    sc.completed = kube.add(
        make_pod(
            "nightly-report-28391520-8kqzt",
            ns,
            labels={"job-name": "nightly-report-28391520"},
            phase="Succeeded",
            age=timedelta(hours=7),
            conditions=[{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
            containers=[(jspec, cstatus(jspec, terminated("Completed", 0, timedelta(hours=6))))],
        )
    )["metadata"]["name"]
    pspec = container("analytics", f"{REGISTRY}/analytics:3.1", requests={"memory": "64Gi"})
    sc.pending = kube.add(
        make_pod(
            "analytics-5f7b9c-2jx4d",
            ns,
            labels={"app": "analytics"},
            node=None,
            phase="Pending",
            age=timedelta(minutes=12),
            containers=[(pspec, None)],
        )
    )["metadata"]["name"]
    ispec = container("migrate", f"{REGISTRY}/migrate:1.2", port=None)
    aspec = container("api", f"{REGISTRY}/api:4.0")
    sc.init = kube.add(
        make_pod(
            "api-84d6b7c5f-ww8rt",
            ns,
            labels={"app": "api"},
            phase="Pending",
            age=timedelta(minutes=3),
            init=[(ispec, cstatus(ispec, running(timedelta(minutes=2))))],
            containers=[(aspec, cstatus(aspec, waiting("PodInitializing")))],
        )
    )["metadata"]["name"]
    fspec = container("web", f"{REGISTRY}/frontend:5.2", port=80)
    sc.frontend = kube.add(
        make_pod(
            "frontend-7b9d4-abcde",
            ns,
            labels={"app": "frontend"},
            ip="10.244.1.50",
            containers=[(fspec, cstatus(fspec, running(), ready=True))],
        )
    )["metadata"]["name"]
    kube.add(pod_metrics(sc.frontend, ns, {"web": ("35m", "96Mi")}))
    kube.add(pod_metrics(sc.oomkilled, ns, {"warmer": ("900m", "127Mi")}))
    for ev in (
        make_event(
            ns,
            "Pod",
            sc.image_pull,
            "Failed",
            f'Failed to pull image "{wspec["image"]}": not found',
            type="Warning",
            count=5,
            last=timedelta(minutes=1),
            first=timedelta(minutes=25),
        ),
        make_event(
            ns,
            "Pod",
            sc.pending,
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient memory.",
            type="Warning",
            count=12,
            last=timedelta(minutes=4),
            first=timedelta(minutes=12),
        ),
        make_event(
            ns,
            "Pod",
            sc.frontend,
            "Scheduled",
            f"Successfully assigned {ns}/{sc.frontend} to node-1",
            last=timedelta(hours=2),
        ),
    ):
        kube.add(ev)
    kube.add(make_service("backend", ns, selector={"app": "backend"}, cluster_ip="10.96.12.34"))
    kube.add(
        make_service(
            "worker", ns, selector={"app": "worker"}, port=9090, target=9090, cluster_ip="10.96.12.35"
        )
    )
    kube.add(
        make_service(
            "frontend",
            ns,
            selector={"app": "frontend"},
            type="LoadBalancer",
            cluster_ip="10.96.12.36",
            target=80,
            node_port=30080,
            lb_ip="203.0.113.10",
        )
    )
    kube.add(
        make_endpoints(
            "backend",
            ns,
            ready=[("10.244.1.21", sc.backend_pods[0]), ("10.244.2.22", sc.backend_pods[1])],
            not_ready=[("10.244.1.23", sc.crashloop)],
        )
    )
    kube.add(make_endpoints("worker", ns, ready=[], not_ready=[("10.244.2.31", sc.image_pull)], port=9090))
    kube.add(make_endpoints("frontend", ns, ready=[("10.244.1.50", sc.frontend)], port=80))
    kube.add(
        make_ingress(
            "web",
            ns,
            host="shop.example.com",
            tls_secret="shop-tls",
            address="203.0.113.10",
            paths=[("/", "frontend", 80), ("/api", "backend", 80)],
        )
    )
    kube.add(
        make_hpa("backend", ns, "backend", min_replicas=2, max_replicas=10, current=3, desired=4, cpu_now=85)
    )
    kube.add(
        make_hpa(
            "worker",
            ns,
            "worker",
            min_replicas=1,
            max_replicas=1,
            current=1,
            desired=3,
            cpu_now=None,
            limited=True,
        )
    )


def _cluster(kube: FakeKube) -> None:
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "prod"},
            "spec": {},
            "status": {"phase": "Active"},
        }
    )
    kube.add(make_node("node-1"))
    kube.add(make_node("node-2", pressure=("MemoryPressure",)))
    kube.add(make_node("node-3", ready="Unknown", unschedulable=True))
    kube.add(node_metrics("node-1", "1250m", "9Gi"))
    kube.add(node_metrics("node-2", "3100m", "15Gi"))


def _staging(kube: FakeKube, sc: Scenario) -> None:
    tpl = backend_template(3)
    dep = kube.add(make_deployment("backend", "staging", tpl, replicas=1, revision=1))
    rs = kube.add(make_replicaset(dep, tpl, 1, replicas=1))
    spec = tpl["spec"]["containers"][0]
    sc.staging_pod = kube.add(
        make_pod(
            f"backend-{template_hash(tpl)}-s7g2h",
            "staging",
            labels={"app": "backend", "pod-template-hash": template_hash(tpl)},
            owner=rs,
            containers=[(spec, cstatus(spec, running(), ready=True))],
        )
    )["metadata"]["name"]


def populate(kube: FakeKube) -> Scenario:
    """Fill `kube` with the cluster described in this module's docstring."""
    sc = Scenario()
    _cluster(kube)
    _backend(kube, sc)
    _others(kube, sc)
    _staging(kube, sc)
    return sc
