"""Map one shell command to a handler step, or say why it stays a manual step.

`map_command` knows kubectl, psql, pg_isready, redis-cli and curl (the tools whose commands
count toward the mapped percentage); every other tool is named in the reason it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.runbooks.importer.mappers.common import Manual, Mapped, Result, command_name
from bot.runbooks.importer.mappers.curl import map_curl
from bot.runbooks.importer.mappers.kubectl import Exec, map_kubectl
from bot.runbooks.importer.mappers.postgres import map_pg_isready, map_psql
from bot.runbooks.importer.mappers.redis import map_redis
from bot.runbooks.importer.shell import Command, Stage

TOOLS = ("kubectl", "psql", "pg_isready", "redis-cli", "curl")
# Shell plumbing of a script: not a step of the procedure.
_PLUMBING = "echo printf set exit read if then else elif fi for while until do done case esac [ [[ { } "
SCAFFOLDING = frozenset(
    (_PLUMBING + "true false : shift return local sleep wait trap unset declare").split(" ")
)
_TOOL_REASONS = {
    "git": "git is not a handler (version control is done by hand)",
    "terraform": "Terraform has no handler",
    "argocd": "ArgoCD has no handler",
    "aws": "a cloud CLI (aws) has no handler",
    "gcloud": "a cloud CLI (gcloud) has no handler",
    "az": "a cloud CLI (az) has no handler",
    "helm": "Helm has no handler",
    "docker": "docker has no handler",
    "docker-compose": "docker-compose has no handler",
    "python": "runs Python code",
    "python3": "runs Python code",
    "pg_dump": "pg_dump (a backup) has no handler",
    "pg_restore": "pg_restore (a restore) has no handler",
    "export": "sets an environment variable in your shell",
}
_CHANGING = {
    "git": {"push", "checkout", "reset", "revert", "commit", "merge", "tag", "rebase", "cherry-pick"},
    "terraform": {"apply", "destroy", "import", "taint", "state"},
    "argocd": {"app"},
    "helm": {"install", "upgrade", "rollback", "uninstall", "delete"},
    "docker": {"restart", "stop", "rm", "kill", "run", "start"},
    "docker-compose": {"restart", "up", "down", "stop", "rm", "kill", "start"},
    "pip": {"install", "uninstall"},
    "npm": {"install", "ci", "uninstall"},
    "npx": {"prisma"},
    "alembic": {"upgrade", "downgrade", "stamp"},
    "find": {"-delete"},
}
_CLOUD_CHANGING = ("restore", "create", "delete", "modify", "update", "change", "put", "sync", "cp", "reboot")
_SCRIPT_CHANGING = ("deploy", "rollback", "restore", "update", "migrate", "backup", "notify", "status")


@dataclass
class Mapping:
    """The outcome for one command: its tool (for the counts) and the step it becomes.

    A command run in a pod (`kubectl exec POD -- psql …`) counts as the command it runs
    (psql); `in_pod` remembers it was a kubectl command, for the strict count.
    """

    tool: str
    result: Result
    in_pod: bool = False


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _changes(stage: Stage) -> bool:
    name = command_name(stage)
    args = [w.text.lower() for w in stage.words[1:]]
    if name in ("aws", "gcloud", "az"):
        return any(a.startswith(_CLOUD_CHANGING) or f"-{_CLOUD_CHANGING}" in a for a in args) or any(
            any(v in a for v in _CLOUD_CHANGING) for a in args[:3]
        )
    if name.endswith((".sh", ".py")) or "/" in stage.name:
        return any(v in name for v in _SCRIPT_CHANGING)
    verbs = _CHANGING.get(name)
    return bool(verbs and any(a in verbs for a in args))


def manual_reason(stage: Stage) -> str:
    name = command_name(stage)
    if name in _TOOL_REASONS:
        return _TOOL_REASONS[name]
    if name.endswith((".sh", ".py")) or stage.name.startswith(("./", "/", "~")):
        return f"runs the script {stage.name}, which the bot cannot see into"
    return f"no handler for `{name}`"


def map_command(cmd: Command, stage: Stage | None = None, via: str = "") -> Mapping:
    """One pipeline's main command (or `stage`, for an inner command) as a step."""
    stage = stage or cmd.main
    name = command_name(stage)
    if name == "sudo" and len(stage.words) > 1:
        return map_command(cmd, Stage(stage.words[1:], stage.env, stage.redirects), via)
    if cmd.problem:
        return Mapping(name, Manual(f"its quoting cannot be read ({cmd.problem})"))
    if name == "kubectl":
        out = map_kubectl(stage, cmd)
        if not isinstance(out, Exec):
            return Mapping("kubectl", out)
        inner = command_name(out.inner)
        if inner not in ("psql", "pg_isready", "redis-cli"):
            shown = _short(" ".join(out.inner.argv))
            reason = (
                f"runs `{shown}` inside pod {out.pod} (kubectl exec); no handler runs commands in containers"
            )
            return Mapping(inner, Manual(reason, changes=_changes(out.inner)), in_pod=True)
        mapping = map_command(cmd, out.inner, f"in pod {out.pod}")
        mapping.in_pod = True
        if isinstance(mapping.result, Mapped):
            mapping.result.notes.append(
                f"the source ran it inside pod {out.pod} (kubectl exec); the handler connects directly"
            )
        return mapping
    if name == "psql":
        return Mapping("psql", map_psql(stage, cmd, via))
    if name == "pg_isready":
        return Mapping("pg_isready", map_pg_isready(stage, cmd, via))
    if name == "redis-cli":
        return Mapping("redis-cli", map_redis(stage, cmd, via))
    if name == "curl":
        return Mapping("curl", map_curl(stage, cmd))
    return Mapping(name, Manual(manual_reason(stage), changes=_changes(stage)))


__all__ = ["SCAFFOLDING", "TOOLS", "Manual", "Mapped", "Mapping", "map_command"]
