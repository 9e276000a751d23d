"""`/k8s logs`: a pod's log, a deployment's newest ready pod's, or the pods a label selector
matches (each line prefixed `[pod/NAME/CONTAINER]`, as `kubectl logs --prefix`), filtered and tailed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, model_validator

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest, NotFound
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import human_duration
from handlers.k8s.refs import SERVICE_HELP, ContainerName, DeploymentName, NamespacedParams, WorkloadRef
from handlers.k8s.workloads import deployment_selector, list_pods, newest_pod, read_deployment
from handlers.params import Duration, LabelSelector, arg
from handlers.redact import redact
from handlers.results import Logs

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Pod

# The API server cuts the log here: a chat message never needs more, and memory stays bounded.
# With a selector the budget is shared between the pods read.
LIMIT_BYTES = 8 * 1024 * 1024
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# With -l, how many pods are read unless --max-log-requests says otherwise: kubectl's own
# default for that flag. (kubectl applies it to concurrent --follow streams; here it bounds
# how many logs one chat answer carries.)
MAX_PODS = 5


class LogsParams(NamespacedParams):
    name: WorkloadRef | None = arg(None, positional=True, help="pod NAME, pod/NAME or deploy/NAME")
    container: ContainerName | None = arg(
        None, flags=("-c", "--container"), help="container (default: the pod's default)"
    )
    tail: Annotated[int, Field(ge=1, le=100_000)] = arg(
        500, flags=("--tail",), help="last N lines (default 500; with -l, of each pod)"
    )
    since: Duration | None = arg(None, flags=("--since",), help="only lines newer than this: 30m, 1h")
    previous: bool = arg(False, flags=("-p", "--previous"), help="the previous (crashed) container's log")
    grep: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\n\r]*$")] | None = arg(
        None, flags=("--grep",), help="keep lines containing this text (case-insensitive)"
    )
    timestamps: bool = arg(False, flags=("--timestamps",), help="prefix each line with its time")
    deployment: DeploymentName | None = arg(
        None, flags=("-d", "--deployment"), help="a deployment's newest ready pod"
    )
    selector: LabelSelector | None = arg(
        None, flags=("-l", "--selector"), help="the pods matching this label selector: app=backend"
    )
    max_log_requests: Annotated[int, Field(ge=1, le=20)] = arg(
        MAX_PODS, flags=("--max-log-requests",), help=f"with -l: read at most N pods (default {MAX_PODS})"
    )
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)

    @model_validator(mode="after")
    def _something(self) -> LogsParams:
        if self.selector is not None and (self.name is not None or self.deployment is not None):
            given = self.name if self.name is not None else f"--deployment {self.deployment}"
            raise ValueError(
                f"give either -l/--selector or a pod NAME / deploy/NAME / --deployment, not both "
                f"(got -l {self.selector} and {given}; --service fills --deployment)"
            )
        if self.name is None and self.deployment is None and self.selector is None:
            raise ValueError("give a pod NAME, pod/NAME, deploy/NAME, --deployment, -l SELECTOR or --service")
        if self.since is not None and self.since.total_seconds() <= 0:
            raise ValueError("--since must be a positive duration such as 30m")
        return self


def _default_container(pod: V1Pod) -> str:
    annotations = (pod.metadata.annotations if pod.metadata else None) or {}
    containers = pod.spec.containers if pod.spec else []
    return annotations.get(DEFAULT_CONTAINER) or (containers[0].name if containers else "")


def _name(pod: V1Pod) -> str:
    return (pod.metadata.name if pod.metadata else None) or ""


def _container(pod: V1Pod, params: LogsParams) -> str:
    """The container to read (asked for, else the pod's default); InvalidRequest if it has none such."""
    spec = pod.spec
    names = [c.name for c in (spec.containers if spec else [])]
    names += [c.name for c in (spec.init_containers if spec else None) or []]
    container = params.container or _default_container(pod)
    if container not in names:
        raise InvalidRequest(
            f"pod {_name(pod)} in namespace {params.namespace} has no container {container!r} "
            f"(it has: {', '.join(names)})"
        )
    return container


def _read(ctx: Context[ApiClient], params: LogsParams, pod: str, container: str, limit: int) -> list[str]:
    """One container's log lines, secrets redacted."""
    from kubernetes.client import CoreV1Api

    kwargs: dict[str, object] = {
        "container": container,
        "tail_lines": params.tail,
        "previous": params.previous,
        "timestamps": params.timestamps,
        "limit_bytes": limit,
    }
    if params.since is not None:
        kwargs["since_seconds"] = max(1, math.ceil(params.since.total_seconds()))
    ns = params.namespace
    text = call(
        ctx,
        Call("get", "pods/log", namespace=ns, name=pod),
        CoreV1Api(ctx.client).read_namespaced_pod_log,
        pod,
        ns,
        **kwargs,
    )
    return [redact(line) for line in (text or "").splitlines()]


def _keep(params: LogsParams, line: str) -> bool:
    return params.grep is None or params.grep.casefold() in line.casefold()


def _is_error(line: str) -> bool:
    return "error" in line.casefold()


def _pods(n: int, bare: bool = False) -> str:
    word = "pod" if n == 1 else "pods"
    return word if bare else f"{n} {word}"


def _window(params: LogsParams, each: str = "") -> str:
    """`last 500 lines[ of each pod][ from the last 1h]`, for the note."""
    out = f"last {params.tail} lines{each}"
    if params.since is not None:
        out += f" from the last {human_duration(params.since.total_seconds())}"
    return out


def _resolve(ctx: Context[ApiClient], params: LogsParams) -> tuple[V1Pod, str]:
    """The pod to read, and how it was chosen (for the note)."""
    from kubernetes.client import CoreV1Api

    ns = params.namespace
    kind, _, name = (params.name or "").partition("/")
    if params.name is not None and kind == "pod":
        pod = call(
            ctx,
            Call("get", "pods", namespace=ns, name=name),
            CoreV1Api(ctx.client).read_namespaced_pod,
            name,
            ns,
        )
        return pod, f"pod {name}"
    dep_name = name if params.name is not None else (params.deployment or "")
    dep = read_deployment(ctx, ns, dep_name)
    candidates = list_pods(ctx, ns, deployment_selector(dep))
    chosen = newest_pod(candidates)
    if chosen is None:
        raise NotFound(f"deployment {dep_name} in namespace {ns} has no pods on cluster {cluster_name(ctx)}")
    pod, ready = chosen
    how = "newest ready" if ready else "newest (none is ready)"
    return pod, f"pod {_name(pod)}, the {how} of {len(candidates)} pods of deployment {dep_name}"


def _one_pod(ctx: Context[ApiClient], params: LogsParams) -> Logs:
    pod, chosen = _resolve(ctx, params)
    ns = params.namespace
    pod_name = _name(pod)
    container = _container(pod, params)
    lines = _read(ctx, params, pod_name, container, LIMIT_BYTES)
    kept = [line for line in lines if _keep(params, line)]
    which = "previous container" if params.previous else "container"
    note = f"{chosen}, {which} {container}: {_window(params)}"
    if params.grep:
        note += f"; {len(kept)} of {len(lines)} lines contain {params.grep!r}"
    elif not lines:
        note += "; the log is empty"
    return Logs(
        title=f"Logs of {pod_name} ({container}) in {ns} on cluster {cluster_name(ctx)}",
        lines=kept,
        note=note,
        values={
            "lines": len(lines),
            "matched": len(kept),
            "error_lines": sum(1 for line in lines if _is_error(line)),
            "pod": pod_name,
            "container": container,
            "previous": params.previous,
        },
    )


def _by_selector(ctx: Context[ApiClient], params: LogsParams, selector: str) -> Logs:
    """`kubectl logs -l SELECTOR --prefix`: each matching pod's log in turn, pods by name.

    A pod whose log cannot be read (still pulling its image, no previous container, no such
    container) is named in the note and the others are shown, as `--ignore-errors` does:
    one broken pod is often the reason for looking. Only if none can be read is it an error.
    """
    ns = params.namespace
    cluster = cluster_name(ctx)
    pods = sorted(list_pods(ctx, ns, selector), key=_name)
    if not pods:
        raise NotFound(f"no pods in namespace {ns} match the selector {selector} on cluster {cluster}")
    chosen = pods[: params.max_log_requests]
    got = _read_pods(ctx, params, chosen)
    if got.read == 0:
        raise InvalidRequest(
            f"no log could be read from the {_pods(len(chosen))} matching {selector} in namespace {ns} "
            f"on cluster {cluster}: " + "; ".join(got.failed)
        )
    skipped = len(pods) - len(chosen)
    return Logs(
        title=f"Logs of the pods matching {selector} in {ns} on cluster {cluster}",
        lines=got.out,
        note=_selector_note(params, selector, len(pods), skipped, got),
        values={
            "pods": got.read,
            "pods_matched": len(pods),
            "pods_failed": len(got.failed),
            "pods_skipped": skipped,
            "lines": got.total,
            "matched": len(got.out),
            "error_lines": got.errors,
            "selector": selector,
            "previous": params.previous,
        },
    )


@dataclass
class _Gathered:
    """What reading the chosen pods' logs gave: kept lines (prefixed), counts, and failures."""

    out: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    total: int = 0
    errors: int = 0
    read: int = 0


def _read_pods(ctx: Context[ApiClient], params: LogsParams, chosen: list[V1Pod]) -> _Gathered:
    limit = max(64 * 1024, LIMIT_BYTES // len(chosen))
    got = _Gathered()
    for pod in chosen:
        name = _name(pod)
        try:
            container = _container(pod, params)
            lines = _read(ctx, params, name, container, limit)
        except (InvalidRequest, NotFound) as exc:
            got.failed.append(str(exc))
            continue
        got.read += 1
        got.total += len(lines)
        got.errors += sum(1 for line in lines if _is_error(line))
        # The prefix is added after --grep so that the pod's name never matches the filter.
        got.out += [f"[pod/{name}/{container}] {line}" for line in lines if _keep(params, line)]
    return got


def _selector_note(params: LogsParams, selector: str, matched: int, skipped: int, got: _Gathered) -> str:
    which = "previous containers" if params.previous else "containers"
    what = f"container {params.container}" if params.container else f"default {which}"
    if params.previous and params.container:
        what = f"previous container {params.container}"
    note = f"{got.read} of {_pods(matched)} matching {selector}, {what}: {_window(params, ' of each pod')}"
    if params.grep:
        note += f"; {len(got.out)} of {got.total} lines contain {params.grep!r}"
    elif got.total == 0:
        note += "; the logs are empty"
    if skipped:
        note += (
            f"; {skipped} more matching {_pods(skipped, bare=True)} not read "
            f"(at most {params.max_log_requests}, --max-log-requests): narrow the selector or raise the limit"
        )
    if got.failed:
        note += f"; not read: {'; '.join(got.failed)}"
    return note


@handler("k8s.logs", LogsParams, client=Client.KUBERNETES, sub="logs")
def logs(ctx: Context[ApiClient], params: LogsParams) -> Logs:
    """Show a pod's log, a deployment's newest ready pod's, or the pods a selector matches.

    `/k8s logs deploy/backend -n prod --since 30m --grep ERROR`, `/k8s logs POD -c app
    --previous --tail 200`, `/k8s logs -l app=backend -n prod --tail 100`. `--grep` keeps the
    lines containing the text, ignoring case. With `-l` each line starts `[pod/NAME/CONTAINER]`,
    `--tail` counts per pod, and at most 5 pods are read (`--max-log-requests N` for more).
    Long logs are cut in the message and uploaded whole as a file.
    """
    if params.selector is not None:
        return _by_selector(ctx, params, params.selector)
    return _one_pod(ctx, params)
