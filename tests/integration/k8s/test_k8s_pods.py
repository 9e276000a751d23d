"""/k8s pods: what an on-call engineer sees, against the fake API server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from handlers import load_all
from handlers.results import Table
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def by_name(table: Table) -> dict[str, list[str]]:
    return {row[table.columns.index("NAME")]: list(row) for row in table.rows}


def test_pods_show_kubectl_status_with_unhealthy_first(run: Run, scenario: Scenario) -> None:
    table = run("k8s.pods", namespace="prod")
    assert isinstance(table, Table)
    assert list(table.columns) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"]
    rows = by_name(table)
    assert rows[scenario.crashloop][2] == "CrashLoopBackOff"
    assert rows[scenario.image_pull][2] == "ImagePullBackOff"
    assert rows[scenario.oomkilled][2] == "OOMKilled"
    assert rows[scenario.completed][2] == "Completed"
    assert rows[scenario.pending][2] == "Pending"
    assert rows[scenario.init][2] == "Init:0/1"
    assert rows[scenario.frontend][2] == "Running"
    # READY and RESTARTS as kubectl prints them, the last restart's age in brackets
    assert rows[scenario.crashloop][1] == "0/1"
    assert rows[scenario.crashloop][3].startswith("7 (")
    assert rows[scenario.crashloop][3].endswith(" ago)")
    assert rows[scenario.backend_pods[0]][1:4] == ["1/1", "Running", "0"]
    assert rows[scenario.pending][5] == "<none>"  # not scheduled on any node
    # every unhealthy pod comes before every healthy one
    names = [r[0] for r in table.rows]
    first_healthy = min(
        names.index(n) for n in (scenario.frontend, scenario.completed, *scenario.backend_pods[:2])
    )
    assert all(names.index(n) < first_healthy for n in scenario.unhealthy)


def test_pods_summary_and_values_count_what_is_wrong(run: Run, scenario: Scenario) -> None:
    table = run("k8s.pods", namespace="prod")
    v = table.values
    assert v["pods"] == 9
    assert v["unhealthy"] == 5
    assert v["crashloop"] == 1
    assert v["image_pull"] == 1
    assert v["oomkilled"] == 2  # cache-warmer now, the crashlooping backend pod last time
    assert v["pending"] == 1
    assert v["completed"] == 1
    assert v["restarts"] == 1 + 7 + 2
    assert v["ready"] == 3
    assert table.summary.startswith("9 pods, 5 unhealthy (")
    assert "1 CrashLoopBackOff" in table.summary
    assert "1 ImagePullBackOff" in table.summary
    assert "10 restarts" in table.summary
    assert "prod" in table.title
    assert "cluster prod" in table.title


def test_label_selector_filters_on_the_server(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    table = run("k8s.pods", namespace="prod", selector="app=backend")
    assert sorted(r[0] for r in table.rows) == sorted(scenario.backend_pods)
    assert kube.requests[-1].query["labelSelector"] == "app=backend"
    either = run("k8s.pods", namespace="prod", selector="app in (backend,frontend),app!=worker")
    assert sorted(r[0] for r in either.rows) == sorted([*scenario.backend_pods, scenario.frontend])
    assert run("k8s.pods", namespace="prod", selector="app=nothing").summary == "No pods found."


def test_pods_of_a_deployment_use_its_selector(run: Run, scenario: Scenario) -> None:
    table = run("k8s.pods", namespace="prod", deployment="deploy/backend")
    assert sorted(r[0] for r in table.rows) == sorted(scenario.backend_pods)
    assert "deployment backend" in table.title
    assert table.values["crashloop"] == 1
    assert table.values["unhealthy"] == 1


def test_namespaces_are_kept_apart_and_all_namespaces_adds_a_column(run: Run, scenario: Scenario) -> None:
    staging = run("k8s.pods", namespace="staging")
    assert [r[0] for r in staging.rows] == [scenario.staging_pod]
    everywhere = run("k8s.pods", all_namespaces=True, selector="app=backend")
    assert everywhere.columns[0] == "NAMESPACE"
    assert sorted(r[0] for r in everywhere.rows) == ["prod", "prod", "prod", "staging"]


def test_terminating_and_exit_codes_are_derived_as_kubectl_does(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    pod = kube.get("Pod", "prod", scenario.frontend)
    assert pod is not None
    pod["metadata"]["name"] = "frontend-going"
    pod["metadata"]["deletionTimestamp"] = pod["metadata"]["creationTimestamp"]
    kube.add(pod)
    crashed = kube.get("Pod", "prod", scenario.frontend)
    assert crashed is not None
    crashed["metadata"]["name"] = "frontend-exit"
    status = crashed["status"]["containerStatuses"][0]
    status["ready"] = False
    status["state"] = {"terminated": {"exitCode": 3, "finishedAt": crashed["metadata"]["creationTimestamp"]}}
    kube.add(crashed)
    rows = by_name(run("k8s.pods", namespace="prod", selector="app=frontend"))
    assert rows["frontend-going"][2] == "Terminating"
    assert rows["frontend-exit"][2] == "ExitCode:3"
    table = run("k8s.pods", namespace="prod", selector="app=frontend")
    assert table.values["terminating"] == 1
    assert table.values["unhealthy"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"namespace": "Prod_1"}, "namespace"),
        ({"namespace": "prod", "selector": "app===backend"}, "selector"),
        ({"namespace": "prod", "deployment": "deploy/Back_End"}, "deployment"),
        ({"namespace": "prod", "deployment": "pod/backend"}, "deployment"),
        ({"namespace": "-prod"}, "namespace"),
    ],
)
def test_bad_names_are_refused_before_any_api_call(
    params: dict[str, Any], field: str, kube: FakeKube, scenario: Scenario
) -> None:
    kube.clear_requests()
    spec = load_all().get("k8s.pods")
    assert spec is not None
    with pytest.raises(ValidationError) as err:
        spec.params.model_validate(params)
    assert err.value.errors()[0]["loc"][0] == field
    assert kube.requests == []
