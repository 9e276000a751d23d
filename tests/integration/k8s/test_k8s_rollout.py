"""/k8s rollout status|history|restart|undo: what a user sees and what changed on the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from handlers.errors import InvalidRequest
from handlers.results import Check, Group, Status, Table
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import Scenario
from tests.fakes.k8s_ops import without_hash

Run = Callable[..., Any]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def patches(kube: FakeKube) -> list[Any]:
    return [r for r in kube.requests if r.verb == "patch"]


def backend(kube: FakeKube) -> dict[str, Any]:
    dep = kube.get("Deployment", "prod", "backend")
    assert dep is not None
    return dep


def test_rollout_status_waits_for_unavailable_replicas(run: Run, scenario: Scenario) -> None:
    group = run("k8s.rollout_status", deployment="deploy/backend", namespace="prod")
    assert isinstance(group, Group)
    check = group.parts[0]
    assert isinstance(check, Check)
    assert check.status is Status.WARN
    assert check.title == "Waiting for rollout of backend: 2 of 3 updated replicas available"
    assert check.detail == "3/3 updated, 2/3 ready, 2/3 available"
    assert group.values["complete"] is False
    assert group.values["stalled"] is False
    assert group.values["unavailable"] == 1
    assert group.values["revision"] == 3
    conditions = group.parts[1]
    assert isinstance(conditions, Table)
    assert [r[0] for r in conditions.rows] == ["Available", "Progressing"]


def test_a_stalled_rollout_is_named_so(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    dep = backend(kube)
    progressing = dep["status"]["conditions"][1]
    progressing.update(status="False", reason="ProgressDeadlineExceeded",
                       message='ReplicaSet "backend-x" has timed out progressing.')  # fmt: skip
    kube.add(dep)
    group = run("k8s.rollout_status", deployment="backend", namespace="prod")
    assert group.parts[0].status is Status.CRIT
    assert group.parts[0].title.startswith(
        "Rollout of deployment backend is stalled: it exceeded its progress deadline"
    )
    assert group.values["stalled"] is True


def test_a_finished_rollout_is_ok(run: Run, kube: FakeKube, scenario: Scenario) -> None:
    group = run("k8s.rollout_status", deployment="backend", namespace="staging")
    assert group.parts[0].status is Status.OK
    assert group.parts[0].title == "Deployment backend successfully rolled out"
    assert group.values["complete"] is True


def test_history_lists_revisions_from_the_replicasets(run: Run, scenario: Scenario) -> None:
    table = run("k8s.rollout_history", deployment="deployment/backend", namespace="prod")
    assert isinstance(table, Table)
    assert [r[0] for r in table.rows] == ["3 (current)", "2", "1"]
    assert [r[1] for r in table.rows] == ["release 1.2: checkout v2", "release 1.1", "initial release 1.0"]
    assert [r[2] for r in table.rows] == [f"registry.example.com/backend:1.{n}" for n in (2, 1, 0)]
    assert table.values == {"revisions": 3, "current_revision": 3, "previous_revision": 2}
    one = run("k8s.rollout_history", deployment="backend", namespace="prod", revision=1)
    assert dict(one.items)["Container app"] == "registry.example.com/backend:1.0; env LOG_LEVEL=debug"
    with pytest.raises(InvalidRequest, match=r"no revision 7 \(known revisions: 1, 2, 3\)"):
        run("k8s.rollout_history", deployment="backend", namespace="prod", revision=7)


def test_history_ignores_replicasets_owned_by_something_else(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    stray = kube.get("ReplicaSet", "prod", scenario.replicasets[1])
    assert stray is not None
    stray["metadata"]["name"] = "backend-adopted-elsewhere"
    stray["metadata"]["ownerReferences"][0]["uid"] = "another-owner"
    kube.add(stray)
    assert run("k8s.rollout_history", deployment="backend", namespace="prod").values["revisions"] == 3


def test_restart_sets_the_restarted_at_annotation(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    shown = preview("k8s.rollout_restart", deployment="deploy/backend", namespace="prod")
    assert shown.summary == "deployment backend in prod: restart all 3 pods"
    assert patches(kube) == []  # a preview changes nothing
    result = run("k8s.rollout_restart", deployment="deploy/backend", namespace="prod")
    stamp = backend(kube)["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert result.values["restarted_at"] == stamp
    [patch] = patches(kube)
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.body == {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    # the controller rolled a new revision: the image did not change
    history = run("k8s.rollout_history", deployment="backend", namespace="prod")
    assert history.rows[0][0] == "4 (current)"
    assert history.rows[0][2] == "registry.example.com/backend:1.2"


def test_undo_goes_back_to_the_previous_revision(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    shown = preview("k8s.rollout_undo", deployment="deploy/backend", namespace="prod")
    assert shown.summary == (
        "deployment backend in prod: revision 3 → 2 "
        "(image registry.example.com/backend:1.2 → registry.example.com/backend:1.1)"
    )
    assert any("release 1.1" in d for d in shown.details)
    result = run("k8s.rollout_undo", deployment="deploy/backend", namespace="prod")
    assert result.values == {
        "from_revision": 3,
        "to_revision": 2,
        "image": "registry.example.com/backend:1.1",
    }
    dep = backend(kube)
    assert dep["spec"]["template"] == scenario.templates[2]
    assert "pod-template-hash" not in dep["spec"]["template"]["metadata"]["labels"]
    assert dep["metadata"]["annotations"]["kubernetes.io/change-cause"] == "release 1.1"
    [patch] = patches(kube)
    assert patch.content_type == "application/json-patch+json"
    assert patch.body[0]["op"] == "replace"
    assert patch.body[0]["path"] == "/spec/template"
    # as after kubectl rollout undo, the old ReplicaSet now carries the newest revision
    history = run("k8s.rollout_history", deployment="backend", namespace="prod")
    assert [r[0] for r in history.rows] == ["4 (current)", "3", "1"]
    assert history.rows[0][1] == "release 1.1"


def test_undo_to_a_revision_replaces_the_template_rather_than_merging(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    run("k8s.rollout_undo", deployment="backend", namespace="prod", to_revision=1)
    container = backend(kube)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/backend:1.0"
    assert container["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]  # FEATURE_CHECKOUT_V2 is gone
    assert without_hash(backend(kube)["spec"]["template"]) == scenario.templates[1]


def test_undo_to_an_unknown_revision_is_refused_listing_the_known_ones(
    run: Run, preview: Any, kube: FakeKube, scenario: Scenario
) -> None:
    with pytest.raises(InvalidRequest, match=r"has no revision 9 \(known revisions: 1, 2, 3\)"):
        preview("k8s.rollout_undo", deployment="backend", namespace="prod", to_revision=9)
    with pytest.raises(InvalidRequest, match=r"has no revision 9 \(known revisions: 1, 2, 3\)"):
        run("k8s.rollout_undo", deployment="backend", namespace="prod", to_revision=9)
    assert patches(kube) == []
    with pytest.raises(InvalidRequest, match="already runs the template of revision 3"):
        run("k8s.rollout_undo", deployment="backend", namespace="prod", to_revision=3)
    with pytest.raises(InvalidRequest, match="no previous revision"):
        run("k8s.rollout_undo", deployment="backend", namespace="staging")


def test_a_paused_deployment_is_neither_restarted_nor_rolled_back(
    run: Run, kube: FakeKube, scenario: Scenario
) -> None:
    dep = backend(kube)
    dep["spec"]["paused"] = True
    kube.add(dep)
    for name in ("k8s.rollout_restart", "k8s.rollout_undo"):
        with pytest.raises(InvalidRequest, match="deployment backend is paused: resume it"):
            run(name, deployment="backend", namespace="prod")
    assert patches(kube) == []
