"""A small stateful fake Kubernetes API server that the official client talks HTTP to.

    with FakeKube() as kube:
        kube.add(make_pod("backend-1", "prod", labels={"app": "backend"}))
        kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
        api = kubernetes.config.new_client_from_config(config_file=..., context="prod")

It is a real HTTP server on 127.0.0.1 (port 0, threaded). It honours label and field
selectors, the deployments' scale subresource, pod logs (tailLines, sinceSeconds, previous,
container), JSON / merge / strategic merge patches, DELETE, and rolls a deployment out (a new
or re-used ReplicaSet with the next revision) when its pod template changes. The metrics.k8s.io
API can be switched off, a verb on a resource can be made to answer 403 (or any status), and
the whole server can be taken down and brought back. Every request is recorded in `requests`.
Objects must carry every field the client's (pydantic) models require: build them with
`tests.fakes.k8s_fixtures`.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from tests.fakes.k8s_api import (
    BY_PATH,
    KINDS,
    METRICS_GROUP,
    REASONS,
    SERVICE_ACCOUNT,
    ApiError,
    Kind,
    Request,
    iso,
    read_log,
    scale_of,
)
from tests.fakes.k8s_ops import (
    Obj,
    PatchError,
    SelectorError,
    apply_patch,
    field_matcher,
    label_matcher,
    merge_patch,
    rollout,
    without_hash,
)


@dataclass(frozen=True)
class _Failure:
    verb: str
    resource: str
    status: int
    namespace: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, fake: FakeKube) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # the tests' output stays readable
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, ctype, payload = self.server.fake.handle(
            self.command, self.path, self.headers.get("Content-Type", ""), raw
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()


class FakeKube:
    """The fake API server with its object store. Use it as a context manager."""

    def __init__(self, *, metrics: bool = True) -> None:
        self.metrics_enabled = metrics
        self.requests: list[Request] = []
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._logs: dict[tuple[str, str, str, bool], list[tuple[datetime, str]]] = {}
        self._failures: list[_Failure] = []
        self._delay = 0.0
        self._lock = threading.RLock()
        self._rv = itertools.count(1000)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeKube:
        self.up()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    def up(self) -> None:
        """Start answering (again, on the same port after `down`)."""
        if self._server is not None:
            return
        self._server = _Server(self._port, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kube", daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def delay(self, seconds: float) -> None:
        """Answer every request only after `seconds` (to test timeouts)."""
        self._delay = seconds

    def write_kubeconfig(self, path: str | Path, context: str = "prod", namespace: str = "default") -> Path:
        """Write (or add this server's context to) a kubeconfig file; returns its path."""
        path = Path(path)
        cfg: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [],
            "users": [],
            "contexts": [],
        }
        if path.exists():
            cfg = yaml.safe_load(path.read_text()) or cfg
        for key in ("clusters", "users", "contexts"):
            cfg[key] = [e for e in cfg.get(key) or [] if e.get("name") != context]
        cfg["clusters"].append({"name": context, "cluster": {"server": self.url}})
        cfg["users"].append({"name": context, "user": {"token": f"fake-token-{context}"}})
        cfg["contexts"].append(
            {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
        )
        cfg.setdefault("current-context", context)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    # -- the store -------------------------------------------------------------------------

    def add(self, obj: Obj) -> Obj:
        """Store an object, filling the fields the server sets (uid, resourceVersion...)."""
        kind = KINDS[obj["kind"]]
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", kind.api_version)
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", iso(datetime.now(UTC)))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._rv))
        with self._lock:
            if kind.kind == "PodMetrics" and "labels" not in meta:
                # metrics-server reports a pod's labels with its metrics (so selectors work)
                pod = self._table(KINDS["Pod"]).get((meta["namespace"], meta["name"]))
                meta["labels"] = copy.deepcopy((pod or {}).get("metadata", {}).get("labels") or {})
            self._table(kind)[(meta.get("namespace", ""), meta["name"])] = obj
        return copy.deepcopy(obj)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            obj = self._table(KINDS[kind]).get((namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            return [
                copy.deepcopy(o)
                for (ns, _n), o in sorted(self._table(KINDS[kind]).items())
                if namespace is None or ns == namespace
            ]

    def remove(self, kind: str, namespace: str | None, name: str) -> None:
        with self._lock:
            self._table(KINDS[kind]).pop((namespace or "", name), None)

    def set_logs(
        self,
        namespace: str,
        pod: str,
        lines: Iterable[str | tuple[datetime, str]],
        *,
        container: str = "app",
        previous: bool = False,
    ) -> None:
        """Give a container its log; bare lines are stamped one second apart, ending now."""
        items = list(lines)
        now = datetime.now(UTC)
        stamped = [
            line if isinstance(line, tuple) else (now - timedelta(seconds=len(items) - i), line)
            for i, line in enumerate(items)
        ]
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = stamped

    def fail(self, verb: str, resource: str, status: int = 403, namespace: str | None = None) -> None:
        """Answer `verb` on `resource` (e.g. "list", "pods"; "patch", "deployments/scale") with `status`."""
        self._failures.append(_Failure(verb, resource, status, namespace))

    def clear_failures(self) -> None:
        self._failures.clear()

    def clear_requests(self) -> None:
        self.requests.clear()

    def _table(self, kind: Kind) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault((kind.group, kind.plural), {})

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, content_type: str, raw: bytes) -> tuple[int, str, bytes]:
        if self._delay:
            time.sleep(self._delay)
        url = urlsplit(raw_path)
        query = dict(parse_qsl(url.query))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        try:
            result = self._route(method, url.path, query, content_type, body)
        except ApiError as resp:
            return resp.status, "application/json", json.dumps(resp.body()).encode()
        if isinstance(result, str):
            return 200, "text/plain; charset=utf-8", result.encode()
        status = 201 if method == "POST" else 200
        return status, "application/json", json.dumps(result).encode()

    def _route(self, method: str, path: str, query: dict[str, str], ctype: str, body: Any) -> Obj | str:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        plural, name, sub = (
            rest[0],
            (rest[1] if len(rest) > 1 else None),
            (rest[2] if len(rest) > 2 else None),
        )
        verb = {
            "GET": "get" if name else "list",
            "PATCH": "patch",
            "PUT": "update",
            "POST": "create",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
        if method == "GET" and query.get("watch") in ("true", "1"):
            verb = "watch"
        resource = f"{plural}/{sub}" if sub else plural
        self.requests.append(
            Request(method, path, query, verb, group, resource, namespace, name, ctype, body)
        )
        kind = BY_PATH.get((group, version, plural))
        if kind is None or (group == METRICS_GROUP and not self.metrics_enabled):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        for f in self._failures:
            if f.verb == verb and f.resource == resource and f.namespace in (None, namespace):
                self._refuse(f.status, verb, group, resource, namespace, name)
        with self._lock:
            if sub == "log" and kind.kind == "Pod" and verb == "get":
                pod = self._table(KINDS["Pod"]).get((namespace or "", name or ""))
                logs = {
                    (c, prev): v for (ns, n, c, prev), v in self._logs.items() if (ns, n) == (namespace, name)
                }
                return read_log(pod, name or "", logs, query)
            if sub == "scale" and kind.kind == "Deployment" and verb in ("get", "patch", "update"):
                return self._scale(verb, namespace or "", name or "", ctype, body)
            if sub is not None or verb in ("watch", "deletecollection"):
                raise ApiError(405, "MethodNotAllowed", f"the fake does not serve {verb} {resource}")
            if verb == "list":
                return self._list(kind, namespace, query)
            if verb == "create":
                return self._create(kind, namespace, body)
            obj = self._table(kind).get((namespace or "", name or ""))
            if obj is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f"{plural}.{group or ''}".rstrip(".") + f' "{name}" not found',
                    {"name": name, "group": group, "kind": plural},
                )
            if verb == "get":
                return copy.deepcopy(obj)
            if verb == "delete":
                del self._table(kind)[(namespace or "", name or "")]
                gone = copy.deepcopy(obj)
                gone["metadata"]["deletionTimestamp"] = iso(datetime.now(UTC))
                return gone
            if verb == "patch":
                return self._patch(kind, obj, ctype, body)
            return self._update(kind, obj, body)

    def _refuse(
        self, status: int, verb: str, group: str, resource: str, ns: str | None, name: str | None
    ) -> None:
        if status == 403:
            where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
            what = resource.split("/")[0] + (f' "{name}"' if name else "")
            msg = (
                f'{what} is forbidden: User "{SERVICE_ACCOUNT}" '
                f'cannot {verb} resource "{resource}" in API group "{group}"{where}'
            )
        else:
            msg = f"injected failure for {verb} {resource}"
        raise ApiError(status, REASONS.get(status, "Unknown"), msg, {"kind": resource.split("/")[0]})

    def _items(self, kind: Kind, namespace: str | None) -> Iterator[Obj]:
        for (ns, _name), obj in sorted(self._table(kind).items()):
            if namespace is None or ns == namespace:
                yield obj

    def _list(self, kind: Kind, namespace: str | None, query: dict[str, str]) -> Obj:
        try:
            by_label = label_matcher(query.get("labelSelector"))
            by_field = field_matcher(query.get("fieldSelector"))
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        items = [
            copy.deepcopy(o)
            for o in self._items(kind, namespace)
            if by_label(o["metadata"].get("labels") or {}) and by_field(o)
        ]
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(next(self._rv))},
            "items": items,
        }

    def _create(self, kind: Kind, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        body = {**body, "kind": kind.kind}
        body.setdefault("metadata", {})["namespace"] = namespace
        name = body["metadata"].get("name")
        if (namespace or "", name) in self._table(kind):
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{name}" already exists')
        return self.add(body)

    def _bump(self, kind: Kind, before: Obj, after: Obj) -> Obj:
        meta = after["metadata"]
        old = before["metadata"]
        for key in ("name", "namespace", "uid", "creationTimestamp"):
            if key in old:
                meta[key] = old[key]
        if before.get("spec") != after.get("spec"):
            meta["generation"] = int(old.get("generation", 1)) + 1
        meta["resourceVersion"] = str(next(self._rv))
        after["kind"], after["apiVersion"] = kind.kind, kind.api_version
        self._table(kind)[(meta.get("namespace", ""), meta["name"])] = after
        if kind.kind == "Deployment" and without_hash(before["spec"]["template"]) != without_hash(
            after["spec"]["template"]
        ):
            self._roll(after)
        return copy.deepcopy(after)

    def _roll(self, deployment: Obj) -> None:
        ns = deployment["metadata"]["namespace"]
        rs_kind = KINDS["ReplicaSet"]
        owner = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment["metadata"]["name"],
            "uid": deployment["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        created = rollout(deployment, list(self._items(rs_kind, ns)), lambda _d: owner)
        if created is not None:
            self.add(created)

    def _patch(self, kind: Kind, obj: Obj, ctype: str, body: Any) -> Obj:
        try:
            patched = apply_patch(obj, ctype, body)
        except PatchError as exc:
            raise ApiError(exc.status, REASONS.get(exc.status, "Invalid"), str(exc)) from None
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"patch does not apply: {exc}") from None
        return self._bump(kind, obj, patched)

    def _update(self, kind: Kind, obj: Obj, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural} "{obj["metadata"]["name"]}": '
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        return self._bump(kind, obj, copy.deepcopy(body))

    # -- subresources ----------------------------------------------------------------------

    def _scale(self, verb: str, ns: str, name: str, ctype: str, body: Any) -> Obj:
        kind = KINDS["Deployment"]
        dep = self._table(kind).get((ns, name))
        if dep is None:
            raise ApiError(
                404, "NotFound", f'deployments.apps "{name}" not found', {"name": name, "kind": "deployments"}
            )
        scale = scale_of(dep)
        if verb == "get":
            return scale
        try:
            new = apply_patch(scale, ctype, body) if verb == "patch" else merge_patch(scale, body)
        except PatchError as exc:
            raise ApiError(exc.status, REASONS.get(exc.status, "Invalid"), str(exc)) from None
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: must be >= 0'
            )
        after = copy.deepcopy(dep)
        after["spec"]["replicas"] = replicas
        self._bump(kind, dep, after)
        for rs in self._items(KINDS["ReplicaSet"], ns):
            same = rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
            if same == after["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision"):
                rs["spec"]["replicas"] = replicas
        scale["spec"]["replicas"] = replicas
        scale["metadata"]["resourceVersion"] = self._table(kind)[(ns, name)]["metadata"]["resourceVersion"]
        return scale
