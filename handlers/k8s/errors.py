"""Every Kubernetes API call goes through `call`: a timeout, and failures a person can act on.

A call is described in RBAC terms (`Call("list", "pods", namespace="prod")`) so that a 403
names the verb, resource and namespace the bot's service account lacks, a 404 names the
object, and a refused or timed-out connection names the cluster. The same descriptions make
the table in `handlers.k8s.rbac` that `deploy/kubernetes/rbac.yaml` is checked against.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3
from pydantic import ValidationError

from handlers import Context
from handlers.errors import Forbidden, HandlerError, InvalidRequest, NotFound, TargetUnavailable
from handlers.redact import redact

# The kubernetes client loads in ~0.5 s: only when a Kubernetes handler runs (cold start).
if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from kubernetes.client.exceptions import ApiException

T = TypeVar("T")

# How a resource is named in a sentence ("deployment backend in namespace prod").
_SINGULAR = {
    "pods": "pod",
    "pods/log": "pod",
    "deployments": "deployment",
    "deployments/scale": "deployment",
    "replicasets": "replica set",
    "services": "service",
    "endpoints": "endpoints",
    "events": "event",
    "nodes": "node",
    "ingresses": "ingress",
    "horizontalpodautoscalers": "HPA",
}


class ApiNotServed(NotFound):
    """The cluster does not serve an API at all (a 404 on a list), e.g. no metrics-server."""


class ApiServerError(TargetUnavailable):
    """The API server answered with 5xx or 429 (for an aggregated API: its backend is down)."""


@dataclass(frozen=True)
class Call:
    """One API request in RBAC terms: verb, API group, resource (with subresource)."""

    verb: str  # get, list, patch, delete
    resource: str  # plural, or plural/subresource: "pods/log", "deployments/scale"
    group: str = ""  # "" is the core group
    namespace: str | None = None  # None: cluster-wide (nodes, or every namespace)
    name: str | None = None

    @property
    def rule(self) -> tuple[str, str, str]:
        return (self.verb, self.group, self.resource)

    @property
    def what(self) -> str:
        """The object in a sentence: `deployment backend in namespace prod`."""
        kind = _SINGULAR.get(self.resource, self.resource)
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{kind} {self.name}{where}" if self.name else f"{self.resource}{where}"


def cluster_name(ctx: Context[ApiClient]) -> str:
    return ctx.target or "(default)"


def _host(ctx: Context[ApiClient]) -> str:
    try:
        return redact(str(ctx.client.configuration.host))
    except AttributeError:
        return "its API server"


def _server_message(exc: ApiException) -> str:
    """The API server's own explanation (the Status object's message), secrets removed."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and body:
        try:
            data = json.loads(body)
        except ValueError:
            return redact(body.strip()[:300])
        if isinstance(data, dict) and data.get("message"):
            return redact(str(data["message"]))[:300]
    return redact(str(exc.reason or "")).strip()


def api_error(ctx: Context[ApiClient], what: Call, exc: ApiException) -> HandlerError:
    """Map an ApiException to the HandlerError a person can act on."""
    cluster = cluster_name(ctx)
    status = int(exc.status or 0)
    detail = _server_message(exc)
    if status == 403:
        group = f'API group "{what.group}"' if what.group else "the core API group"
        scope = f"in namespace {what.namespace}" if what.namespace else "cluster-wide"
        return Forbidden(
            f"cluster {cluster}: the bot's service account may not {what.verb} {what.resource} "
            f"({group}) {scope}. Grant verb {what.verb!r} on {what.resource!r} to its role "
            "(see deploy/kubernetes/rbac.yaml)."
        )
    if status == 401:
        return Forbidden(
            f"cluster {cluster}: the API server rejected the bot's credentials (401 Unauthorized); "
            "check the kubeconfig or service account token"
        )
    if status == 404:
        if what.name is None:
            return ApiNotServed(
                f"cluster {cluster} does not serve {what.resource} ({what.group or 'core'} API)"
            )
        return NotFound(f"{what.what} not found on cluster {cluster}")
    if status == 409:
        return InvalidRequest(f"{what.what} changed while the bot was updating it; run the command again")
    if status in (400, 422):
        return InvalidRequest(f"cluster {cluster} refused to {what.verb} {what.what}: {detail}")
    if status == 429 or status >= 500:
        return ApiServerError(
            f"cluster {cluster}: the API server could not {what.verb} {what.what} "
            f"(HTTP {status} {exc.reason or ''}): {detail}".rstrip(": ")
        )
    if status == 0:
        return HandlerError(
            f"cluster {cluster}: could not read the answer to {what.verb} {what.what}: {detail}"
        )
    return HandlerError(f"cluster {cluster}: {what.verb} {what.what} failed (HTTP {status}): {detail}")


def unreachable(ctx: Context[ApiClient], what: Call, exc: BaseException) -> TargetUnavailable:
    """A refused, reset or timed-out connection, naming the cluster and its address."""
    cluster = cluster_name(ctx)
    reason: BaseException | None = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        reason = exc.reason
    text = str(reason).lower()
    # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError in urllib3: test it first.
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        cause = "its host name does not resolve"
    elif isinstance(reason, ConnectionRefusedError) or "refused" in text:
        cause = "connection refused"
    elif isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = str(reason).rpartition("new connection: ")[2] or "cannot connect"
    elif isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
        return TargetUnavailable(
            f"cluster {cluster}: the API server at {_host(ctx)} did not answer within "
            f"{ctx.timeout:g}s ({what.verb} {what.what})"
        )
    elif isinstance(reason, urllib3.exceptions.SSLError):
        cause = f"TLS failed: {reason}"
    elif isinstance(reason, urllib3.exceptions.ProtocolError | ConnectionError):
        cause = "the connection was dropped"
    else:
        cause = type(reason).__name__
    return TargetUnavailable(
        f"cluster {cluster}: cannot reach the API server at {_host(ctx)}: {redact(cause)}"
    )


def call(ctx: Context[ApiClient], what: Call, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one API call with the handler's timeout; failures become HandlerErrors."""
    from kubernetes.client.exceptions import ApiException

    kwargs["_request_timeout"] = ctx.timeout
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        raise api_error(ctx, what, exc) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise unreachable(ctx, what, exc) from None
    except ValidationError as exc:  # the client's models could not read the server's answer
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"])
        raise HandlerError(
            f"cluster {cluster_name(ctx)}: could not read the answer to {what.verb} {what.what} "
            f"({where}: {first['msg']})"
        ) from None


def list_core(
    ctx: Context[ApiClient],
    resource: str,
    namespace: str | None,
    in_namespace: Callable[..., Any],
    everywhere: Callable[..., Any],
    **query: Any,
) -> list[Any]:
    """The items of a core-group list in one namespace, or in every namespace when it is None."""
    if namespace is None:
        found = call(ctx, Call("list", resource), everywhere, **query)
    else:
        found = call(ctx, Call("list", resource, namespace=namespace), in_namespace, namespace, **query)
    items: list[Any] = found.items
    return items
