"""/k8s logs -l SELECTOR: the logs of the pods a label selector matches, as `kubectl logs -l --prefix`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from bot.commands.parse import ParseError, parse_args, validate
from handlers import load_all
from handlers.errors import InvalidRequest, NotFound
from handlers.results import Logs
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_builders import container, cstatus, make_pod, running
from tests.fakes.k8s_fixtures import Scenario

Run = Callable[..., Any]


def log_requests(kube: FakeKube) -> list[tuple[str | None, dict[str, str]]]:
    return [(r.name, r.query) for r in kube.requests if r.resource == "pods/log"]


def pod_of(line: str) -> str:
    """`[pod/NAME/CONTAINER] text` → NAME."""
    return line.split("]", 1)[0].removeprefix("[pod/").rsplit("/", 1)[0]


def add_burst(kube: FakeKube, count: int) -> list[str]:
    """`count` running pods labelled app=burst, each with a two-line log."""
    spec = container("app", "registry.example.com/burst:1")
    names = []
    for i in range(count):
        name = f"burst-{i}"
        kube.add(
            make_pod(
                name,
                "prod",
                labels={"app": "burst"},
                containers=[(spec, cstatus(spec, running(), ready=True))],
            )
        )
        kube.set_logs("prod", name, [f"INFO  burst {i} up", f"ERROR burst {i} lost its lease"])
        names.append(name)
    return names


def test_a_selector_reads_every_matching_pod_and_only_those(
    run: Run, scenario: Scenario, kube: FakeKube
) -> None:
    kube.clear_requests()
    result = run("k8s.logs", selector="app=backend", namespace="prod")
    assert isinstance(result, Logs)
    lists = [r for r in kube.requests if r.verb == "list" and r.resource == "pods"]
    assert [r.query.get("labelSelector") for r in lists] == ["app=backend"]
    assert {pod_of(line) for line in result.lines} == set(scenario.backend_pods)
    assert sorted(name or "" for name, _q in log_requests(kube)) == sorted(scenario.backend_pods)
    # 9 lines from the first pod, 2 from the second, 1 from the crashlooping one
    assert result.values["pods"] == result.values["pods_matched"] == 3
    assert result.values["lines"] == len(result.lines) == 12
    assert result.values["error_lines"] == 2
    assert result.values["pods_failed"] == result.values["pods_skipped"] == 0
    assert result.note.startswith(
        "3 of 3 pods matching app=backend, default containers: last 500 lines of each pod"
    )
    assert result.title == "Logs of the pods matching app=backend in prod on cluster prod"


def test_each_line_is_prefixed_with_its_pod_and_container(run: Run, scenario: Scenario) -> None:
    result = run("k8s.logs", selector="app=backend", namespace="prod")
    ok, restarted = scenario.backend_pods[:2]
    assert f"[pod/{restarted}/app] INFO  ready" in result.lines
    assert f"[pod/{ok}/app] INFO  using DATABASE_URL=postgresql://app:***@db:5432/main" in result.lines
    assert f"[pod/{scenario.crashloop}/app] INFO  starting backend 1.2 on :8080" in result.lines
    # one pod's lines together, in the log's order (pods in name order)
    mine = [line for line in result.lines if pod_of(line) == ok]
    assert mine[0].endswith("INFO  starting backend 1.2 on :8080")
    assert mine[-1].endswith("@db:5432/main")
    firsts = list(dict.fromkeys(pod_of(line) for line in result.lines))
    assert firsts == sorted(scenario.backend_pods)


def test_tail_counts_per_pod_and_since_timestamps_reach_every_request(
    run: Run, scenario: Scenario, kube: FakeKube
) -> None:
    kube.clear_requests()
    result = run("k8s.logs", selector="app=backend", namespace="prod", tail=1, since="1h", timestamps=True)
    assert len(result.lines) == 3  # one line from each of the three pods
    assert {pod_of(line) for line in result.lines} == set(scenario.backend_pods)
    queries = [q for _name, q in log_requests(kube)]
    assert len(queries) == 3
    assert all(q["tailLines"] == "1" and q["sinceSeconds"] == "3600" for q in queries)
    assert all(q["timestamps"] == "true" and q["container"] == "app" for q in queries)
    # the prefix comes first, then the time, as `kubectl logs --prefix --timestamps` prints
    stamp = result.lines[0].split("] ", 1)[1].split(" ", 1)[0]
    assert datetime.fromisoformat(stamp).tzinfo is not None
    assert "last 1 lines of each pod from the last 60m" in result.note


def test_grep_filters_the_lines_not_the_prefixes(run: Run, scenario: Scenario) -> None:
    result = run("k8s.logs", selector="app=backend", namespace="prod", grep="ready")
    # "backend" is in every pod name: the filter looks at the log line only
    assert result.lines == [f"[pod/{scenario.backend_pods[1]}/app] INFO  ready"]
    assert result.values["matched"] == 1
    assert result.values["lines"] == 12
    assert "1 of 12 lines contain 'ready'" in result.note


def test_at_most_five_pods_are_read_and_the_note_says_so(run: Run, kube: FakeKube) -> None:
    names = add_burst(kube, 7)
    kube.clear_requests()
    result = run("k8s.logs", selector="app=burst", namespace="prod")
    assert [name for name, _q in log_requests(kube)] == names[:5]
    assert {pod_of(line) for line in result.lines} == set(names[:5])
    assert result.values["pods"] == 5
    assert result.values["pods_matched"] == 7
    assert result.values["pods_skipped"] == 2
    assert result.values["error_lines"] == 5
    assert result.note.startswith("5 of 7 pods matching app=burst")
    assert "2 more matching pods not read (at most 5, --max-log-requests)" in result.note
    more = run("k8s.logs", selector="app=burst", namespace="prod", max_log_requests=10)
    assert more.values["pods"] == 7
    assert more.values["pods_skipped"] == 0
    assert "not read" not in more.note


def test_a_pod_that_cannot_give_its_log_is_named_and_the_others_shown(run: Run, scenario: Scenario) -> None:
    # only the crashlooping pod has a previous container
    result = run("k8s.logs", selector="app=backend", namespace="prod", previous=True)
    assert result.lines[-1] == f"[pod/{scenario.crashloop}/app] Killed"
    assert {pod_of(line) for line in result.lines} == {scenario.crashloop}
    assert result.values["pods"] == 1
    assert result.values["pods_failed"] == 2
    assert result.note.startswith("1 of 3 pods matching app=backend, default previous containers")
    assert "not read:" in result.note
    for name in scenario.backend_pods[:2]:
        assert f'previous terminated container "app" in pod "{name}" not found' in result.note


def test_a_container_that_no_matching_pod_has_is_refused(run: Run, kube: FakeKube) -> None:
    kube.clear_requests()
    with pytest.raises(
        InvalidRequest, match=r"no log could be read from the 3 pods matching app=backend"
    ) as exc:
        run("k8s.logs", selector="app=backend", namespace="prod", container="sidecar")
    assert "has no container 'sidecar' (it has: app)" in str(exc.value)
    assert log_requests(kube) == []


def test_when_no_pod_can_give_its_log_the_reason_is_shown(run: Run, scenario: Scenario) -> None:
    with pytest.raises(InvalidRequest, match="is waiting to start: ImagePullBackOff"):
        run("k8s.logs", selector="app=worker", namespace="prod")


def test_a_selector_that_matches_nothing_says_so(run: Run, scenario: Scenario) -> None:
    with pytest.raises(
        NotFound, match="no pods in namespace prod match the selector app=ghost on cluster prod"
    ):
        run("k8s.logs", selector="app=ghost", namespace="prod")


def test_set_based_selectors_work(run: Run, scenario: Scenario) -> None:
    result = run("k8s.logs", selector="app in (frontend, backend)", namespace="prod", tail=1)
    assert result.values["pods"] == result.values["pods_matched"] == 4
    assert {pod_of(line) for line in result.lines} == set(scenario.backend_pods)  # frontend's log is empty


@pytest.mark.parametrize(
    "selector", ["=backend", "app=backend,,tier=web", "app in (a", "app=back end", "app=(x)"]
)
def test_a_bad_selector_is_refused_before_any_request(selector: str, kube: FakeKube) -> None:
    spec = load_all().get("k8s.logs")
    assert spec is not None
    with pytest.raises(ValidationError, match="not a valid label selector term"):
        spec.params.model_validate({"selector": selector, "namespace": "prod"})
    assert kube.requests == []


@pytest.mark.parametrize(
    ("params", "given"),
    [
        ({"name": "backend-abc"}, "pod/backend-abc"),
        ({"name": "deploy/backend"}, "deployment/backend"),
        ({"deployment": "backend"}, "--deployment backend"),
    ],
)
def test_a_selector_with_a_pod_or_deployment_is_refused(
    params: dict[str, str], given: str, kube: FakeKube
) -> None:
    spec = load_all().get("k8s.logs")
    assert spec is not None
    with pytest.raises(ValidationError, match="give either -l/--selector or a pod NAME") as exc:
        spec.params.model_validate({**params, "selector": "app=backend", "namespace": "prod"})
    assert given in str(exc.value)
    assert kube.requests == []


def test_what_the_user_types_is_parsed_and_refused_with_the_usage() -> None:
    spec = load_all().get("k8s.logs")
    assert spec is not None
    raw = parse_args(spec, ["-l", "app=backend", "-n", "prod", "--tail", "100"], "k8s")
    params = validate(spec, raw, "k8s")
    assert params.model_dump(include={"selector", "namespace", "tail"}) == {
        "selector": "app=backend",
        "namespace": "prod",
        "tail": 100,
    }
    with pytest.raises(ParseError, match=r"give either -l/--selector or a pod NAME.*Usage: k8s logs"):
        validate(spec, parse_args(spec, ["backend-abc", "-l", "app=backend"], "k8s"), "k8s")
