"""/k8s events and /k8s describe: what happened to an object, and its state in detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from handlers import load_all
from handlers.errors import NotFound
from handlers.results import Group, KeyValues, Table
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def part(group: Group, title: str) -> Any:
    return next(p for p in group.parts if p.title == title)


def test_events_put_warnings_first_then_newest(run: Run, scenario: Scenario) -> None:
    table = run("k8s.events", namespace="prod")
    assert isinstance(table, Table)
    assert list(table.columns) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
    types = [r[1] for r in table.rows]
    assert types == sorted(types, key=lambda t: t != "Warning")  # all warnings before any Normal
    assert table.rows[0][2] == "BackOff"
    assert table.rows[0][4] == "42"
    assert table.rows[0][3] == f"pod/{scenario.crashloop}"
    warnings = [r for r in table.rows if r[1] == "Warning"]
    assert [r[2] for r in warnings] == ["BackOff", "Failed", "OOMKilling", "FailedScheduling", "Unhealthy"]
    assert table.values == {"events": 9, "warnings": 5, "top_warning": "BackOff"}
    assert "9 events, 5 warnings" in table.summary


def test_events_for_one_object_are_filtered_by_the_server(
    run: Run, scenario: Scenario, kube: FakeKube
) -> None:
    table = run("k8s.events", namespace="prod", name=f"pod/{scenario.crashloop}")
    assert sorted(r[2] for r in table.rows) == ["BackOff", "OOMKilling"]
    assert (
        kube.requests[-1].query["fieldSelector"]
        == f"involvedObject.name={scenario.crashloop},involvedObject.kind=Pod"
    )
    deployment = run("k8s.events", namespace="prod", name="deploy/backend")
    assert [r[2] for r in deployment.rows] == ["ScalingReplicaSet", "ScalingReplicaSet"]
    only_warnings = run("k8s.events", namespace="prod", warnings=True)
    assert {r[1] for r in only_warnings.rows} == {"Warning"}


def test_describe_pod_shows_last_termination_and_resources(run: Run, scenario: Scenario) -> None:
    group = run("k8s.describe", kind="pod", name=scenario.crashloop, namespace="prod")
    assert isinstance(group, Group)
    overview = dict(part(group, group.title).items)
    assert overview["Status"] == "CrashLoopBackOff"
    assert overview["Node"] == "node-1"
    assert overview["Controlled by"] == f"ReplicaSet/{scenario.replicasets[3]}"
    containers = part(group, "Containers")
    row = dict(zip(containers.columns, containers.rows[0], strict=True))
    assert row["STATE"] == "Waiting: CrashLoopBackOff"
    assert row["LAST TERMINATION"].startswith("OOMKilled (exit 137, ")
    assert row["RESTARTS"] == "7"
    assert row["REQUESTS"] == "cpu 250m, memory 256Mi"
    assert row["LIMITS"] == "cpu 1, memory 512Mi"
    assert row["IMAGE"] == "registry.example.com/backend:1.2"
    events = part(group, "Events")
    assert {r[2] for r in events.rows} == {"BackOff", "OOMKilling"}
    v = group.values
    assert v["last_reason"] == "OOMKilled"
    assert v["last_exit_code"] == 137
    assert v["oomkilled"] is True
    assert v["restarts"] == 7
    assert v["ready"] is False
    assert v["warnings"] == 2


def test_describe_a_pod_that_was_never_scheduled(run: Run, scenario: Scenario) -> None:
    group = run("k8s.describe", kind=f"pod/{scenario.pending}", namespace="prod")
    conditions = part(group, "Conditions")
    assert conditions.rows[0][:3] == ["PodScheduled", "False", "Unschedulable"]
    assert "Insufficient memory" in conditions.rows[0][4]
    assert part(group, "Events").rows[0][2] == "FailedScheduling"


def test_describe_deployment_shows_replicas_revisions_and_events(run: Run, scenario: Scenario) -> None:
    for params in (
        {"kind": "deploy/backend"},
        {"kind": "deployment", "name": "backend"},
        {"deployment": "backend"},
    ):
        group = run("k8s.describe", namespace="prod", **params)
        overview = dict(part(group, group.title).items)
        assert overview["Replicas"] == "3 desired | 3 updated | 3 total | 2 available | 1 unavailable"
        assert overview["Selector"] == "app=backend"
        assert overview["Revision"] == "3"
        assert overview["Images"] == "app=registry.example.com/backend:1.2"
        rs = part(group, "ReplicaSets")
        assert [r[0] for r in rs.rows] == ["3 (current)", "2", "1"]
        assert [r[1] for r in rs.rows] == [
            scenario.replicasets[3],
            scenario.replicasets[2],
            scenario.replicasets[1],
        ]
        assert part(group, "Events").rows[0][2] == "ScalingReplicaSet"
        assert group.values["unavailable"] == 1
        assert group.values["revision"] == 3
        assert group.values["revisions"] == 3


def test_describe_names_a_missing_object(run: Run, scenario: Scenario) -> None:
    with pytest.raises(NotFound, match="deployment ghost in namespace prod not found on cluster prod"):
        run("k8s.describe", kind="deploy/ghost", namespace="prod")


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "svc/backend"},
        {"kind": "pod"},
        {},
        {"kind": "pod/x", "name": "y"},
        {"kind": "pod", "name": "A!"},
    ],
)
def test_describe_refuses_what_it_cannot_describe(params: dict[str, Any], kube: FakeKube) -> None:
    spec = load_all().get("k8s.describe")
    assert spec is not None
    with pytest.raises(ValidationError):
        spec.params.model_validate({"namespace": "prod", **params})
    assert kube.requests == []


def test_events_and_describe_results_are_typed(run: Run, scenario: Scenario) -> None:
    group = run("k8s.describe", kind="pod", name=scenario.backend_pods[0], namespace="prod")
    assert isinstance(group.parts[0], KeyValues)
    assert all(isinstance(p, Table) for p in group.parts[1:])
