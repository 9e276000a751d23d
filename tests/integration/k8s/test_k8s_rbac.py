"""deploy/kubernetes/rbac.yaml grants exactly the API calls the handlers make.

Every handler runs against the fake API server; each request it sends must be declared in
handlers/k8s/rbac.py, and the manifest's read-only and operator roles must equal that table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers import Context, load_all
from handlers.k8s.rbac import API_CALLS, Rule, role_rules
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "rbac.yaml"


def manifest() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def rules_of(role: str) -> frozenset[Rule]:
    doc = next(d for d in manifest() if d["kind"] == "ClusterRole" and d["metadata"]["name"] == role)
    return frozenset(
        (verb, group, resource)
        for rule in doc["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    )


def k8s_handlers() -> dict[str, Any]:
    return {s.name: s for s in load_all() if s.command == "k8s"}


def test_every_handler_declares_its_calls() -> None:
    assert set(API_CALLS) == set(k8s_handlers())


def test_the_roles_grant_exactly_what_the_handlers_use() -> None:
    destructive = [name for name, spec in k8s_handlers().items() if spec.destructive]
    read, operate = role_rules(destructive)
    assert rules_of("chatops-read") == read
    assert rules_of("chatops-operate") == operate
    assert not any(verb in ("patch", "delete", "update", "create") for verb, _g, _r in read)


def test_the_service_account_is_bound_to_both_roles() -> None:
    docs = manifest()
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    bound = {
        d["roleRef"]["name"]
        for d in docs
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding")
        and {
            "kind": "ServiceAccount",
            "name": sa["metadata"]["name"],
            "namespace": sa["metadata"]["namespace"],
        }
        in d["subjects"]
    }
    assert bound == {"chatops-read", "chatops-operate"}


# One call per code path; previews run too (they read before anyone confirms).
def _calls(sc: Scenario) -> list[tuple[str, dict[str, Any], bool]]:
    prod = {"namespace": "prod"}
    return [
        ("k8s.pods", prod, False),
        ("k8s.pods", {**prod, "deployment": "backend"}, False),
        ("k8s.pods", {"all_namespaces": True}, False),
        ("k8s.events", prod, False),
        ("k8s.events", {"all_namespaces": True, "name": "pod/x"}, False),
        ("k8s.logs", {**prod, "name": sc.frontend}, False),
        ("k8s.logs", {**prod, "name": "deploy/backend"}, False),
        ("k8s.logs", {**prod, "selector": "app=backend"}, False),
        ("k8s.describe", {**prod, "kind": "pod", "name": sc.crashloop}, False),
        ("k8s.describe", {**prod, "kind": "deploy/backend"}, False),
        ("k8s.top", prod, False),
        ("k8s.top", {"all_namespaces": True}, False),
        ("k8s.top", {"what": "nodes"}, False),
        ("k8s.svc", prod, False),
        ("k8s.svc", {**prod, "name": "backend"}, False),
        ("k8s.endpoints", prod, False),
        ("k8s.endpoints", {**prod, "name": "backend"}, False),
        ("k8s.ingress", prod, False),
        ("k8s.ingress", {**prod, "name": "web"}, False),
        ("k8s.hpa", prod, False),
        ("k8s.hpa", {**prod, "name": "backend"}, False),
        ("k8s.nodes", {}, False),
        ("k8s.nodes", {"name": "node-1"}, False),
        ("k8s.rollout_status", {**prod, "deployment": "backend"}, False),
        ("k8s.rollout_history", {**prod, "deployment": "backend"}, False),
        ("k8s.rollout_restart", {**prod, "deployment": "backend"}, True),
        ("k8s.rollout_undo", {**prod, "deployment": "backend"}, True),
        ("k8s.scale", {**prod, "deployment": "backend", "replicas": 4}, True),
        (
            "k8s.set_image",
            {**prod, "deployment": "backend", "image": "app=registry.example.com/backend:9"},
            True,
        ),
        ("k8s.patch_hpa", {**prod, "name": "backend", "max_replicas": 12}, True),
        ("k8s.delete_pod", {**prod, "pod": sc.crashloop}, True),
    ]


def test_each_request_a_handler_sends_is_declared(
    ctx: Context[Any], kube: FakeKube, scenario: Scenario
) -> None:
    specs = k8s_handlers()
    seen: dict[str, set[Rule]] = {}
    for name, params, destructive in _calls(scenario):
        spec = specs[name]
        validated = spec.params.model_validate(params)
        steps: list[Callable[[Context[Any], Any], object]] = [spec.fn]
        if destructive:
            assert spec.preview is not None
            steps.insert(0, spec.preview)
        for step in steps:
            kube.clear_requests()
            step(ctx, validated)
            sent = {(r.verb, r.group, r.resource) for r in kube.requests}
            assert sent <= API_CALLS[name], f"{name} sent undeclared requests: {sent - API_CALLS[name]}"
            seen.setdefault(name, set()).update(sent)
    for name, declared in API_CALLS.items():
        assert seen.get(name) == set(declared), (
            f"{name} declares calls it never made: {declared - seen.get(name, set())}"
        )


@pytest.mark.parametrize("role", ["chatops-read", "chatops-operate"])
def test_roles_are_cluster_roles_without_wildcards(role: str) -> None:
    for verb, group, resource in rules_of(role):
        assert "*" not in (verb, group, resource)
