"""Per-site values → runbook params (or a configured service), and args as `{{ param }}` templates.

A namespace, a deployment, a URL's scheme://host:port, a database or a Redis instance seen
in a command differs from one site to the next, so each becomes a param. Namespaces,
deployments and URLs get the value seen as their default. Databases, Redis instances and
clusters are chatops.yaml target names for the handlers (not host names), so their default is
the configured target the command reached (matched by host or database name) when
`--config` is given, else none: the bot's default target. `<placeholder>`s and `$VARS`
become params too, with no default unless the source gave one (`${VAR:-default}`).

With `--config`, a step whose deployment, database, Redis or health URL belongs to a
configured service uses `service: "{{service}}"` instead, as the hand-written runbooks do.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from bot.config import ChatopsConfig
from bot.runbooks.importer.mappers.common import Site, Tpl
from bot.runbooks.resolve import SERVICE_FILLS
from handlers import HandlerSpec

BASE_NAMES = {
    "namespace": "namespace",
    "deployment": "deployment",
    "base_url": "base_url",
    "database": "database",
    "instance": "instance",
    "cluster": "cluster",
}
TARGETS = {"database": "databases", "instance": "redis", "cluster": "clusters"}
_HELP = {
    "namespace": "Kubernetes namespace",
    "deployment": "deployment",
    "base_url": "scheme://host[:port] of the URLs",
    "database": "chatops.yaml database to query (default: the default database)",
    "instance": "chatops.yaml Redis instance (default: the default instance)",
    "cluster": "chatops.yaml cluster (default: the default cluster)",
}


class _Lenient(dict[str, str]):
    """An environment in which every variable is set: unset ones read as empty."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def lenient_env() -> dict[str, str]:
    """os.environ for chatops.yaml's `${VAR}`s, unset ones empty: importing needs no secrets."""
    return _Lenient(os.environ)


def param_slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug if slug and not slug[0].isdigit() else f"p_{slug}"


def _host_port(text: str) -> tuple[str, str]:
    """(host, dbname) of a DSN, URI or plain word; '' where unknown."""
    try:
        info = conninfo_to_dict(text) if ("=" in text or "://" in text) else {}
    except Exception:  # a DSN we cannot read matches nothing
        return "", ""
    return str(info.get("host") or ""), str(info.get("dbname") or "")


def _redis_host(url: str) -> str:
    m = re.match(r"^rediss?://(?:[^@/]*@)?([^:/?]+)", url)
    return m.group(1) if m else ""


@dataclass
class ParamBook:
    """The params of one runbook, named in the order values are first seen."""

    config: ChatopsConfig | None = None
    service: str | None = None
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _names: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    _hints: dict[str, list[str]] = field(default_factory=dict)

    # -- targets and services ----------------------------------------------------------

    def target(self, site: Site) -> str | None:
        """The configured target (database/instance/cluster name) a site reached, if any."""
        if self.config is None or site.value is None:
            return None
        table: dict[str, Any] = getattr(self.config, TARGETS[site.kind])
        seen = site.value
        if seen in table:
            return seen
        seen_host, seen_db = _host_port(seen)
        for name, cfg in table.items():
            if site.kind == "database":
                host, db = _host_port(cfg.dsn)
                if seen in (host, db) or (seen_host and seen_host == host and seen_db in ("", db)):
                    return name
            elif site.kind == "instance":
                if seen in (_redis_host(cfg.url), _redis_host(seen) or None):
                    return name
            elif site.kind == "cluster" and cfg.context == seen:
                return name
        return None

    def services_for(self, handler: str, args: dict[str, Any]) -> set[str]:
        """Configured services a step's targets belong to."""
        if self.config is None:
            return set()
        found: set[str] = set()
        for name, svc in self.config.services.items():
            if self._belongs(svc, handler, args):
                found.add(name)
        return found

    def _belongs(self, svc: Any, handler: str, args: dict[str, Any]) -> bool:
        dep = args.get("deployment")
        if isinstance(dep, Site):
            ns = args.get("namespace")
            ns_ok = ns is None or (isinstance(ns, Site) and ns.value == svc.namespace)
            return dep.value == svc.deployment and ns_ok
        db = args.get("database")
        if isinstance(db, Site):
            target = self.target(db)
            return target is not None and target == svc.database
        inst = args.get("instance")
        if isinstance(inst, Site):
            target = self.target(inst)
            return target is not None and target == svc.redis
        urls = args.get("urls")
        if handler == "health.check" and isinstance(urls, list) and len(urls) == 1:
            return self.default_text(urls[0]) in svc.health
        return False

    def choose_service(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        """The configured service most of the runbook's steps belong to."""
        tally: Counter[str] = Counter()
        for handler, args in steps:
            tally.update(self.services_for(handler, args))
        if tally:
            best = max(sorted(tally), key=lambda n: tally[n])
            self.service = best

    # -- params and templates ----------------------------------------------------------

    def _key(self, site: Site) -> tuple[str, str, str | None]:
        if site.kind in TARGETS:
            # Hosts seen are not chatops targets: one param per target reached (or none known).
            return (site.kind, "", self.target(site))
        return (site.kind, site.name, site.value)

    def _name(self, site: Site) -> str:
        key = self._key(site)
        if key in self._names:
            name = self._names[key]
            self._add_hint(name, site)
            return name
        base = param_slug(site.name) if site.kind == "var" else BASE_NAMES[site.kind]
        name = base[:32]
        if name in self.specs:
            label = (self.target(site) if site.kind in TARGETS else site.value) or site.hint or "other"
            if site.kind == "base_url":
                label = re.sub(r"^https?://", "", label).split(".")[0].split(":")[0]
            name = f"{param_slug(label)[: 31 - len(base)]}_{base}"
            n = 2
            while name in self.specs:
                name = f"{base[:28]}_{n}"
                n += 1
        self._names[key] = name
        self.specs[name] = self._spec(site)
        self._add_hint(name, site)
        return name

    def _spec(self, site: Site) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "int" if site.type == "int" else "string"}
        if site.kind in TARGETS:
            spec["default"] = self.target(site)
            spec["help"] = _HELP[site.kind]
            self._hints[_HELP[site.kind]] = []
        elif site.kind == "var":
            default: Any = site.value
            if default is not None and site.type == "int":
                default = int(default) if default.isdigit() else None
            spec["default"] = default
            wrote = site.hint or site.value or site.name
            spec["help"] = (
                f"the source wrote {wrote}"
                if default is not None
                else f"give it when you run (the source wrote {wrote})"
            )
        else:
            spec["default"] = site.value
            spec["help"] = f"{_HELP[site.kind]} (seen in the source)"
        return spec

    def _add_hint(self, name: str, site: Site) -> None:
        """Targets: the help lists how the source reached them (`-h db-host -d app; in pod x`)."""
        if site.kind not in TARGETS or not site.hint:
            return
        spec = self.specs[name]
        seen = self._hints.setdefault(name, [])
        if site.hint not in seen:
            seen.append(site.hint)
        spec["help"] = f"{_HELP[site.kind]}; the source used {'; '.join(seen)}"

    def service_param(self) -> None:
        if self.service is not None and "service" not in self.specs:
            self.specs = {
                "service": {"type": "service", "default": self.service, "help": "the chatops.yaml service"},
                **self.specs,
            }

    def default_text(self, value: Any) -> str:
        """A templated value rendered with the values seen (to match service health URLs)."""
        if isinstance(value, Site):
            return value.value or ""
        if isinstance(value, Tpl):
            return "".join(p if isinstance(p, str) else (p.value or "") for p in value.parts)
        return str(value)

    def as_template(self, value: Any) -> Any:
        """An arg with Sites and Tpls as `{{ name }}` templates (registering the params)."""
        if isinstance(value, Site):
            return "{{" + self._name(value) + "}}"
        if isinstance(value, Tpl):
            if len(value.parts) == 1 and isinstance(value.parts[0], Site):
                return self.as_template(value.parts[0])
            return "".join(
                p.replace("{{", "{ {") if isinstance(p, str) else self.as_template(p) for p in value.parts
            )
        if isinstance(value, list):
            return [self.as_template(v) for v in value]
        return value

    def step_args(self, spec: HandlerSpec, args: dict[str, Any]) -> dict[str, Any]:
        """The step's args for the YAML: the service where the step belongs to it, else params."""
        fields = spec.params.model_fields
        takes_service = "service" in fields or any(dst in fields for dst in SERVICE_FILLS.values())
        out = dict(args)
        if self.service is not None and takes_service and self.service in self.services_for(spec.name, args):
            for key in ("namespace", "deployment", "database", "instance", "urls", "cluster"):
                out.pop(key, None)
            out = {"service": "{{service}}", **out}
        # A target with no default is left to the bot (its default target) when unset.
        return {k: self.as_template(v) for k, v in out.items()}
