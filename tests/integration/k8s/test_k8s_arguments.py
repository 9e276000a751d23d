"""What an engineer types after /k8s becomes the right params (through the bot's own parser)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.commands.parse import ParseError, parse_args, split_words, validate
from bot.commands.target import expand
from bot.config import ChatopsConfig
from handlers import load_all
from handlers.params import Params
from handlers.results import Logs
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario

CONFIG = ChatopsConfig.model_validate(
    {
        "clusters": {"prod": {"context": "prod"}},
        "services": {"shop": {"cluster": "prod", "namespace": "prod", "deployment": "backend"}},
    }
)


def parse(text: str) -> tuple[str, Params]:
    words = split_words(text)
    found = load_all().table().match("k8s", words)
    assert found is not None, f"no /k8s handler for {text!r}"
    spec, rest = found
    raw = expand(spec, parse_args(spec, rest, "/k8s"), CONFIG)
    return spec.name, validate(spec, raw, "/k8s")


def test_the_issues_examples_parse() -> None:
    name, p = parse("pods -n prod -l app=backend --cluster prod")
    assert name == "k8s.pods"
    assert p.model_dump(include={"namespace", "selector", "cluster"}) == {
        "namespace": "prod",
        "selector": "app=backend",
        "cluster": "prod",
    }
    name, p = parse("logs deploy/backend -n prod --since 30m --grep ERROR --tail 200 --previous -c app")
    assert name == "k8s.logs"
    assert p.model_dump(include={"name", "since", "grep", "tail", "previous", "container"}) == {
        "name": "deployment/backend",
        "since": timedelta(minutes=30),
        "grep": "ERROR",
        "tail": 200,
        "previous": True,
        "container": "app",
    }


@pytest.mark.parametrize(
    ("text", "handler", "expected"),
    [
        ("scale deploy/backend 3 -n prod", "k8s.scale", {"deployment": "backend", "replicas": 3}),
        (
            "scale deployment/backend --replicas 0 -n prod",
            "k8s.scale",
            {"deployment": "backend", "replicas": 0},
        ),
        ("rollout undo deploy/backend --to-revision 2 -n prod", "k8s.rollout_undo", {"to_revision": 2}),
        ("rollout restart backend -n prod", "k8s.rollout_restart", {"deployment": "backend"}),
        ("rollout status deploy/backend", "k8s.rollout_status", {"namespace": "default"}),
        ("rollout history deploy/backend --revision 2", "k8s.rollout_history", {"revision": 2}),
        (
            "set image deploy/backend app=registry.example.com/backend:1.3 -n prod",
            "k8s.set_image",
            {"image": "app=registry.example.com/backend:1.3"},
        ),
        (
            "patch hpa backend --min 2 --max 8 -n prod",
            "k8s.patch_hpa",
            {"min_replicas": 2, "max_replicas": 8},
        ),
        (
            "delete pod pod/backend-x -n prod --grace-period 0",
            "k8s.delete_pod",
            {"pod": "backend-x", "grace_period": 0},
        ),
        ("describe pod backend-x -n prod", "k8s.describe", {"kind": "pod", "name": "backend-x"}),
        ("top pods --sort-by memory -n prod", "k8s.top", {"what": "pods", "sort_by": "memory"}),
        ("top nodes", "k8s.top", {"what": "nodes"}),
        (
            "events pod/backend-x -n prod --warnings",
            "k8s.events",
            {"name": "Pod/backend-x", "warnings": True},
        ),
        ("pods -A", "k8s.pods", {"all_namespaces": True, "cluster": "prod"}),
        ("endpoints backend -n prod", "k8s.endpoints", {"name": "backend"}),
    ],
)
def test_kubectl_like_forms_parse(text: str, handler: str, expected: dict[str, Any]) -> None:
    name, p = parse(text)
    assert name == handler
    assert p.model_dump(include=set(expected)) == expected


def test_a_service_fills_namespace_deployment_and_cluster() -> None:
    _name, p = parse("pods shop")
    assert p.model_dump(include={"namespace", "deployment", "cluster"}) == {
        "namespace": "prod",
        "deployment": "backend",
        "cluster": "prod",
    }
    _name, p = parse("rollout restart --service shop")
    assert p.model_dump(include={"namespace", "deployment"}) == {"namespace": "prod", "deployment": "backend"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pods -n Prod", "namespace: 'Prod' is not a valid name"),
        ("pods -l 'app in backend'", "selector"),
        ("logs deploy/Backend_1", "name"),
        ("scale pod/backend 3", "this command takes a deployment"),
        ("scale deploy/backend -2", "replicas"),
        ("set image deploy/backend 'app=not an image'", "is not an image reference"),
        ("describe svc/backend", "unknown kind 'svc'"),
    ],
)
def test_bad_input_is_explained_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(text)


def test_a_service_runs_end_to_end(ctx: Any, kube: FakeKube, scenario: Scenario) -> None:
    name, p = parse("logs --service shop --grep error")
    spec = load_all().get(name)
    assert spec is not None
    run: Callable[..., Any] = spec.fn
    result = run(ctx, p)
    assert isinstance(result, Logs)
    assert result.values["pod"] == scenario.backend_pods[0]
    assert result.values["matched"] == 2
