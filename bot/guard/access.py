"""Who may run what: roles from config (Slack user ids or user groups) and rules by glob.

Everyone may run read-only handlers unless a rule narrows it; `access.operators` may request
destructive ones; `access.approvers` approve the requests that a `need: approval` rule covers.
A refusal names the role that is needed, the handler and the target.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.commands.target import Target
from bot.config import AccessRule, ChatopsConfig
from handlers import HandlerSpec

# Resolves a user group id (S…) to its member user ids, e.g. through usergroups.users.list.
GroupResolver = Callable[[str], set[str]]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    needs_approval: bool = False


class Access:
    """Roles from config (user ids or group ids, groups resolved and cached) and rules by glob."""

    def __init__(self, config: ChatopsConfig, resolve_group: GroupResolver | None = None) -> None:
        self.config = config
        self.resolve_group = resolve_group
        self._cache: dict[str, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()
        self._ttl = config.access.group_cache.total_seconds()

    def _members(self, group: str) -> set[str]:
        if self.resolve_group is None:
            return set()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(group)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        try:
            members = self.resolve_group(group)
        except Exception:
            # Slack unreachable: fall back to the last known members rather than locking everyone out.
            return hit[1] if hit else set()
        with self._lock:
            self._cache[group] = (now, members)
        return members

    def _is_member(self, user_id: str, entries: list[str]) -> bool:
        for entry in entries:
            if entry == user_id:
                return True
            if entry.startswith("S") and user_id in self._members(entry):
                return True
        return False

    def roles(self, user_id: str) -> list[str]:
        roles = ["everyone"]
        if self._is_member(user_id, self.config.access.operators):
            roles.append("operator")
        if self._is_member(user_id, self.config.access.approvers):
            roles.append("approver")
        return roles

    def is_operator(self, user_id: str) -> bool:
        return self._is_member(user_id, self.config.access.operators)

    def is_approver(self, user_id: str) -> bool:
        return self._is_member(user_id, self.config.access.approvers)

    def rules_for(self, spec: HandlerSpec, target: Target) -> list[AccessRule]:
        return [r for r in self.config.access.rules if _matches(r, spec.name, target)]

    def check(self, user_id: str, spec: HandlerSpec, target: Target) -> Decision:
        """May this user run (or, when destructive, request) this handler on this target?"""
        where = target.describe() or "any target"
        rules = self.rules_for(spec, target)
        for rule in rules:
            if rule.need == "operators" and not self.is_operator(user_id):
                return Decision(False, self._needs(user_id, f"{spec.name} on {where}", "operator"))
            if rule.need == "approvers" and not self.is_approver(user_id):
                return Decision(False, self._needs(user_id, f"{spec.name} on {where}", "approver"))
        if spec.destructive and not self.is_operator(user_id):
            return Decision(
                False, self._needs(user_id, f"{spec.name} on {where} changes things and", "operator")
            )
        return Decision(True, needs_approval=spec.destructive and any(r.need == "approval" for r in rules))

    def check_approver(self, user_id: str, spec_name: str, where: str) -> Decision:
        """May this user approve (or reject) someone else's request for `spec_name` on `where`?"""
        if self.is_approver(user_id):
            return Decision(True)
        return Decision(
            False, self._needs(user_id, f"Approving {spec_name} on {where or 'any target'}", "approver")
        )

    def _needs(self, user_id: str, what: str, role: str) -> str:
        key = "access.operators" if role == "operator" else "access.approvers"
        return f"{what} needs the {role} role ({key}); you have: {', '.join(self.roles(user_id))}"


def _glob_any(value: str | None, patterns: list[str]) -> bool:
    if not patterns:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _matches(rule: AccessRule, handler: str, target: Target) -> bool:
    return (
        any(fnmatch.fnmatchcase(handler, p) for p in rule.handlers)
        and _glob_any(target.cluster, rule.clusters)
        and _glob_any(target.namespace, rule.namespaces)
        and _glob_any(target.database, rule.databases)
        and _glob_any(target.instance, rule.instances)
    )
