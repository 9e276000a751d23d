"""API failures become messages a person can act on: 403, 404, a cluster that is down or slow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config as k8s_config
from kubernetes.client import ApiClient

from handlers import Context, load_all
from handlers.errors import Forbidden, HandlerError, NotFound, TargetUnavailable
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def test_403_names_the_verb_resource_and_namespace(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    kube.fail("list", "pods", 403, namespace="prod")
    with pytest.raises(Forbidden) as err:
        run("k8s.pods", namespace="prod")
    msg = str(err.value)
    assert "cluster prod" in msg
    assert "may not list pods (the core API group) in namespace prod" in msg
    assert "deploy/kubernetes/rbac.yaml" in msg
    run("k8s.pods", namespace="staging")  # only prod was refused


def test_403_on_a_subresource_names_it_and_its_group(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    kube.fail("patch", "deployments/scale", 403)
    with pytest.raises(
        Forbidden, match=r'may not patch deployments/scale \(API group "apps"\) in namespace prod'
    ):
        run("k8s.scale", deployment="backend", replicas=4, namespace="prod")
    kube.fail("get", "pods/log", 403)
    with pytest.raises(Forbidden, match=r"may not get pods/log \(the core API group\) in namespace prod"):
        run("k8s.logs", name=scenario.frontend, namespace="prod")
    kube.fail("list", "nodes", 403)
    with pytest.raises(Forbidden, match=r"may not list nodes .* cluster-wide"):
        run("k8s.nodes")


def test_404_names_the_object(run: Run, scenario: Scenario) -> None:
    with pytest.raises(NotFound) as err:
        run("k8s.rollout_status", deployment="checkout", namespace="prod")
    assert str(err.value) == "deployment checkout in namespace prod not found on cluster prod"
    with pytest.raises(NotFound, match=r"^HPA api in namespace prod not found on cluster prod$"):
        run("k8s.hpa", name="api", namespace="prod")
    with pytest.raises(NotFound, match=r"^node node-9 not found on cluster prod$"):
        run("k8s.nodes", name="node-9")


def test_a_cluster_that_is_down_is_named(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    kube.down()
    with pytest.raises(TargetUnavailable) as err:
        run("k8s.pods", namespace="prod")
    assert str(err.value) == f"cluster prod: cannot reach the API server at {kube.url}: connection refused"
    kube.up()
    assert run("k8s.pods", namespace="prod").values["pods"] == 9  # and it recovers


@pytest.fixture
def slow_ctx(kube: FakeKube, tmp_path: Path) -> Iterator[Context[ApiClient]]:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    client = k8s_config.new_client_from_config(config_file=str(path), context="prod")
    client.configuration.retries = 0  # one attempt, so the test waits one timeout
    client.rest_client = type(client.rest_client)(client.configuration)
    yield Context(client=client, timeout=0.3, options={}, target="prod")
    client.close()


def test_a_timed_out_call_names_the_cluster_and_the_timeout(
    slow_ctx: Context[ApiClient], kube: FakeKube, scenario: Scenario
) -> None:
    kube.delay(1.0)
    spec = load_all().get("k8s.nodes")
    assert spec is not None
    with pytest.raises(TargetUnavailable) as err:
        spec.fn(slow_ctx, spec.params.model_validate({}))
    assert (
        str(err.value)
        == f"cluster prod: the API server at {kube.url} did not answer within 0.3s (list nodes)"
    )
    kube.delay(0)


def test_server_errors_are_reported_with_the_servers_reason(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    kube.fail("list", "events", 500)
    with pytest.raises(
        TargetUnavailable, match=r"cluster prod: the API server could not list events in namespace prod"
    ):
        run("k8s.events", namespace="prod")
    kube.fail("get", "deployments", 401)
    with pytest.raises(Forbidden, match="rejected the bot's credentials"):
        run("k8s.rollout_status", deployment="backend", namespace="prod")


def test_every_failure_is_a_handler_error_never_a_traceback(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    kube.fail("list", "replicasets", 429)
    with pytest.raises(HandlerError):
        run("k8s.rollout_history", deployment="backend", namespace="prod")
    bad = kube.get("Node", None, "node-1")
    assert bad is not None
    del bad["status"]["nodeInfo"]["machineID"]  # the client's models cannot read this node
    kube.add(bad)
    with pytest.raises(HandlerError, match="could not read the answer to list nodes"):
        run("k8s.nodes")
