"""`kubectl …` → the k8s.* handlers, with namespace and deployment as per-site params.

`kubectl exec … -- psql|pg_isready|redis-cli …` is handed back to the caller (`Exec`) so the
inner command is mapped by its own mapper: the handler reaches the database directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.runbooks.importer.mappers.common import (
    Manual,
    Mapped,
    Opts,
    Result,
    Site,
    Tpl,
    Unmappable,
    command_name,
    grep_of,
    integer,
    is_plain_text,
    parse_opts,
    refuse_unknown,
    value,
)
from bot.runbooks.importer.shell import Command, Stage, Word

GLOBAL_VALUES = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server"}
GLOBAL_VALUES |= {"--request-timeout", "-v", "--token"}
ALIASES = {"--namespace": "-n", "--selector": "-l", "--output": "-o", "--all-namespaces": "-A"}
ALIASES |= {"--container": "-c", "--follow": "-f", "--previous": "-p", "--watch": "-w"}
VERB_FLAGS: dict[str, tuple[set[str], set[str]]] = {
    "get": ({"-l", "--selector", "-o", "--output", "--sort-by"}, {"-A", "--all-namespaces", "-w", "--watch"}),
    "logs": (
        {"-l", "--selector", "--tail", "--since", "-c", "--container", "--max-log-requests"},
        {"-f", "--follow", "-p", "--previous", "--timestamps", "--prefix"},
    ),
    "describe": ({"-l", "--selector"}, {"-A", "--all-namespaces"}),
    "top": ({"-l", "--selector", "--sort-by"}, {"-A", "--all-namespaces", "--containers", "--no-headers"}),
    "rollout": ({"--to-revision", "--timeout", "--revision"}, {"-w", "--watch"}),
    "scale": ({"--replicas", "--timeout", "--current-replicas"}, {"--all"}),
    "set": ({"-c", "--container"}, {"--all"}),
    "delete": ({"--grace-period", "-l", "--selector"}, {"--force", "--now", "--wait", "--all"}),
    "exec": ({"-c", "--container"}, {"-i", "-t", "--stdin", "--tty", "-q", "--quiet"}),
    "patch": ({"-p", "--patch", "--type"}, set()),
}
CHANGING_VERBS = {"apply", "create", "delete", "edit", "patch", "replace", "label", "annotate", "cordon"}
CHANGING_VERBS |= {
    "uncordon",
    "drain",
    "taint",
    "run",
    "set",
    "scale",
    "rollout",
    "cp",
    "expose",
    "autoscale",
}
POD = {"pod", "pods", "po"}
DEPLOYMENT = {"deployment", "deployments", "deploy", "deployment.apps", "deployments.apps"}
GET_HANDLERS = {
    **dict.fromkeys(POD, "k8s.pods"),
    **dict.fromkeys(("services", "service", "svc"), "k8s.svc"),
    **dict.fromkeys(("endpoints", "endpoint", "ep"), "k8s.endpoints"),
    **dict.fromkeys(("ingress", "ingresses", "ing"), "k8s.ingress"),
    **dict.fromkeys(("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"), "k8s.hpa"),
    **dict.fromkeys(("nodes", "node", "no"), "k8s.nodes"),
    **dict.fromkeys(("events", "event", "ev"), "k8s.events"),
}
ALL_NAMESPACES = {"k8s.pods", "k8s.events", "k8s.top"}
SELECTOR = {"k8s.pods", "k8s.svc", "k8s.endpoints", "k8s.ingress", "k8s.hpa", "k8s.nodes", "k8s.top"}
NAMED = {"k8s.svc", "k8s.endpoints", "k8s.ingress", "k8s.hpa", "k8s.nodes"}
SECRETS = {"secret", "secrets"}


@dataclass
class Exec:
    """`kubectl exec POD -- CMD…`: CMD's own mapper decides (psql, pg_isready, redis-cli)."""

    inner: Stage
    pod: str


def _ns(opts: Opts, args: dict[str, object]) -> None:
    ns = opts.get("-n")
    if ns is not None:
        args["namespace"] = _site(ns, "namespace")
    context = opts.get("--context")
    if context is not None:
        args["cluster"] = Site("cluster", context.text, hint=f"--context {context.text}")


def _site(word: Word, kind: str) -> Site | Tpl:
    v = value(word)
    return Site(kind, v, hint=word.text) if isinstance(v, str) else v


def _ref(word: Word, default_kind: str) -> tuple[str, Word]:
    """`deploy/x` → ("deployment", x); a bare name has `default_kind`."""
    kind, slash, _ = word.text.partition("/")
    if not slash:
        return default_kind, word
    low = kind.lower()
    canon = "pod" if low in POD else "deployment" if low in DEPLOYMENT else low
    raw_name = word.raw.split("/", 1)[1]
    return canon, Word(raw_name, word.markers)


def _deployment_ref(positionals: list[Word], verb: str) -> Word:
    """A deployment as `deployment/x`, `deploy/x` or `deployment x`."""
    if not positionals:
        raise Unmappable(f"kubectl {verb} names no deployment")
    kind, name = _ref(positionals[0], "")
    if kind == "" and positionals[0].text.lower() in DEPLOYMENT and len(positionals) > 1:
        kind, name = "deployment", positionals[1]
    if kind != "deployment":
        raise Unmappable(
            f"kubectl {verb} of a {kind or positionals[0].text}: the handler acts on deployments"
        )
    return name


def _filters_note(cmd: Command, what: str) -> list[str]:
    notes = []
    for stage in cmd.filters:
        notes.append(f"`{' '.join(stage.argv)}` is not applied: {what}")
    return notes


def _redirect_notes(cmd: Command) -> list[str]:
    return [
        f"the output goes to the run's thread, not to {r.target}"
        for r in cmd.redirects
        if r.op in (">", ">>")
    ]


def map_kubectl(stage: Stage, cmd: Command) -> Result | Exec:
    words = stage.words[1:]
    verb_at = next((i for i, w in enumerate(words) if not w.text.startswith("-")), None)
    if verb_at is None:
        return Manual("kubectl with no verb")
    # Global flags may come before the verb: `kubectl -n x get pods`.
    before, verb, rest = words[:verb_at], words[verb_at].text, words[verb_at + 1 :]
    changes = verb in CHANGING_VERBS
    if any(r.op in ("<", "<<") for r in cmd.redirects) and verb != "exec":
        return Manual(f"kubectl {verb} reads its input from a file or here-document", changes=True)
    flags = VERB_FLAGS.get(verb)
    if flags is None:
        return Manual(f"no handler for `kubectl {verb}`", changes=changes)
    values, switches = flags
    opts = parse_opts([*before, *rest], values | GLOBAL_VALUES, switches, ALIASES)
    try:
        if verb == "exec":
            return _exec(opts)
        mapper = {
            "get": _get,
            "logs": _logs,
            "describe": _describe,
            "top": _top,
            "rollout": _rollout,
            "scale": _scale,
            "set": _set,
            "delete": _delete,
            "patch": _patch,
        }[verb]
        return mapper(opts, cmd)
    except Unmappable as exc:
        return Manual(exc.reason, changes=changes or exc.changes)


def _get(opts: Opts, cmd: Command) -> Result:
    if not opts.positionals:
        raise Unmappable("kubectl get names no resource")
    resource = opts.positionals[0].text.lower()
    names = opts.positionals[1:]
    if resource in SECRETS:
        raise Unmappable("reads secrets: the bot never shows them")
    if "," in resource:
        raise Unmappable(f"several resources at once ({resource}); each has its own handler")
    handler = GET_HANDLERS.get(resource)
    if handler is None:
        raise Unmappable(f"no handler lists {resource}")
    out = opts.get("-o")
    notes: list[str] = []
    if out is not None:
        if out.text in ("wide", "name"):
            notes.append(f"-o {out.text}: the handler's table has its own columns")
        else:
            raise Unmappable(f"prints raw objects (-o {out.text}); no handler prints manifests")
    if opts.has("-w"):
        notes.append("--watch: the handler shows the current state once")
    sort = opts.get("--sort-by")
    if sort is not None:
        notes.append(f"--sort-by {sort.text}: the handler orders rows itself ({_order(handler)})")
    refuse_unknown(opts, handler)
    args: dict[str, object] = {}
    if opts.has("-A"):
        if handler not in ALL_NAMESPACES:
            raise Unmappable(f"{handler} looks at one namespace; --all-namespaces is not supported")
        args["all_namespaces"] = True
    elif handler != "k8s.nodes":
        _ns(opts, args)
    selector = opts.get("-l")
    if selector is not None:
        if handler not in SELECTOR:
            raise Unmappable(f"{handler} takes no label selector (-l)")
        args["selector"] = value(selector)
    if names:
        if len(names) > 1:
            raise Unmappable(f"several {resource} by name")
        if handler == "k8s.pods":
            return Mapped(
                "k8s.describe",
                {**args, "kind": "pod", "name": value(names[0])},
                [*notes, "describes the pod (its status, containers and events)"],
            )
        if handler not in NAMED:
            raise Unmappable(f"{handler} shows all {resource}, not one by name")
        args["name"] = value(names[0])
    notes += _filters_note(cmd, "the handler's table lists every row") + _redirect_notes(cmd)
    return Mapped(handler, args, notes)


def _order(handler: str) -> str:
    return {"k8s.events": "warnings first, newest first", "k8s.pods": "unhealthy first"}.get(
        handler, "its own"
    )


def _logs_source(opts: Opts, args: dict[str, object], notes: list[str]) -> None:
    """Which pods: one pod, a deployment's newest pod, or every pod a selector matches."""
    selector = opts.get("-l")
    if selector is not None:
        if opts.positionals:
            raise Unmappable("kubectl logs with both a pod or deployment and -l")
        args["selector"] = value(selector)
        most = opts.get("--max-log-requests")
        if most is not None:
            args["max_log_requests"] = integer(most, "--max-log-requests")
        else:
            notes.append("the step reads at most 5 of the matching pods (kubectl reads them all)")
        if opts.get("--tail") is None:
            # kubectl's own default with -l is 10 lines per pod; the handler's is 500.
            notes.append("kubectl -l without --tail shows 10 lines per pod; the step reads 500 of each")
        return
    if opts.get("--max-log-requests") is not None:
        raise Unmappable("--max-log-requests without -l")
    if len(opts.positionals) != 1:
        raise Unmappable("kubectl logs needs exactly one pod, deploy/NAME or -l SELECTOR")
    kind, name = _ref(opts.positionals[0], "pod")
    if kind == "deployment":
        args["deployment"] = _site(name, "deployment")
    elif kind == "pod":
        args["name"] = value(name)
    else:
        raise Unmappable(f"logs of a {kind}: k8s.logs reads pods, deployments and pods by label")


def _logs(opts: Opts, cmd: Command) -> Result:
    refuse_unknown(opts, "k8s.logs")
    args: dict[str, object] = {}
    _ns(opts, args)
    notes: list[str] = []
    _logs_source(opts, args, notes)
    for flag, key in (("-c", "container"), ("--since", "since")):
        w = opts.get(flag)
        if w is not None:
            args[key] = value(w)
    tail = opts.get("--tail")
    if tail is not None:
        args["tail"] = integer(tail, "--tail")
    if opts.has("-p"):
        args["previous"] = True
    if opts.has("--timestamps"):
        args["timestamps"] = True
    if opts.has("-f"):
        notes.append("--follow: the step shows the log once instead of streaming it")
    filters = list(cmd.filters)
    if filters:
        g = grep_of(filters[0])
        if g is None:
            raise Unmappable(f"its output goes through `{' '.join(filters[0].argv)}`, which no handler does")
        if g.invert or g.context or not is_plain_text(g):
            raise Unmappable(
                f"k8s.logs --grep keeps lines containing plain text; `grep {g.pattern}` is a regular "
                "expression or an inverted/context match"
            )
        args["grep"] = g.pattern
        if not g.ignore_case:
            notes.append("k8s.logs --grep ignores case (grep did not)")
        for stage in filters[1:]:
            name_ = command_name(stage)
            if name_ == "tail" and "tail" not in args:
                each = " of each pod" if "selector" in args else ""
                notes.append(
                    f"`{' '.join(stage.argv)}`: the step shows every matching line of the last 500{each}"
                )
            elif name_ in ("tail", "head", "wc", "sort", "uniq"):
                notes.append(f"`{' '.join(stage.argv)}` is not applied")
            else:
                raise Unmappable(f"its output goes through `{' '.join(stage.argv)}`, which no handler does")
    notes += _redirect_notes(cmd)
    return Mapped("k8s.logs", args, notes)


def _describe(opts: Opts, cmd: Command) -> Result:
    refuse_unknown(opts, "k8s.describe")
    if opts.get("-l") is not None or opts.has("-A"):
        raise Unmappable("k8s.describe describes one named object, not by label or across namespaces")
    if not opts.positionals:
        raise Unmappable("kubectl describe names nothing")
    kind, name = _ref(opts.positionals[0], "")
    names = opts.positionals[1:]
    if kind == "":
        kind = opts.positionals[0].text.lower()
        kind = "pod" if kind in POD else "deployment" if kind in DEPLOYMENT else kind
        name = names[0] if names else Word("", ())
        names = names[1:]
    if names:
        raise Unmappable("several objects at once")
    args: dict[str, object] = {}
    notes = _filters_note(cmd, "the description shows the whole object") + _redirect_notes(cmd)
    handler = GET_HANDLERS.get(kind)
    if kind == "pod":
        if not name.text:
            raise Unmappable("describes every pod; k8s.describe takes one")
        _ns(opts, args)
        return Mapped("k8s.describe", {**args, "kind": "pod", "name": value(name)}, notes)
    if kind == "deployment":
        if not name.text:
            raise Unmappable("describes every deployment; k8s.describe takes one")
        _ns(opts, args)
        return Mapped("k8s.describe", {**args, "deployment": _site(name, "deployment")}, notes)
    if handler in NAMED:
        if handler != "k8s.nodes":
            _ns(opts, args)
        if name.text:
            args["name"] = value(name)
        return Mapped(handler, args, [f"{handler} shows the {kind} (kubectl describe shows more)", *notes])
    raise Unmappable(f"no handler describes {kind}")


def _top(opts: Opts, cmd: Command) -> Result:
    refuse_unknown(opts, "k8s.top")
    if not opts.positionals:
        raise Unmappable("kubectl top of what?")
    what = opts.positionals[0].text.lower()
    what = "pods" if what in POD else "nodes" if what in ("node", "nodes", "no") else what
    if what not in ("pods", "nodes") or len(opts.positionals) > 1:
        raise Unmappable("k8s.top shows all pods or all nodes, not one by name")
    args: dict[str, object] = {"what": what}
    if what == "pods":
        if opts.has("-A"):
            args["all_namespaces"] = True
        else:
            _ns(opts, args)
    sort = opts.get("--sort-by")
    notes: list[str] = []
    if sort is not None:
        if sort.text not in ("cpu", "memory"):
            raise Unmappable(f"--sort-by {sort.text}: k8s.top sorts by cpu or memory")
        args["sort_by"] = sort.text
    selector = opts.get("-l")
    if selector is not None:
        args["selector"] = value(selector)
    if opts.has("--containers"):
        notes.append("--containers: the handler shows pods as a whole")
    return Mapped("k8s.top", args, notes + _filters_note(cmd, "the table lists every row"))


def _rollout(opts: Opts, cmd: Command) -> Result:
    if not opts.positionals:
        raise Unmappable("kubectl rollout with no subcommand")
    sub = opts.positionals[0].text
    handler = {
        "history": "k8s.rollout_history",
        "status": "k8s.rollout_status",
        "undo": "k8s.rollout_undo",
        "restart": "k8s.rollout_restart",
    }.get(sub)
    if handler is None:
        raise Unmappable(f"no handler for `kubectl rollout {sub}`", changes=sub in ("pause", "resume"))
    refuse_unknown(opts, handler)
    args: dict[str, object] = {}
    _ns(opts, args)
    args["deployment"] = _site(_deployment_ref(opts.positionals[1:], f"rollout {sub}"), "deployment")
    notes: list[str] = []
    to = opts.get("--to-revision")
    if to is not None:
        if sub != "undo":
            raise Unmappable(f"--to-revision with rollout {sub}")
        args["to_revision"] = integer(to, "--to-revision")
    rev = opts.get("--revision")
    if rev is not None:
        if sub != "history":
            raise Unmappable(f"--revision with rollout {sub}")
        args["revision"] = integer(rev, "--revision")
    if opts.get("--timeout") is not None or opts.has("-w"):
        notes.append("the step shows the rollout's state once instead of waiting for it")
    notes += _filters_note(cmd, "the step shows every revision") + _redirect_notes(cmd)
    return Mapped(handler, args, notes)


def _scale(opts: Opts, cmd: Command) -> Result:
    if opts.has("--all"):
        raise Unmappable("scales every deployment (--all); k8s.scale scales one", changes=True)
    refuse_unknown(opts, "k8s.scale")
    replicas = opts.get("--replicas")
    if replicas is None:
        raise Unmappable("kubectl scale without --replicas", changes=True)
    args: dict[str, object] = {}
    _ns(opts, args)
    args["deployment"] = _site(_deployment_ref(opts.positionals, "scale"), "deployment")
    args["replicas"] = integer(replicas, "--replicas")
    return Mapped("k8s.scale", args)


def _set(opts: Opts, cmd: Command) -> Result:
    if not opts.positionals or opts.positionals[0].text != "image":
        sub = opts.positionals[0].text if opts.positionals else ""
        raise Unmappable(f"no handler for `kubectl set {sub}`", changes=True)
    refuse_unknown(opts, "k8s.set_image")
    rest = opts.positionals[1:]
    name = _deployment_ref(rest, "set image")
    pairs = rest[2:] if rest and rest[0].text.lower() in DEPLOYMENT else rest[1:]
    if len(pairs) != 1 or "=" not in pairs[0].text:
        raise Unmappable("k8s.set_image sets one container's image (CONTAINER=IMAGE)", changes=True)
    container_raw, _, image_raw = pairs[0].raw.partition("=")
    args: dict[str, object] = {}
    _ns(opts, args)
    args["deployment"] = _site(name, "deployment")
    args["container"] = value(Word(container_raw, pairs[0].markers))
    args["image"] = value(Word(image_raw, pairs[0].markers))
    return Mapped("k8s.set_image", args)


def _delete(opts: Opts, cmd: Command) -> Result:
    if not opts.positionals:
        raise Unmappable("kubectl delete names nothing", changes=True)
    kind, name = _ref(opts.positionals[0], "")
    names = opts.positionals[1:]
    if kind == "":
        kind = opts.positionals[0].text.lower()
        kind = "pod" if kind in POD else kind
        name = names[0] if names else Word("", ())
        names = names[1:]
    if kind != "pod":
        raise Unmappable(f"deletes a {kind}; the only delete handler is k8s.delete_pod", changes=True)
    if not name.text or names or opts.has("--all") or opts.get("-l") is not None:
        raise Unmappable("k8s.delete_pod deletes one named pod", changes=True)
    if opts.has("--force"):
        raise Unmappable("--force deletes without waiting; k8s.delete_pod deletes gracefully", changes=True)
    refuse_unknown(opts, "k8s.delete_pod")
    args: dict[str, object] = {}
    _ns(opts, args)
    args["pod"] = value(name)
    grace = opts.get("--grace-period")
    if grace is not None:
        args["grace_period"] = integer(grace, "--grace-period")
    return Mapped("k8s.delete_pod", args)


def _exec(opts: Opts) -> Exec:
    if not opts.after:
        raise Unmappable("kubectl exec without `-- COMMAND`")
    pod = opts.positionals[0].text if opts.positionals else "?"
    return Exec(Stage(list(opts.after)), pod)


def _patch(opts: Opts, cmd: Command) -> Result:
    if not opts.positionals:
        raise Unmappable("kubectl patch names nothing", changes=True)
    kind, name = _ref(opts.positionals[0], "")
    if kind == "":
        kind = opts.positionals[0].text.lower()
        name = opts.positionals[1] if len(opts.positionals) > 1 else Word("", ())
    if kind not in ("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"):
        raise Unmappable(
            f"patches a {kind}; the only patch handler is k8s.patch_hpa (min/max replicas)", True
        )
    patch = opts.get("-p")
    if patch is None or not name.text:
        raise Unmappable("kubectl patch hpa without a name or -p", changes=True)
    try:
        body = json.loads(patch.text)
        spec = body["spec"]
    except (ValueError, KeyError, TypeError):
        raise Unmappable("the patch is not a JSON object with a spec", changes=True) from None
    extra = sorted(set(spec) - {"minReplicas", "maxReplicas"}) if isinstance(spec, dict) else ["?"]
    if extra or set(body) != {"spec"}:
        raise Unmappable(
            f"k8s.patch_hpa sets only minReplicas/maxReplicas; this patch also sets {', '.join(extra)}",
            changes=True,
        )
    args: dict[str, object] = {}
    _ns(opts, args)
    args["name"] = value(name)
    if "minReplicas" in spec:
        args["min_replicas"] = spec["minReplicas"]
    if "maxReplicas" in spec:
        args["max_replicas"] = spec["maxReplicas"]
    return Mapped("k8s.patch_hpa", args)
