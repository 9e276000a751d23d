"""`/k8s logs`: a pod's log, or a deployment's newest ready pod's, filtered and tailed."""

from __future__ import annotations

import math
from typing import Annotated

from kubernetes.client import ApiClient, CoreV1Api, V1Pod
from pydantic import Field, model_validator

from handlers import Client, Context, handler
from handlers.errors import InvalidRequest, NotFound
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import human_duration
from handlers.k8s.refs import SERVICE_HELP, ContainerName, DeploymentName, NamespacedParams, WorkloadRef
from handlers.k8s.workloads import deployment_selector, list_pods, newest_pod, read_deployment
from handlers.params import Duration, arg
from handlers.redact import redact
from handlers.results import Logs

# The API server cuts the log here: a chat message never needs more, and memory stays bounded.
LIMIT_BYTES = 8 * 1024 * 1024
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


class LogsParams(NamespacedParams):
    name: WorkloadRef | None = arg(None, positional=True, help="pod NAME, pod/NAME or deploy/NAME")
    container: ContainerName | None = arg(
        None, flags=("-c", "--container"), help="container (default: the pod's default)"
    )
    tail: Annotated[int, Field(ge=1, le=100_000)] = arg(
        500, flags=("--tail",), help="last N lines (default 500)"
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
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)

    @model_validator(mode="after")
    def _something(self) -> LogsParams:
        if self.name is None and self.deployment is None:
            raise ValueError("give a pod NAME, pod/NAME, deploy/NAME, --deployment or --service")
        if self.since is not None and self.since.total_seconds() <= 0:
            raise ValueError("--since must be a positive duration such as 30m")
        return self


def _default_container(pod: V1Pod) -> str:
    annotations = (pod.metadata.annotations if pod.metadata else None) or {}
    containers = pod.spec.containers if pod.spec else []
    return annotations.get(DEFAULT_CONTAINER) or (containers[0].name if containers else "")


def _resolve(ctx: Context[ApiClient], params: LogsParams) -> tuple[V1Pod, str]:
    """The pod to read, and how it was chosen (for the note)."""
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
    pod_name = pod.metadata.name if pod.metadata else "?"
    how = "newest ready" if ready else "newest (none is ready)"
    return pod, f"pod {pod_name}, the {how} of {len(candidates)} pods of deployment {dep_name}"


@handler("k8s.logs", LogsParams, client=Client.KUBERNETES, sub="logs")
def logs(ctx: Context[ApiClient], params: LogsParams) -> Logs:
    """Show a pod's log, or a deployment's newest ready pod's: tail, since, previous, grep.

    `/k8s logs deploy/backend -n prod --since 30m --grep ERROR`, `/k8s logs POD -c app
    --previous --tail 200`. `--grep` keeps the lines containing the text, ignoring case.
    Long logs are cut in the message and uploaded whole as a file.
    """
    pod, chosen = _resolve(ctx, params)
    ns = params.namespace
    pod_name = (pod.metadata.name if pod.metadata else None) or ""
    spec = pod.spec
    names = [c.name for c in (spec.containers if spec else [])]
    names += [c.name for c in (spec.init_containers if spec else None) or []]
    container = params.container or _default_container(pod)
    if container not in names:
        raise InvalidRequest(
            f"pod {pod_name} in namespace {ns} has no container {container!r} (it has: {', '.join(names)})"
        )
    kwargs: dict[str, object] = {
        "container": container,
        "tail_lines": params.tail,
        "previous": params.previous,
        "timestamps": params.timestamps,
        "limit_bytes": LIMIT_BYTES,
    }
    if params.since is not None:
        kwargs["since_seconds"] = max(1, math.ceil(params.since.total_seconds()))
    text = call(
        ctx,
        Call("get", "pods/log", namespace=ns, name=pod_name),
        CoreV1Api(ctx.client).read_namespaced_pod_log,
        pod_name,
        ns,
        **kwargs,
    )
    lines = [redact(line) for line in (text or "").splitlines()]
    kept = lines
    if params.grep:
        needle = params.grep.casefold()
        kept = [line for line in lines if needle in line.casefold()]
    which = "previous container" if params.previous else "container"
    note = f"{chosen}, {which} {container}: last {params.tail} lines"
    if params.since is not None:
        note += f" from the last {human_duration(params.since.total_seconds())}"
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
            "error_lines": sum(1 for line in lines if "error" in line.casefold()),
            "pod": pod_name,
            "container": container,
            "previous": params.previous,
        },
    )
