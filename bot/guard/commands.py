"""Access to the bot's own commands (`/incident …`, `/chatops audit`, `/runbook run`), not only handlers.

A built-in is named like a handler, `command.sub` (`incident.declare`, `chatops.audit`,
`runbook.run`), so an `access.rules` entry names it the same way and `need: operators` or
`need: approvers` narrows it; `severities: [P0]` limits a rule to those severities (declare,
severity changes). On top of the rules, the defaults an on-call team expects:

- anyone may declare, update (in the channel), acknowledge, snooze and read;
- only the incident's commander, its role holders or an operator may resolve it, change its
  severity, give out roles, or post a public (status page) update;
- `/chatops audit` answers operators only.

Uses `Access` read-only (roles and group membership); nothing here stores anything.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.config import AccessRule, ChatopsConfig
from bot.guard.access import Access, Decision

# Never narrowed: how to learn what the bot does and who you are to it.
OPEN = frozenset({"chatops.help", "chatops.whoami"})
# Changes to an incident that only its owners (commander, role holders) or operators make.
OWNERS = frozenset({"incident.resolve", "incident.severity", "incident.assign", "incident.update.public"})
# Answered to operators only.
OPERATORS = frozenset({"chatops.audit"})

_OPERATOR = "the operator role (access.operators)"
_WHAT = {
    "incident.resolve": "Resolving incident {ref}",
    "incident.severity": "Changing the severity of incident {ref}",
    "incident.assign": "Giving out roles in incident {ref}",
    "incident.update.public": "A public (status page) update of incident {ref}",
    "chatops.audit": "Reading the audit log",
}


def _applies(rule: AccessRule, name: str, severity: str | None) -> bool:
    if rule.clusters or rule.namespaces or rule.databases or rule.instances:
        return False  # a rule about targets: built-ins have none
    base = name.removesuffix(".public")
    if not any(fnmatch.fnmatchcase(base, p) or fnmatch.fnmatchcase(name, p) for p in rule.handlers):
        return False
    return not rule.severities or (severity is not None and severity.upper() in rule.severities)


@dataclass(frozen=True)
class CommandPolicy:
    """May this user run this built-in (on this incident, at this severity)?"""

    access: Access

    def check(
        self,
        user_id: str,
        name: str,
        *,
        severity: str | None = None,
        owners: Collection[str] = (),
        ref: str = "",
    ) -> Decision:
        if name in OPEN:
            return Decision(True)
        what = _WHAT.get(name, f"`{name}`").format(ref=ref or "").replace("  ", " ").strip()
        if severity and name == "incident.declare":
            what = f"Declaring a {severity.upper()} incident"
        for rule in self.access.config.access.rules:
            if not _applies(rule, name, severity):
                continue
            if rule.need == "operators" and not self.access.is_operator(user_id):
                return Decision(False, self._needs(user_id, what, _OPERATOR))
            if rule.need == "approvers" and not self.access.is_approver(user_id):
                return Decision(False, self._needs(user_id, what, "the approver role (access.approvers)"))
        if name in OPERATORS and not self.access.is_operator(user_id):
            return Decision(False, self._needs(user_id, what, _OPERATOR))
        if name in OWNERS and user_id not in owners and not self.access.is_operator(user_id):
            return Decision(
                False,
                self._needs(
                    user_id,
                    what,
                    f"its commander, one of its role holders, or {_OPERATOR}",
                ),
            )
        return Decision(True)

    def _needs(self, user_id: str, what: str, who: str) -> str:
        return f"{what} needs {who}; you have: {', '.join(self.access.roles(user_id))}"


def rule_problems(config: ChatopsConfig, handlers: Iterable[str], commands: Iterable[str]) -> list[str]:
    """`access.rules` entries that name nothing the bot has: a typo would silently protect nothing.

    `handlers` are the registry's names (`k8s.scale`), `commands` the built-ins' (`incident.declare`).
    """
    handler_names, command_names = set(handlers), set(commands)
    known = sorted(handler_names | command_names)
    families = ", ".join(sorted({n.split(".")[0] + ".*" for n in known}))
    problems: list[str] = []
    for i, rule in enumerate(config.access.rules):
        where = f"access.rules[{i}]"
        matched: set[str] = set()
        for pattern in rule.handlers:
            hits = {n for n in known if fnmatch.fnmatchcase(n, pattern)}
            if not hits:
                problems.append(
                    f"{where}.handlers: {pattern!r} names no handler or command (known: {families}; "
                    "`/chatops help` lists them, a subcommand is named command.sub)"
                )
            matched |= hits
        if rule.need == "approval" and matched and not matched & handler_names:
            problems.append(
                f"{where}: need: approval applies to destructive handlers; for commands use "
                "need: operators or need: approvers"
            )
        bad = [s for s in rule.severities if s.upper() not in config.severities]
        if bad:
            problems.append(
                f"{where}.severities: {', '.join(bad)} not configured "
                f"(known: {', '.join(sorted(config.severities))})"
            )
    return problems
