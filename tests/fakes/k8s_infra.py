"""Builders of events, services, endpoints, ingresses, HPAs, nodes and metrics (plain dicts).

Like `tests.fakes.k8s_builders`, each fills every field the official client's models require
(nodes every `nodeInfo` field, HPA metrics their targets...).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from tests.fakes.k8s_builders import Obj, ago


def make_event(
    namespace: str,
    kind: str,
    name: str,
    reason: str,
    message: str,
    *,
    type: str = "Normal",
    count: int = 1,
    last: timedelta = timedelta(minutes=1),
    first: timedelta | None = None,
    uid: str = "",
) -> Obj:
    first = first or last
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{uuid.uuid4().hex[:16]}",
            "namespace": namespace,
            "creationTimestamp": ago(first),
        },
        "involvedObject": {
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "apiVersion": "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1",
        },
        "reason": reason,
        "message": message,
        "type": type,
        "count": count,
        "firstTimestamp": ago(first),
        "lastTimestamp": ago(last),
        "source": {"component": "kubelet" if kind == "Pod" else "deployment-controller"},
        "reportingComponent": "",
        "reportingInstance": "",
    }


def make_service(
    name: str,
    namespace: str,
    *,
    selector: dict[str, str] | None,
    port: int = 80,
    target: int = 8080,
    type: str = "ClusterIP",
    cluster_ip: str = "10.96.0.10",
    lb_ip: str | None = None,
    node_port: int | None = None,
) -> Obj:
    port_spec: Obj = {"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}
    if node_port is not None:
        port_spec["nodePort"] = node_port
    spec: Obj = {"type": type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": [port_spec]}
    if selector is not None:
        spec["selector"] = selector
    status: Obj = {"loadBalancer": {"ingress": [{"ip": lb_ip}]} if lb_ip else {}}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ago(timedelta(days=30))},
        "spec": spec,
        "status": status,
    }


def make_endpoints(
    name: str,
    namespace: str,
    *,
    ready: Sequence[tuple[str, str]],
    not_ready: Sequence[tuple[str, str]] = (),
    port: int = 8080,
) -> Obj:
    """Endpoints with (ip, pod name) addresses, ready and not ready."""

    def addr(ip: str, pod: str) -> Obj:
        return {
            "ip": ip,
            "nodeName": "node-1",
            "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace},
        }

    subset: Obj = {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [addr(ip, pod) for ip, pod in ready]
    if not_ready:
        subset["notReadyAddresses"] = [addr(ip, pod) for ip, pod in not_ready]
    subsets = [subset] if ready or not_ready else []
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ago(timedelta(days=30))},
        "subsets": subsets,
    }


def make_ingress(
    name: str,
    namespace: str,
    *,
    host: str,
    paths: list[tuple[str, str, int]],
    tls_secret: str | None = None,
    ingress_class: str = "nginx",
    address: str | None = None,
) -> Obj:
    """An ingress routing (path, service, port) on one host, with optional TLS."""
    rule = {
        "host": host,
        "http": {
            "paths": [
                {
                    "path": path,
                    "pathType": "Prefix",
                    "backend": {"service": {"name": svc, "port": {"number": port}}},
                }
                for path, svc, port in paths
            ]
        },
    }
    spec: Obj = {"ingressClassName": ingress_class, "rules": [rule]}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    status: Obj = {"loadBalancer": {"ingress": [{"ip": address}]} if address else {}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ago(timedelta(days=30))},
        "spec": spec,
        "status": status,
    }


def make_hpa(
    name: str,
    namespace: str,
    target: str,
    *,
    min_replicas: int,
    max_replicas: int,
    current: int,
    desired: int,
    cpu_target: int = 70,
    cpu_now: int | None = 50,
    limited: bool = False,
) -> Obj:
    """An autoscaling/v2 HPA on a deployment, with a CPU utilization metric."""
    current_metrics = []
    if cpu_now is not None:
        current_metrics = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": cpu_now, "averageValue": f"{cpu_now * 5}m"},
                },
            }
        ]
    conditions = [
        {
            "type": "AbleToScale",
            "status": "True",
            "reason": "ReadyForNewScale",
            "message": "recommended size matches current size",
            "lastTransitionTime": ago(timedelta(hours=3)),
        },
        {
            "type": "ScalingActive",
            "status": "True",
            "reason": "ValidMetricFound",
            "message": "the HPA was able to successfully calculate a replica count from cpu resource "
            "utilization",
            "lastTransitionTime": ago(timedelta(hours=3)),
        },
        {
            "type": "ScalingLimited",
            "status": str(limited),
            "reason": "TooManyReplicas" if limited else "DesiredWithinRange",
            "message": "the desired replica count is more than the maximum replica count"
            if limited
            else "the desired count is within the acceptable range",
            "lastTransitionTime": ago(timedelta(hours=3)),
        },
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ago(timedelta(days=10))},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": current_metrics,
            "conditions": conditions,
            "lastScaleTime": ago(timedelta(minutes=20)),
        },
    }


def make_node(
    name: str,
    *,
    ready: str = "True",
    pressure: tuple[str, ...] = (),
    unschedulable: bool = False,
    cpu: str = "4",
    memory: str = "16Gi",
    role: str = "worker",
    version: str = "v1.31.2",
) -> Obj:
    """A node with every nodeInfo field; `pressure` names conditions that are True (MemoryPressure...)."""
    beat = ago(timedelta(seconds=20) if ready == "True" else timedelta(minutes=12))
    conditions = [
        {
            "type": t,
            "status": "True" if t in pressure else "False",
            "reason": f"KubeletHas{'' if t in pressure else 'No'}{t}",
            "message": f"kubelet has {'' if t in pressure else 'no '}{t}",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": ago(timedelta(hours=1) if t in pressure else timedelta(days=20)),
        }
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "reason": "KubeletReady" if ready == "True" else "NodeStatusUnknown",
            "message": "kubelet is posting ready status"
            if ready == "True"
            else "Kubelet stopped posting node status.",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": ago(timedelta(days=20) if ready == "True" else timedelta(minutes=12)),
        }
    )
    node_info = {
        "architecture": "amd64",
        "bootID": f"boot-{name}",
        "containerRuntimeVersion": "containerd://1.7.22",
        "kernelVersion": "6.1.0-25-cloud-amd64",
        "kubeProxyVersion": version,
        "kubeletVersion": version,
        "machineID": f"machine-{name}",
        "operatingSystem": "linux",
        "osImage": "Debian GNU/Linux 12 (bookworm)",
        "systemUUID": f"uuid-{name}",
    }
    capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
    allocatable = {"cpu": f"{int(cpu) * 1000 - 100}m", "memory": memory, "pods": "110"}
    spec: Obj = {"podCIDR": "10.244.1.0/24"}
    if unschedulable:
        spec["unschedulable"] = True
        spec["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {f"node-role.kubernetes.io/{role}": "", "kubernetes.io/hostname": name},
            "creationTimestamp": ago(timedelta(days=60)),
        },
        "spec": spec,
        "status": {
            "conditions": conditions,
            "nodeInfo": node_info,
            "capacity": capacity,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": "192.168.1.11"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def pod_metrics(name: str, namespace: str, usage: dict[str, tuple[str, str]]) -> Obj:
    """metrics.k8s.io PodMetrics: {container: (cpu, memory)}."""
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": namespace},
        "timestamp": ago(timedelta(seconds=15)),
        "window": "15s",
        "containers": [{"name": c, "usage": {"cpu": cpu, "memory": mem}} for c, (cpu, mem) in usage.items()],
    }


def node_metrics(name: str, cpu: str, memory: str) -> Obj:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "NodeMetrics",
        "metadata": {"name": name},
        "timestamp": ago(timedelta(seconds=15)),
        "window": "15s",
        "usage": {"cpu": cpu, "memory": memory},
    }
