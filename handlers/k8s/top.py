"""`/k8s top pods|nodes`: CPU and memory use from the metrics.k8s.io API (metrics-server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import field_validator

from handlers import Client, Context, handler
from handlers.errors import TargetUnavailable
from handlers.figures import Bar, BarChart, BarPanel
from handlers.k8s.errors import ApiNotServed, ApiServerError, Call, call, cluster_name
from handlers.k8s.fmt import cpu_millis, fmt_cpu, fmt_mem, fmt_pct, mem_bytes, pct
from handlers.k8s.refs import SERVICE_HELP, NamespacedParams
from handlers.k8s.workloads import list_pods
from handlers.params import LabelSelector, arg
from handlers.results import Table, Value

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient, V1Pod

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
MI = 1024 * 1024
_WHAT = {"pods": "pods", "pod": "pods", "po": "pods", "nodes": "nodes", "node": "nodes", "no": "nodes"}


class TopParams(NamespacedParams):
    what: Literal["pods", "nodes"] = arg("pods", positional=True, help="pods (default) or nodes")
    sort_by: Literal["cpu", "memory", "name"] = arg(
        "cpu", flags=("--sort-by",), help="cpu (default), memory or name"
    )
    selector: LabelSelector | None = arg(None, flags=("-l", "--selector"), help="label selector: app=backend")
    all_namespaces: bool = arg(False, flags=("-A", "--all-namespaces"), help="pods in every namespace")
    service: str | None = arg(None, flags=("-s", "--service"), help=SERVICE_HELP)

    @field_validator("what", mode="before")
    @classmethod
    def _alias(cls, v: object) -> object:
        return _WHAT.get(v.lower(), v) if isinstance(v, str) else v


def _metrics(
    ctx: Context[ApiClient], plural: str, namespace: str | None, selector: str | None
) -> list[dict[str, Any]]:
    from kubernetes.client import CustomObjectsApi

    api = CustomObjectsApi(ctx.client)
    try:
        if namespace is None:
            found: object = call(
                ctx,
                Call("list", plural, GROUP),
                api.list_cluster_custom_object,
                GROUP,
                VERSION,
                plural,
                label_selector=selector,
            )
        else:
            found = call(
                ctx,
                Call("list", plural, GROUP, namespace),
                api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                label_selector=selector,
            )
    except ApiNotServed:
        raise TargetUnavailable(
            f"cluster {cluster_name(ctx)} has no metrics API (metrics.k8s.io): metrics-server is not "
            "installed, so there is no CPU or memory usage to show. Install metrics-server to use top."
        ) from None
    except ApiServerError as exc:
        raise TargetUnavailable(
            f"cluster {cluster_name(ctx)}: the metrics API (metrics-server) is not answering: {exc}"
        ) from None
    items = found.get("items") if isinstance(found, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def _usage(usage: dict[str, Any]) -> tuple[float, float]:
    return cpu_millis(usage.get("cpu")) or 0.0, mem_bytes(usage.get("memory")) or 0.0


def _limits(pod: V1Pod, kind: str = "limits") -> tuple[float | None, float | None]:
    """The pod's CPU (millicores) and memory (bytes) limits (or requests); None when a
    container has none."""
    cpu: float | None = 0.0
    mem: float | None = 0.0
    for c in pod.spec.containers if pod.spec else []:
        lim = (getattr(c.resources, kind) if c.resources else None) or {}
        c_cpu, c_mem = cpu_millis(lim.get("cpu")), mem_bytes(lim.get("memory"))
        cpu = None if cpu is None or c_cpu is None else cpu + c_cpu
        mem = None if mem is None or c_mem is None else mem + c_mem
    return cpu, mem


def _ordered(
    rows: list[tuple[str, float, float, list[str]]], by: str
) -> list[tuple[str, float, float, list[str]]]:
    if by == "name":
        return sorted(rows, key=lambda r: r[0])
    return sorted(rows, key=lambda r: (-(r[1] if by == "cpu" else r[2]), r[0]))


def _key(pod: V1Pod) -> tuple[str, str]:
    meta = pod.metadata
    return ((meta.namespace or "") if meta else "", (meta.name or "") if meta else "")


def _bars(
    rows: list[tuple[str, float, float, list[str]]],
    marks: dict[str, tuple[Any, Any]],
    limit_label: str = "limit",
) -> list[BarPanel]:
    """CPU (cores) and memory (bytes) bars in the table's order, with each one's request and limit."""
    cpu, mem = [], []
    for key, used_cpu, used_mem, _row in rows:
        if used_cpu < 0:  # a node without metrics: nothing to draw
            continue
        (req_cpu, req_mem), (lim_cpu, lim_mem) = marks.get(key, ((None, None), (None, None)))
        name = key.split("/", 1)[-1]
        cpu.append(Bar(name, used_cpu / 1000, _scaled(req_cpu, 1000), _scaled(lim_cpu, 1000)))
        mem.append(Bar(name, used_mem, req_mem, lim_mem))
    return [BarPanel("CPU", "cores", cpu, limit_label), BarPanel("Memory", "bytes", mem, limit_label)]


def _scaled(value: float | None, by: float) -> float | None:
    return None if value is None else value / by


def top_pods(ctx: Context[ApiClient], params: TopParams) -> Table:
    namespace = None if params.all_namespaces else params.namespace
    metrics = _metrics(ctx, "pods", namespace, params.selector)
    # Limits come from the pods themselves: usage as a share of its limit shows who is near OOM.
    pods = list_pods(ctx, namespace, params.selector)
    limits = {_key(p): _limits(p) for p in pods}
    requests = {_key(p): _limits(p, "requests") for p in pods}
    rows: list[tuple[str, float, float, list[str]]] = []
    max_cpu_pct = max_mem_pct = None
    for item in metrics:
        meta = item.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        cpu = mem = 0.0
        for c in item.get("containers") or []:
            c_cpu, c_mem = _usage(c.get("usage") or {})
            cpu, mem = cpu + c_cpu, mem + c_mem
        lim_cpu, lim_mem = limits.get((ns, name), (None, None))
        cpu_pct, mem_pct = pct(cpu, lim_cpu), pct(mem, lim_mem)
        if cpu_pct is not None:
            max_cpu_pct = max(max_cpu_pct or 0.0, cpu_pct)
        if mem_pct is not None:
            max_mem_pct = max(max_mem_pct or 0.0, mem_pct)
        row = [name, fmt_cpu(cpu), fmt_pct(cpu_pct), fmt_mem(mem), fmt_pct(mem_pct)]
        rows.append((f"{ns}/{name}", cpu, mem, [ns, *row] if namespace is None else row))
    by_cpu = max(rows, key=lambda r: r[1], default=None)
    by_mem = max(rows, key=lambda r: r[2], default=None)
    values: dict[str, Value] = {
        "pods": len(rows),
        "cpu_m": round(sum(r[1] for r in rows)),
        "memory_mi": round(sum(r[2] for r in rows) / MI),
        "max_cpu_m": round(by_cpu[1]) if by_cpu else 0,
        "max_memory_mi": round(by_mem[2] / MI) if by_mem else 0,
        "max_cpu_limit_pct": max_cpu_pct,
        "max_memory_limit_pct": max_mem_pct,
        "top_cpu_pod": by_cpu[0].split("/", 1)[1] if by_cpu else "",
        "top_memory_pod": by_mem[0].split("/", 1)[1] if by_mem else "",
    }
    columns = ("NAME", "CPU(cores)", "CPU/LIMIT", "MEMORY(bytes)", "MEMORY/LIMIT")
    where = "all namespaces" if namespace is None else namespace
    total_cpu, total_mem = sum(r[1] for r in rows), sum(r[2] for r in rows)
    summary = f"{len(rows)} pods using {fmt_cpu(total_cpu)} CPU and {fmt_mem(total_mem)} memory"
    if max_mem_pct is not None:
        summary += f"; the closest to its memory limit is at {fmt_pct(max_mem_pct)}"
    marks = {
        f"{ns}/{name}": (requests.get((ns, name), (None, None)), lim) for (ns, name), lim in limits.items()
    }
    ordered = _ordered(rows, params.sort_by)
    return BarChart(
        title=f"Pod usage in {where} on cluster {cluster_name(ctx)} (by {params.sort_by})",
        columns=("NAMESPACE", *columns) if namespace is None else columns,
        rows=[r[3] for r in ordered],
        panels=_bars(ordered, marks),
        summary=summary
        if rows
        else "No pod metrics (no running pods, or metrics-server has not scraped them yet).",
        values=values,
    )


def top_nodes(ctx: Context[ApiClient], params: TopParams) -> Table:
    from kubernetes.client import CoreV1Api

    metrics = _metrics(ctx, "nodes", None, params.selector)
    nodes = call(
        ctx, Call("list", "nodes"), CoreV1Api(ctx.client).list_node, label_selector=params.selector
    ).items
    allocatable = {
        n.metadata.name: (n.status.allocatable or {}) if n.status else {}
        for n in nodes
        if n.metadata and n.metadata.name
    }
    rows: list[tuple[str, float, float, list[str]]] = []
    cpu_pcts: list[float] = []
    mem_pcts: list[float] = []
    for item in metrics:
        name = str((item.get("metadata") or {}).get("name", ""))
        cpu, mem = _usage(item.get("usage") or {})
        alloc = allocatable.get(name, {})
        cpu_pct, mem_pct = pct(cpu, cpu_millis(alloc.get("cpu"))), pct(mem, mem_bytes(alloc.get("memory")))
        cpu_pcts += [cpu_pct] if cpu_pct is not None else []
        mem_pcts += [mem_pct] if mem_pct is not None else []
        rows.append((name, cpu, mem, [name, fmt_cpu(cpu), fmt_pct(cpu_pct), fmt_mem(mem), fmt_pct(mem_pct)]))
    missing = sorted(set(allocatable) - {r[0] for r in rows})
    for name in missing:  # kubectl shows these as <unknown>: a node whose kubelet is not reporting
        rows.append((name, -1.0, -1.0, [name, "<unknown>", "<unknown>", "<unknown>", "<unknown>"]))
    values: dict[str, Value] = {
        "nodes": len(rows),
        "cpu_m": round(sum(max(r[1], 0.0) for r in rows)),
        "memory_mi": round(sum(max(r[2], 0.0) for r in rows) / MI),
        "max_cpu_pct": max(cpu_pcts, default=None),
        "max_memory_pct": max(mem_pcts, default=None),
        "without_metrics": len(missing),
    }
    summary = f"{len(rows)} nodes"
    if mem_pcts:
        busiest_cpu, busiest_mem = fmt_pct(max(cpu_pcts, default=0)), fmt_pct(max(mem_pcts))
        summary += f"; busiest: CPU {busiest_cpu}, memory {busiest_mem} of allocatable"
    if missing:
        summary += f"; no metrics from {', '.join(missing)}"
    ordered = _ordered(rows, params.sort_by)
    # A node's allocatable is its limit; it has no request.
    marks = {
        name: ((None, None), (cpu_millis(alloc.get("cpu")), mem_bytes(alloc.get("memory"))))
        for name, alloc in allocatable.items()
    }
    return BarChart(
        title=f"Node usage on cluster {cluster_name(ctx)} (by {params.sort_by})",
        columns=("NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"),
        rows=[r[3] for r in ordered],
        panels=_bars(ordered, marks, "allocatable"),
        summary=summary,
        values=values,
    )


@handler("k8s.top", TopParams, client=Client.KUBERNETES, sub="top")
def top(ctx: Context[ApiClient], params: TopParams) -> Table:
    """Show CPU and memory use of pods or nodes (metrics-server), heaviest first.

    `/k8s top pods -n prod --sort-by memory`, `/k8s top pods -l app=backend -n prod`,
    `/k8s top nodes`. Pods show use against their limits; nodes against allocatable.
    """
    return top_nodes(ctx, params) if params.what == "nodes" else top_pods(ctx, params)
