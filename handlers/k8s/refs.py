"""Params shared by the /k8s handlers, and the `kind/NAME` forms kubectl accepts.

Names are checked as RFC 1123 names before any API call: `deploy/backend`,
`deployment/backend` and `backend` all mean the deployment `backend` where a deployment is
expected; `pod/NAME` or `NAME` where a pod is.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError

from handlers.params import Namespace, ObjectName, Params, arg

# The spellings kubectl accepts for the kinds these handlers act on.
KIND_ALIASES = {
    "pod": frozenset({"po", "pod", "pods"}),
    "deployment": frozenset({"deploy", "deployment", "deployments", "deployment.apps", "deployments.apps"}),
}
_NAME: TypeAdapter[str] = TypeAdapter(ObjectName)
_LABEL: TypeAdapter[str] = TypeAdapter(Namespace)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    return str(errors[0]["msg"]).removeprefix("Value error, ") if errors else str(exc)


def check_name(value: str) -> str:
    """An object name (RFC 1123 subdomain), or ValueError saying what is wrong."""
    try:
        return _NAME.validate_python(value)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


def check_label(value: str) -> str:
    """A DNS label (RFC 1123): container and namespace names."""
    try:
        return _LABEL.validate_python(value)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


def kind_of(word: str) -> str | None:
    """`deploy` → `deployment`, `po` → `pod`; None when the word names no kind we handle."""
    low = word.lower()
    return next((kind for kind, names in KIND_ALIASES.items() if low in names), None)


def split_ref(value: str, default_kind: str) -> tuple[str, str]:
    """`deploy/backend` → ("deployment", "backend"); a bare name gets `default_kind`."""
    prefix, slash, name = value.partition("/")
    if not slash:
        return default_kind, check_name(value)
    kind = kind_of(prefix)
    if kind is None:
        known = ", ".join(sorted(f"{k}/NAME" for k in KIND_ALIASES))
        raise ValueError(f"{value!r}: unknown kind {prefix!r} (use NAME, {known})")
    return kind, check_name(name)


def _only(kind: str) -> Any:
    def strip(value: Any) -> Any:
        if not isinstance(value, str) or "/" not in value:
            return value
        found, name = split_ref(value, kind)
        if found != kind:
            raise ValueError(f"{value!r} is a {found}; this command takes a {kind} (NAME or {kind}/NAME)")
        return name

    return strip


def _workload(value: str) -> str:
    kind, name = split_ref(value, "pod")
    return f"{kind}/{name}"


DeploymentName = Annotated[ObjectName, BeforeValidator(_only("deployment"))]
"""A deployment: `backend`, `deploy/backend` or `deployment/backend` (normalised to `backend`)."""
PodName = Annotated[ObjectName, BeforeValidator(_only("pod"))]
"""A pod: `NAME` or `pod/NAME` (normalised to `NAME`)."""
WorkloadRef = Annotated[str, AfterValidator(_workload)]
"""A pod or a deployment: `NAME` (a pod), `pod/NAME`, `deploy/NAME`; normalised to `kind/NAME`."""
ContainerName = Annotated[str, AfterValidator(check_label)]
"""A container name (RFC 1123 label)."""


class K8sParams(Params):
    """Every /k8s command takes `--cluster` (the bot fills the only or default cluster)."""

    cluster: str | None = arg(
        None, flags=("--cluster",), help="cluster from chatops.yaml (default: the default one)"
    )


class NamespacedParams(K8sParams):
    """Commands that act in one namespace (`-n`, as kubectl; `default` when not given)."""

    namespace: Namespace = arg("default", flags=("-n", "--namespace"), help="namespace (default: default)")


SERVICE_HELP = "a service from chatops.yaml: fills cluster, namespace and deployment"
