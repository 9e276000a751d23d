"""/k8s scale, set image, patch hpa, delete pod: previews, bounds, and what changed on the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from handlers import load_all
from handlers.errors import InvalidRequest
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]
DESTRUCTIVE = {
    "k8s.rollout_restart",
    "k8s.rollout_undo",
    "k8s.scale",
    "k8s.set_image",
    "k8s.patch_hpa",
    "k8s.delete_pod",
}


def changes(kube: FakeKube) -> list[Any]:
    return [r for r in kube.requests if r.verb in ("patch", "update", "delete", "create")]


def test_exactly_the_fixes_are_destructive_and_have_a_preview() -> None:
    specs = [s for s in load_all() if s.command == "k8s"]
    assert {s.name for s in specs if s.destructive} == DESTRUCTIVE
    assert all(s.preview is not None for s in specs if s.destructive)
    subs = {s.name: s.sub for s in specs}
    assert subs["k8s.rollout_undo"] == "rollout undo"
    assert subs["k8s.patch_hpa"] == "patch hpa"
    assert subs["k8s.set_image"] == "set image"
    assert subs["k8s.delete_pod"] == "delete pod"


def test_scale_goes_through_the_scale_subresource(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    shown = preview("k8s.scale", deployment="deploy/backend", replicas=0, namespace="prod")
    assert shown.summary == "deployment backend in prod: replicas 3 → 0"
    assert any("HPA backend (min 2, max 10)" in d for d in shown.details)
    assert any("every pod of backend stops" in d for d in shown.details)
    assert changes(kube) == []
    result = run("k8s.scale", deployment="deploy/backend", replicas=5, namespace="prod")
    assert result.values == {"previous_replicas": 3, "replicas": 5}
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    assert dep["spec"]["replicas"] == 5
    [change] = changes(kube)
    assert change.resource == "deployments/scale"
    assert change.body == {"spec": {"replicas": 5}}
    # never the deployment object itself: reads and the change go through /scale
    assert {r.resource for r in kube.requests if r.name == "backend"} == {"deployments/scale"}


def test_scale_bounds_come_from_config(run: Run, preview: Any, kube: FakeKube, scenario: Scenario) -> None:
    kube.clear_requests()
    with pytest.raises(InvalidRequest, match="80 replicas is outside the allowed 0–50"):
        preview("k8s.scale", deployment="backend", replicas=80, namespace="prod")
    assert kube.requests == []  # refused before any API call
    with pytest.raises(InvalidRequest, match="already has 3 replicas"):
        run("k8s.scale", deployment="backend", replicas=3, namespace="prod")
    assert changes(kube) == []


def test_set_image_changes_one_container_and_keeps_the_rest(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    image = "registry.example.com/backend:1.3"
    shown = preview("k8s.set_image", deployment="deploy/backend", image=f"app={image}", namespace="prod")
    assert (
        shown.summary
        == f"deployment backend in prod: container app image registry.example.com/backend:1.2 → {image}"
    )
    result = run("k8s.set_image", deployment="deploy/backend", image=image, namespace="prod")
    assert result.values == {
        "container": "app",
        "image": image,
        "previous_image": "registry.example.com/backend:1.2",
    }
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image
    assert {e["name"] for e in container["env"]} == {"LOG_LEVEL", "FEATURE_CHECKOUT_V2"}
    [change] = changes(kube)
    assert change.content_type == "application/strategic-merge-patch+json"
    assert change.body == {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


def test_set_image_refuses_an_unknown_container(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    with pytest.raises(InvalidRequest, match=r"has no container 'web' \(it has: app\)"):
        run("k8s.set_image", deployment="backend", image="web=nginx:1.27", namespace="prod")
    assert changes(kube) == []


@pytest.mark.parametrize(
    "image", ["", "app=", "Bad Image", "app=nginx:tag with space", "APP=nginx", "nginx:" + "x" * 200]
)
def test_set_image_validates_the_image_reference(image: str, kube: FakeKube) -> None:
    spec = load_all().get("k8s.set_image")
    assert spec is not None
    with pytest.raises(ValidationError):
        spec.params.model_validate({"deployment": "backend", "image": image})
    assert kube.requests == []


def test_patch_hpa_changes_min_and_max_within_bounds(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    shown = preview("k8s.patch_hpa", name="backend", min_replicas=3, max_replicas=20, namespace="prod")
    assert shown.summary == "HPA backend in prod: min 2 → 3, max 10 → 20"
    assert "now 3 replicas, it wants 4" in shown.details
    run("k8s.patch_hpa", name="backend", max_replicas=20, namespace="prod")
    hpa = kube.get("HorizontalPodAutoscaler", "prod", "backend")
    assert hpa is not None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 20)
    with pytest.raises(InvalidRequest, match="outside the allowed 1–50"):
        run("k8s.patch_hpa", name="backend", max_replicas=80, namespace="prod")
    with pytest.raises(InvalidRequest, match="min 30 would be above max 20"):
        run("k8s.patch_hpa", name="backend", min_replicas=30, namespace="prod")
    assert len(changes(kube)) == 1


def test_delete_pod_says_whether_it_comes_back(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    owned = preview("k8s.delete_pod", pod=f"pod/{scenario.crashloop}", namespace="prod")
    assert owned.summary.startswith(
        f"pod {scenario.crashloop} in prod (CrashLoopBackOff, 7 restarts, on node-1)"
    )
    assert owned.details[0] == f"its ReplicaSet {scenario.replicasets[3]} starts a new pod in its place"
    orphan = preview("k8s.delete_pod", pod=scenario.oomkilled, namespace="prod")
    assert orphan.details[0] == "no controller owns it: it will NOT come back"
    result = run("k8s.delete_pod", pod=scenario.crashloop, namespace="prod", grace_period=0)
    assert result.values["deleted"] == scenario.crashloop
    assert kube.get("Pod", "prod", scenario.crashloop) is None
    [change] = changes(kube)
    assert change.verb == "delete"
    assert change.query.get("gracePeriodSeconds") == "0"
