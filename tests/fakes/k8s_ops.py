"""What the fake Kubernetes API server does to its objects: selectors, patches, a rollout.

Kept apart from the HTTP plumbing in `tests.fakes.k8s` so each half stays readable. The
behaviour copies the real API server's where our handlers (and kubectl) depend on it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]

# --- label and field selectors ----------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


class SelectorError(ValueError):
    """A selector the API server would reject with 400."""


def _split_terms(selector: str) -> list[str]:
    terms: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t for t in terms if t.strip()]


# A parsed requirement: (operator, key, values) with operator in, notin, exists or !exists.
Requirement = tuple[str, str, frozenset[str]]


def parse_label_selector(selector: str) -> list[Requirement]:
    """Equality (`a=b`, `a!=b`) and set based (`a in (x,y)`, `a`, `!a`) terms, as the server reads them."""
    reqs: list[Requirement] = []
    for term in _split_terms(selector):
        if m := _SET_TERM.match(term):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(2), m.group(1), values))
        elif m := _EQ_TERM.match(term):
            reqs.append(("notin" if m.group(2) == "!=" else "in", m.group(1), frozenset({m.group(3)})))
        elif m := _EXISTS_TERM.match(term):
            reqs.append(("!exists" if m.group(1) else "exists", m.group(2), frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return reqs


def _holds(req: Requirement, labels: Mapping[str, str]) -> bool:
    op, key, values = req
    if op == "in":
        return labels.get(key) in values
    if op == "notin":
        return labels.get(key) not in values  # `a!=b` also matches objects without `a`
    return (key in labels) == (op == "exists")


def label_matcher(selector: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate for labels, from a label selector string."""
    reqs = parse_label_selector(selector) if selector else []

    def matches(labels: Mapping[str, str]) -> bool:
        return all(_holds(r, labels) for r in reqs)

    return matches


def _dotted(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """A predicate for objects, from a field selector (`a.b=c`, `a.b!=c`, comma separated)."""
    terms: list[tuple[str, str, bool]] = []
    for term in _split_terms(selector or ""):
        m = _EQ_TERM.match(term)
        if not m:
            raise SelectorError(f"invalid field selector: {term!r}")
        terms.append((m.group(1), m.group(3), m.group(2) == "!="))

    def matches(obj: Obj) -> bool:
        return all((_dotted(obj, path) == value) != negate for path, value, negate in terms)

    return matches


def selector_to_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector object (matchLabels, matchExpressions) as a selector string."""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


# --- patches ----------------------------------------------------------------------------


class PatchError(ValueError):
    """A patch the API server would reject (422 for a failed test op, 400 otherwise)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# List fields the API server merges by a key under strategic merge patch (a subset of the
# `patchMergeKey` markers in the Kubernetes types that matter to these tests).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch: as merge patch, but keyed lists merge element by element."""
    if isinstance(patch, list) and isinstance(target, list) and field in _MERGE_KEYS:
        key = _MERGE_KEYS[field]
        merged = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise PatchError(f"map: {item!r} does not contain declared merge key: {key}", 400)
            directive = item.get("$patch")
            idx = next((i for i, cur in enumerate(merged) if cur.get(key) == item[key]), None)
            if directive == "delete":
                if idx is not None:
                    merged.pop(idx)
                continue
            clean = {k: v for k, v in item.items() if k != "$patch"}
            if idx is None:
                merged.append(clean)
            else:
                merged[idx] = strategic_merge_patch(merged[idx], clean)
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, key)
    return result


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}", 400)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return cur


def json_patch(doc: Any, ops: list[Any]) -> Any:
    """RFC 6902 JSON patch with add, replace, remove and test."""
    result = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}", 400)
        parts = _pointer(op["path"])
        parent = _parent(result, parts, op["path"])
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(idx, copy.deepcopy(op["value"]))
            elif kind == "replace":
                parent[idx] = copy.deepcopy(op["value"])
            elif kind == "remove":
                parent.pop(idx)
            elif kind == "test" and parent[idx] != op["value"]:
                raise PatchError(f"testing value {op['path']} failed")
            continue
        if not isinstance(parent, dict):
            raise PatchError(f"doc is missing path: {op['path']!r}")
        if kind == "add":
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "replace":
            if last not in parent:
                raise PatchError(f"replace operation does not apply: doc is missing key: {op['path']}")
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if last not in parent:
                raise PatchError(f"remove operation does not apply: doc is missing key: {op['path']}")
            del parent[last]
        elif kind == "test":
            if parent.get(last) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed")
        else:
            raise PatchError(f"unsupported JSON patch operation {kind!r}", 400)
    return result


def apply_patch(obj: Obj, content_type: str, body: Any) -> Obj:
    """Apply a PATCH body as the API server does for its content type."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json-patch+json":
        if not isinstance(body, list):
            raise PatchError("json patch must be a list of operations", 400)
        result = json_patch(obj, body)
    elif ctype == "application/merge-patch+json":
        result = merge_patch(obj, body)
    elif ctype == "application/strategic-merge-patch+json":
        result = strategic_merge_patch(obj, body)
    else:
        raise PatchError(f"the server does not support patch type {ctype!r}", 415)
    if not isinstance(result, dict):
        raise PatchError("patch result is not an object", 422)
    return result


# --- a deployment controller, just enough for rollouts ----------------------------------

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """A short, stable, DNS-safe hash of a pod template (like the controller's)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def without_hash(template: Obj) -> Obj:
    clean = copy.deepcopy(template)
    labels = clean.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def revision_of(obj: Obj) -> int:
    try:
        return int(obj.get("metadata", {}).get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def owned_by(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def rollout(deployment: Obj, replicasets: list[Obj], new_rs_meta: Callable[[Obj], Obj]) -> Obj | None:
    """After the deployment's template changed: adopt a matching ReplicaSet or make a new one.

    As the real controller: the ReplicaSet running the new template gets the next revision
    (an old one is reused when its template matches, as after `rollout undo`), and the
    deployment's revision annotation follows. Returns a ReplicaSet to create, if any.
    """
    template = without_hash(deployment["spec"]["template"])
    owned = [rs for rs in replicasets if owned_by(rs, deployment)]
    latest = max((revision_of(rs) for rs in owned), default=0)
    match = next((rs for rs in owned if without_hash(rs["spec"]["template"]) == template), None)
    created: Obj | None = None
    meta = deployment["metadata"]
    annotations = meta.setdefault("annotations", {})
    if match is not None:
        if revision_of(match) != latest:
            match["metadata"].setdefault("annotations", {})[REVISION] = str(latest + 1)
            latest += 1
        revision = revision_of(match)
        for rs in owned:
            rs["spec"]["replicas"] = deployment["spec"].get("replicas", 1) if rs is match else 0
    else:
        revision = latest + 1
        h = template_hash(template)
        rs_template = copy.deepcopy(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        rs_annotations = {REVISION: str(revision)}
        if CHANGE_CAUSE in annotations:
            rs_annotations[CHANGE_CAUSE] = annotations[CHANGE_CAUSE]
        created = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{h}",
                "namespace": meta["namespace"],
                "labels": {**(template.get("metadata", {}).get("labels") or {}), HASH_LABEL: h},
                "annotations": rs_annotations,
                "ownerReferences": [new_rs_meta(deployment)],
            },
            "spec": {
                "replicas": deployment["spec"].get("replicas", 1),
                "selector": selector,
                "template": rs_template,
            },
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        for rs in owned:
            rs["spec"]["replicas"] = 0
    annotations[REVISION] = str(revision)
    return created
