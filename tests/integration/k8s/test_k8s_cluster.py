"""/k8s top, svc, endpoints, ingress, hpa, nodes against the fake API server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handlers.errors import TargetUnavailable
from handlers.results import Group, Table
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def rows_by_name(table: Table) -> dict[str, dict[str, str]]:
    return {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}


def test_top_pods_sorts_heaviest_first_and_shows_use_against_limits(run: Run, scenario: Scenario) -> None:
    by_cpu = run("k8s.top", what="pods", namespace="prod")
    assert [r[0] for r in by_cpu.rows][:2] == [scenario.oomkilled, scenario.backend_pods[0]]
    by_mem = run("k8s.top", what="pods", namespace="prod", sort_by="memory")
    assert by_mem.rows[0][0] == scenario.crashloop
    rows = rows_by_name(by_mem)
    assert rows[scenario.crashloop]["MEMORY(bytes)"] == "490Mi"
    assert rows[scenario.crashloop]["MEMORY/LIMIT"] == "95%"
    assert rows[scenario.oomkilled]["CPU(cores)"] == "900m"
    assert rows[scenario.oomkilled]["CPU/LIMIT"] == "-"  # it has no CPU limit
    assert rows[scenario.oomkilled]["MEMORY/LIMIT"] == "99%"
    v = by_mem.values
    assert v["pods"] == 5
    assert v["max_memory_limit_pct"] == 99.2
    assert v["top_memory_pod"] == scenario.crashloop
    assert v["top_cpu_pod"] == scenario.oomkilled
    assert v["cpu_m"] == 420 + 180 + 5 + 35 + 900


def test_top_pods_with_a_selector_and_top_nodes(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    backend = run("k8s.top", what="pod", namespace="prod", selector="app=backend")
    assert sorted(r[0] for r in backend.rows) == sorted(scenario.backend_pods)
    nodes = run("k8s.top", what="nodes")
    rows = rows_by_name(nodes)
    assert rows["node-2"]["CPU%"] == "79%"
    assert rows["node-2"]["MEMORY%"] == "93%"
    assert rows["node-1"]["CPU(cores)"] == "1250m"
    assert rows["node-1"]["MEMORY(bytes)"] == "9216Mi"
    assert rows["node-3"]["CPU(cores)"] == "<unknown>"
    assert nodes.values["max_memory_pct"] == 93.8
    assert nodes.values["without_metrics"] == 1
    assert "no metrics from node-3" in nodes.summary


def test_top_without_metrics_server_says_so(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    kube.metrics_enabled = False
    with pytest.raises(
        TargetUnavailable, match=r"cluster prod has no metrics API .*metrics-server is not installed"
    ):
        run("k8s.top", namespace="prod")
    kube.metrics_enabled = True
    kube.fail("list", "nodes", 503)
    with pytest.raises(TargetUnavailable, match="metrics-server"):
        run("k8s.top", what="nodes")


def test_services_show_addresses_and_ports(run: Run, scenario: Scenario) -> None:
    table = run("k8s.svc", namespace="prod")
    rows = rows_by_name(table)
    assert rows["frontend"]["TYPE"] == "LoadBalancer"
    assert rows["frontend"]["EXTERNAL-IP"] == "203.0.113.10"
    assert rows["frontend"]["PORT(S)"] == "80:30080/TCP"
    assert rows["backend"]["CLUSTER-IP"] == "10.96.12.34"
    assert rows["backend"]["EXTERNAL-IP"] == "<none>"
    assert rows["backend"]["SELECTOR"] == "app=backend"
    assert table.values == {"services": 3, "pending_external": 0}
    one = run("k8s.svc", namespace="prod", name="worker")
    assert [r[0] for r in one.rows] == ["worker"]


def test_endpoints_flag_a_service_with_no_ready_address(run: Run, scenario: Scenario) -> None:
    table = run("k8s.endpoints", namespace="prod")
    assert table.rows[0][:4] == ["worker", "NO READY ADDRESS", "0", "1"]
    rows = rows_by_name(table)
    assert rows["backend"]["READY"] == "2"
    assert rows["backend"]["NOT READY"] == "1"
    assert rows["backend"]["ENDPOINTS"] == "10.244.1.21:8080,10.244.2.22:8080"
    assert table.values == {"services": 3, "without_ready": 1, "ready_addresses": 3, "not_ready_addresses": 2}
    assert "1 with no ready address: worker" in table.summary


def test_ingress_shows_hosts_paths_backends_and_tls(run: Run, scenario: Scenario) -> None:
    table = run("k8s.ingress", namespace="prod")
    assert [r[2:6] for r in table.rows] == [
        ["shop.example.com", "/", "frontend:80", "yes (shop-tls)"],
        ["shop.example.com", "/api", "backend:80", "yes (shop-tls)"],
    ]
    assert table.rows[0][1] == "nginx"
    assert table.rows[0][6] == "203.0.113.10"
    assert table.values == {"ingresses": 1, "rules": 2, "tls_hosts": 1, "without_address": 0}


def test_hpa_shows_current_desired_min_max_and_metrics(run: Run, scenario: Scenario) -> None:
    table = run("k8s.hpa", namespace="prod")
    rows = rows_by_name(table)
    assert rows["backend"]["TARGETS"] == "cpu: 85%/70%"
    assert [rows["backend"][c] for c in ("MINPODS", "MAXPODS", "REPLICAS", "DESIRED")] == [
        "2",
        "10",
        "3",
        "4",
    ]
    assert rows["worker"]["TARGETS"] == "cpu: <unknown>/70%"
    assert rows["backend"]["REFERENCE"] == "Deployment/backend"
    assert table.values == {"hpas": 2, "at_max": 1, "limited": 1}
    one = run("k8s.hpa", namespace="prod", name="backend")
    assert isinstance(one, Group)
    assert one.values["cpu_pct"] == 85
    assert one.values["cpu_target_pct"] == 70
    assert one.values["current"] == 3
    assert one.values["desired"] == 4
    assert one.values["max"] == 10
    conditions = one.parts[1]
    assert isinstance(conditions, Table)
    assert [r[0] for r in conditions.rows] == ["AbleToScale", "ScalingActive", "ScalingLimited"]


def test_nodes_show_ready_and_pressure_unhealthy_first(run: Run, scenario: Scenario) -> None:
    table = run("k8s.nodes")
    assert [r[:2] for r in table.rows] == [
        ["node-2", "Ready"],
        ["node-3", "Unknown,SchedulingDisabled"],
        ["node-1", "Ready"],
    ]
    rows = rows_by_name(table)
    assert rows["node-2"]["PRESSURE"] == "MemoryPressure"
    assert rows["node-1"]["PRESSURE"] == "-"
    assert rows["node-1"]["VERSION"] == "v1.31.2"
    assert rows["node-1"]["ROLES"] == "worker"
    assert table.values == {"nodes": 3, "ready": 2, "not_ready": 1, "pressure": 1, "unschedulable": 1}
    assert table.summary == "3 nodes, 2 Ready, 1 not Ready, 1 under pressure, 1 cordoned"
    assert [r[0] for r in run("k8s.nodes", name="node-3").rows] == ["node-3"]
