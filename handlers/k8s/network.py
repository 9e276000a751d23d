"""`/k8s svc`, `/k8s endpoints`, `/k8s ingress`: how traffic reaches the pods."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from handlers import Client, Context, handler
from handlers.k8s.errors import Call, call, cluster_name
from handlers.k8s.fmt import age, labels_string
from handlers.k8s.refs import NamespacedParams
from handlers.params import LabelSelector, ObjectName, arg
from handlers.results import Table

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import (
        ApiClient,
        V1Endpoints,
        V1Ingress,
        V1IngressBackend,
        V1Service,
    )

SHOWN_ADDRESSES = 3
T = TypeVar("T")


class NetworkParams(NamespacedParams):
    name: ObjectName | None = arg(
        None, positional=True, help="one object by name (default: all in the namespace)"
    )
    selector: LabelSelector | None = arg(None, flags=("-l", "--selector"), help="label selector: app=backend")


def _fetch(
    ctx: Context[ApiClient],
    params: NetworkParams,
    resource: str,
    group: str,
    read: Callable[..., T],
    list_all: Callable[..., Any],
) -> list[T]:
    """The object named in params, or every one in the namespace that matches the selector."""
    ns = params.namespace
    if params.name:
        return [call(ctx, Call("get", resource, group, ns, params.name), read, params.name, ns)]
    found = call(ctx, Call("list", resource, group, ns), list_all, ns, label_selector=params.selector)
    return list(found.items)


def _ports(svc: V1Service) -> str:
    out = []
    for p in (svc.spec.ports if svc.spec else None) or []:
        node = f":{p.node_port}" if p.node_port else ""
        out.append(f"{p.port}{node}/{p.protocol or 'TCP'}")
    return ",".join(out) or "<none>"


def _external(svc: V1Service) -> str:
    spec, st = svc.spec, svc.status
    if spec is None:
        return "<none>"
    if spec.type == "ExternalName":
        return spec.external_name or "<none>"
    found = [
        i.ip or i.hostname or ""
        for i in ((st.load_balancer.ingress if st and st.load_balancer else None) or [])
    ]
    found += spec.external_ips or []
    if found:
        return ",".join(x for x in found if x)
    return "<pending>" if spec.type == "LoadBalancer" else "<none>"


@handler("k8s.svc", NetworkParams, client=Client.KUBERNETES, sub="svc")
def services(ctx: Context[ApiClient], params: NetworkParams) -> Table:
    """List services: type, cluster IP, external IP, ports, selector.

    `/k8s svc -n prod`, `/k8s svc backend -n prod`. A LoadBalancer still waiting for its
    address shows `<pending>`.
    """
    from kubernetes.client import CoreV1Api

    core, ns = CoreV1Api(ctx.client), params.namespace
    items: list[V1Service] = _fetch(
        ctx, params, "services", "", core.read_namespaced_service, core.list_namespaced_service
    )
    rows = [
        [
            (s.metadata.name if s.metadata else None) or "",
            (s.spec.type if s.spec else None) or "ClusterIP",
            (s.spec.cluster_ip if s.spec else None) or "<none>",
            _external(s),
            _ports(s),
            age(s.metadata.creation_timestamp if s.metadata else None),
            labels_string(s.spec.selector if s.spec else None) or "<none>",
        ]
        for s in items
    ]
    pending = sum(1 for r in rows if r[3] == "<pending>")
    summary = f"{len(rows)} services" + (f", {pending} waiting for an external address" if pending else "")
    return Table(
        title=f"Services in {ns} on cluster {cluster_name(ctx)}",
        columns=("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"),
        rows=rows,
        summary=summary,
        values={"services": len(rows), "pending_external": pending},
    )


def _addresses(ep: V1Endpoints) -> tuple[list[str], list[str]]:
    ready: list[str] = []
    not_ready: list[str] = []
    for subset in ep.subsets or []:
        ports: list[int | None] = [p.port for p in subset.ports or []] or [None]
        for a in subset.addresses or []:
            ready += [f"{a.ip}:{p}" if p else a.ip for p in ports]
        for a in subset.not_ready_addresses or []:
            not_ready += [f"{a.ip}:{p}" if p else a.ip for p in ports]
    return ready, not_ready


def _shown(addresses: list[str]) -> str:
    if not addresses:
        return "<none>"
    more = len(addresses) - SHOWN_ADDRESSES
    return ",".join(addresses[:SHOWN_ADDRESSES]) + (f" + {more} more" if more > 0 else "")


@handler("k8s.endpoints", NetworkParams, client=Client.KUBERNETES, sub="endpoints")
def endpoints(ctx: Context[ApiClient], params: NetworkParams) -> Table:
    """List each service's endpoints; a service with no ready address is flagged and counted.

    `/k8s endpoints -n prod`, `/k8s endpoints backend -n prod`. A service without a ready
    address sends its traffic nowhere: its pods are not ready or its selector matches none.
    """
    from kubernetes.client import CoreV1Api

    core, ns = CoreV1Api(ctx.client), params.namespace
    items: list[V1Endpoints] = _fetch(
        ctx, params, "endpoints", "", core.read_namespaced_endpoints, core.list_namespaced_endpoints
    )
    rows = []
    without: list[str] = []
    ready_total = not_ready_total = 0
    for ep in items:
        name = (ep.metadata.name if ep.metadata else None) or ""
        ready, not_ready = _addresses(ep)
        ready_total, not_ready_total = ready_total + len(ready), not_ready_total + len(not_ready)
        if not ready:
            without.append(name)
        flag = "NO READY ADDRESS" if not ready else "ok"
        rows.append(
            (
                not bool(ready),
                [
                    name,
                    flag,
                    str(len(ready)),
                    str(len(not_ready)),
                    _shown(ready),
                    age(ep.metadata.creation_timestamp if ep.metadata else None),
                ],
            )
        )
    rows.sort(key=lambda r: (not r[0], r[1][0]))
    summary = f"{len(rows)} services"
    summary += (
        f", {len(without)} with no ready address: {', '.join(without)}"
        if without
        else ", all have a ready address"
    )
    return Table(
        title=f"Endpoints in {ns} on cluster {cluster_name(ctx)}",
        columns=("NAME", "STATUS", "READY", "NOT READY", "ENDPOINTS", "AGE"),
        rows=[r[1] for r in rows],
        summary=summary,
        values={
            "services": len(rows),
            "without_ready": len(without),
            "ready_addresses": ready_total,
            "not_ready_addresses": not_ready_total,
        },
    )


def _backend(b: V1IngressBackend | None) -> str:
    if b is None:
        return "<none>"
    if b.service is not None:
        port = b.service.port
        shown = (port.number if port and port.number is not None else (port.name if port else "")) or ""
        return f"{b.service.name}:{shown}"
    if b.resource is not None:
        return f"{b.resource.kind}/{b.resource.name}"
    return "<none>"


def _ingress_rows(ing: V1Ingress) -> list[list[str]]:
    spec, meta = ing.spec, ing.metadata
    name = (meta.name if meta else None) or ""
    cls = (spec.ingress_class_name if spec else None) or "<none>"
    address = _ingress_address(ing)
    tls_of = _tls_of(ing)
    rows = []
    if spec is not None and spec.default_backend is not None:
        rows.append([name, cls, "*", "(default)", _backend(spec.default_backend), tls_of("*"), address])
    for rule in (spec.rules if spec else None) or []:
        host = rule.host or "*"
        for path in (rule.http.paths if rule.http else None) or []:
            rows.append([name, cls, host, path.path or "/", _backend(path.backend), tls_of(host), address])
    if not rows:
        rows.append([name, cls, "*", "-", "<none>", "no", address])
    return rows


def _ingress_address(ing: V1Ingress) -> str:
    st = ing.status
    lb = (st.load_balancer.ingress if st and st.load_balancer else None) or []
    return ",".join(x.ip or x.hostname or "" for x in lb) or "<pending>"


def _tls_of(ing: V1Ingress) -> Callable[[str], str]:
    """host → "yes (secret)" or "no": its TLS entry, else a TLS entry that names no hosts."""
    tls = (ing.spec.tls if ing.spec else None) or []
    tls_hosts = {h: t.secret_name or "" for t in tls for h in (t.hosts or [])}
    blanket = next((t.secret_name or "" for t in tls if not t.hosts), None)

    def tls_of(host: str) -> str:
        secret = tls_hosts.get(host, blanket)
        return f"yes ({secret})" if secret is not None else "no"

    return tls_of


@handler("k8s.ingress", NetworkParams, client=Client.KUBERNETES, sub="ingress")
def ingresses(ctx: Context[ApiClient], params: NetworkParams) -> Table:
    """List ingresses, one row per host and path: backend service and port, TLS, address.

    `/k8s ingress -n prod`, `/k8s ingress web -n prod`.
    """
    from kubernetes.client import NetworkingV1Api

    net, ns = NetworkingV1Api(ctx.client), params.namespace
    items: list[V1Ingress] = _fetch(
        ctx,
        params,
        "ingresses",
        "networking.k8s.io",
        net.read_namespaced_ingress,
        net.list_namespaced_ingress,
    )
    rows = [row for ing in items for row in _ingress_rows(ing)]
    tls_hosts = {
        h for ing in items for t in ((ing.spec.tls if ing.spec else None) or []) for h in t.hosts or []
    }
    no_address = sum(1 for ing in items if _ingress_rows(ing)[0][6] == "<pending>")
    summary = f"{len(items)} ingresses, {len(rows)} routes, TLS for {len(tls_hosts)} hosts"
    if no_address:
        summary += f", {no_address} without an address yet"
    return Table(
        title=f"Ingresses in {ns} on cluster {cluster_name(ctx)}",
        columns=("NAME", "CLASS", "HOST", "PATH", "BACKEND", "TLS", "ADDRESS"),
        rows=rows,
        summary=summary,
        values={
            "ingresses": len(items),
            "rules": len(rows),
            "tls_hosts": len(tls_hosts),
            "without_address": no_address,
        },
    )
