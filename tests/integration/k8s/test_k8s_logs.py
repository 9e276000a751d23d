"""/k8s logs: which pod, which lines, and what the API server was asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from handlers import load_all
from handlers.errors import InvalidRequest, NotFound
from handlers.results import Logs
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def log_requests(kube: FakeKube) -> list[dict[str, str]]:
    return [r.query for r in kube.requests if r.resource == "pods/log"]


def test_deployment_logs_come_from_its_newest_ready_pod(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    result = run("k8s.logs", name="deploy/backend", namespace="prod")
    assert isinstance(result, Logs)
    # the crashlooping pod is newer, but not ready: the newest *ready* one is chosen
    assert result.values["pod"] == scenario.backend_pods[0]
    assert result.values["container"] == "app"
    assert result.lines[0] == "INFO  starting backend 1.2 on :8080"
    assert "newest ready of 3 pods of deployment backend" in result.note
    assert log_requests(kube)[-1]["tailLines"] == "500"


def test_grep_keeps_matching_lines_ignoring_case(run: Run, scenario: Scenario) -> None:
    result = run("k8s.logs", name=scenario.backend_pods[0], namespace="prod", grep="ERROR")
    assert result.lines == [
        "ERROR checkout failed: upstream payment timeout after 3000ms",
        "error  retrying payment call (attempt 2)",
    ]
    assert result.values["lines"] == 9
    assert result.values["matched"] == 2
    assert result.values["error_lines"] == 2
    assert "2 of 9 lines contain 'ERROR'" in result.note


def test_tail_since_and_previous_are_passed_to_the_api(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    tail = run("k8s.logs", name=f"pod/{scenario.backend_pods[0]}", namespace="prod", tail=3, since="30m")
    assert len(tail.lines) == 3
    query = log_requests(kube)[-1]
    assert query["tailLines"] == "3"
    assert query["sinceSeconds"] == "1800"
    assert query["container"] == "app"
    crashed = run("k8s.logs", name=scenario.crashloop, namespace="prod", previous=True)
    assert crashed.lines[-2:] == ["ERROR MemoryError: cannot allocate 268435456 bytes", "Killed"]
    assert log_requests(kube)[-1]["previous"] == "true"
    assert "previous container app" in crashed.note


def test_secrets_in_log_lines_are_redacted(run: Run, scenario: Scenario) -> None:
    result = run("k8s.logs", name=scenario.backend_pods[0], namespace="prod")
    assert result.lines[-1] == "INFO  using DATABASE_URL=postgresql://app:***@db:5432/main"
    assert not any("s3cr3t" in line for line in result.lines)


def test_long_logs_come_back_whole_for_the_file_upload(run: Run, scenario: Scenario, kube: FakeKube) -> None:
    kube.set_logs("prod", scenario.frontend, [f"line {i}" for i in range(20_000)], container="web")
    result = run("k8s.logs", name=scenario.frontend, namespace="prod", tail=20_000)
    assert len(result.lines) == 20_000
    assert result.lines[0] == "line 0"
    assert result.lines[-1] == "line 19999"


def test_the_api_servers_refusals_are_explained(run: Run, scenario: Scenario) -> None:
    with pytest.raises(InvalidRequest, match="is waiting to start: ImagePullBackOff"):
        run("k8s.logs", name=scenario.image_pull, namespace="prod")
    with pytest.raises(InvalidRequest, match='previous terminated container "app"'):
        run("k8s.logs", name=scenario.backend_pods[0], namespace="prod", previous=True)
    with pytest.raises(NotFound, match="pod nope in namespace prod not found on cluster prod"):
        run("k8s.logs", name="nope", namespace="prod")
    with pytest.raises(NotFound, match="deployment ghost in namespace prod not found"):
        run("k8s.logs", name="deploy/ghost", namespace="prod")


def test_an_unknown_container_is_refused_listing_the_real_ones(
    run: Run, scenario: Scenario, kube: FakeKube
) -> None:
    kube.clear_requests()
    with pytest.raises(InvalidRequest, match=r"has no container 'sidecar' \(it has: app\)"):
        run("k8s.logs", name=scenario.backend_pods[0], namespace="prod", container="sidecar")
    assert log_requests(kube) == []


@pytest.mark.parametrize(
    "params",
    [
        {"namespace": "prod"},  # nothing to read
        {"name": "svc/backend", "namespace": "prod"},
        {"name": "deploy/Backend", "namespace": "prod"},
        {"name": "pod", "namespace": "prod", "container": "App_1"},
        {"name": "pod", "namespace": "prod", "since": "soon"},
        {"name": "pod", "namespace": "prod", "tail": 0},
    ],
)
def test_bad_arguments_are_refused_before_any_api_call(params: dict[str, Any], kube: FakeKube) -> None:
    spec = load_all().get("k8s.logs")
    assert spec is not None
    with pytest.raises(ValidationError):
        spec.params.model_validate(params)
    assert kube.requests == []
