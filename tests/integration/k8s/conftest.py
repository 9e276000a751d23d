"""Fixtures for the /k8s handler tests: the fake API server, populated, and a handler runner.

The handlers get the official client built from a kubeconfig that points at the fake, as the
bot builds it; they are called through the registry as the bot calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config as k8s_config
from kubernetes.client import ApiClient

from handlers import Context, HandlerSpec, load_all
from handlers.results import Preview, Result
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario, populate

OPTIONS = {"scale_min": 0, "scale_max": 50}


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        yield fake


@pytest.fixture
def scenario(kube: FakeKube) -> Scenario:
    return populate(kube)


@pytest.fixture
def api_client(kube: FakeKube, tmp_path: Path) -> Iterator[ApiClient]:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    client = k8s_config.new_client_from_config(config_file=str(path), context="prod")
    yield client
    client.close()


@pytest.fixture
def ctx(api_client: ApiClient) -> Context[ApiClient]:
    return Context(client=api_client, timeout=5, options=OPTIONS, target="prod")


def spec_of(name: str) -> HandlerSpec:
    spec = load_all().get(name)
    assert spec is not None, f"handler {name} is not registered"
    return spec


@pytest.fixture
def run(ctx: Context[ApiClient], scenario: Scenario) -> Callable[..., Any]:
    """run("k8s.pods", namespace="prod") -> the handler's result, as the bot would call it."""

    def go(handler: str, /, **params: Any) -> Result:
        spec = spec_of(handler)
        return spec.fn(ctx, spec.params.model_validate(params))

    return go


@pytest.fixture
def preview(ctx: Context[ApiClient], scenario: Scenario) -> Callable[..., Preview]:
    def go(handler: str, /, **params: Any) -> Preview:
        spec = spec_of(handler)
        assert spec.destructive
        assert spec.preview is not None
        return spec.preview(ctx, spec.params.model_validate(params))

    return go
