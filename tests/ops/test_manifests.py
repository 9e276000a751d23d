"""The deployment files: every manifest parses, and the fields an operator relies on are right."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DATABASE_URL",
    "MAIN_DATABASE_DSN",
    "CACHE_REDIS_URL",
)


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def k8s_objects() -> list[dict[str, Any]]:
    return [
        d
        for p in sorted(K8S.glob("*.yaml"))
        for d in documents(p)
        if "kind" in d and d["kind"] != "Kustomization"
    ]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        o for o in k8s_objects() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''} under deploy/kubernetes, found {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    [c] = one("Deployment")["spec"]["template"]["spec"]["containers"]
    return c  # type: ignore[no-any-return]


def test_every_yaml_file_under_deploy_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        docs = documents(path)
        assert docs, f"{path} is empty"
    for obj in k8s_objects():
        assert obj.get("apiVersion"), obj
        assert obj.get("metadata", {}).get("name"), obj


def test_kustomization_applies_every_manifest_in_one_namespace() -> None:
    kust = documents(K8S / "kustomization.yaml")[0]
    listed = set(kust["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    namespaces = {
        o["metadata"].get("namespace")
        for o in k8s_objects()
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding", "Namespace")
    }
    assert namespaces == {kust["namespace"]}


def test_deployment_runs_two_replicas_with_probes_on_readyz_and_healthz() -> None:
    dep = one("Deployment", "chatops")
    assert dep["spec"]["replicas"] == 2
    assert (
        dep["spec"]["selector"]["matchLabels"].items()
        <= dep["spec"]["template"]["metadata"]["labels"].items()
    )
    c = container()
    port = next(p for p in c["ports"] if p["name"] == "http")
    assert port["containerPort"] == 3000
    assert "serve" in c["args"]
    assert c["args"][c["args"].index("--port") + 1] == "3000"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] in ("http", 3000)


def test_resources_have_requests_and_limits() -> None:
    res = container()["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res[kind]), f"resources.{kind} needs cpu and memory"


def test_pod_runs_as_non_root_on_a_read_only_root_with_a_writable_tmp() -> None:
    spec = one("Deployment")["spec"]["template"]["spec"]
    c = container()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")  # noqa: S108
    volume = next(v for v in spec["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume
    # The drain after SIGTERM needs time: more than the preStop pause.
    assert spec["terminationGracePeriodSeconds"] >= 30


def test_service_account_is_the_one_rbac_yaml_defines() -> None:
    spec = one("Deployment")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "chatops"
    rbac = K8S / "rbac.yaml"
    assert rbac.exists(), "deploy/kubernetes/rbac.yaml (ServiceAccount and roles) is missing"
    accounts = [d for d in documents(rbac) if d.get("kind") == "ServiceAccount"]
    assert [a["metadata"]["name"] for a in accounts] == ["chatops"]


def test_secrets_are_referenced_never_inlined() -> None:
    env = {e["name"]: e for e in container()["env"]}
    for name in SECRET_ENV:
        assert name in env, f"{name} is not given to the container"
        assert "value" not in env[name], f"{name} is inlined in the Deployment"
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"]
        assert ref["key"]
    assert not [o for o in k8s_objects() if o["kind"] == "Secret"], "a Secret with values is committed"
    text = "\n".join(p.read_text() for p in K8S.glob("*.yaml"))
    assert not re.search(r"xox[bp]-[A-Za-z0-9]", text)
    assert not re.search(r"://[^:/\s]+:[^@\s$…]+@", text), "a password in a URL (placeholders are …)"


def test_service_targets_the_pods_http_port() -> None:
    svc = one("Service", "chatops")
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    [port] = svc["spec"]["ports"]
    assert port["targetPort"] in ("http", 3000)


def test_configmap_holds_a_chatops_yaml_that_parses_with_the_secrets_env() -> None:
    cm = one("ConfigMap", "chatops-config")
    text = cm["data"]["chatops.yaml"]
    env = {name: f"postgresql://u:p@db/{name.lower()}" for name in SECRET_ENV}
    env["CACHE_REDIS_URL"] = "redis://cache:6379/0"
    config = parse_config(text, file="configmap chatops.yaml", env=env)
    assert config.databases["main"].dsn == env["MAIN_DATABASE_DSN"]
    assert config.redis["cache"].url == "redis://cache:6379/0"
    # Every ${VAR} the file uses comes from the container's environment.
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    given = {e["name"] for e in container()["env"]}
    assert used <= given, f"chatops.yaml uses {sorted(used - given)} which the Deployment does not set"
    # Mounted where CHATOPS_CONFIG points.
    env_vars = {e["name"]: e.get("value") for e in container()["env"]}
    mount = next(m for m in container()["volumeMounts"] if m["name"] == "config")
    assert env_vars["CHATOPS_CONFIG"] == f"{mount['mountPath']}/chatops.yaml"


def test_compose_starts_the_bot_with_postgresql_and_redis() -> None:
    compose = documents(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {"bot", "postgres", "redis"} <= set(services)
    bot = services["bot"]
    assert bot["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY / bot["build"]["context"] / "Dockerfile").resolve() == ROOT / "Dockerfile"
    assert set(bot["depends_on"]) == {"postgres", "redis"}
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in bot["environment"]["DATABASE_URL"]
    assert bot["environment"]["CACHE_REDIS_URL"].startswith("redis://redis:6379")
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["redis"]
    # The config it mounts parses with the environment compose gives the bot.
    source, target = bot["volumes"][0].split(":")[:2]
    assert target == bot["environment"]["CHATOPS_CONFIG"]
    env = {k: str(v) for k, v in bot["environment"].items()}
    env["CHATOPS_USER"] = "U0TRIAL"
    config = parse_config((DEPLOY / source).read_text(), env=env)
    assert config.databases["main"].dsn.endswith("@postgres:5432/chatops")
    assert config.access.operators == ["U0TRIAL"]


@pytest.mark.parametrize(
    ("needle", "why"),
    [
        ("FROM python:3.11-slim", "slim Python 3.11 base"),
        ("USER 10001", "runs as a non-root user"),
        ('ENTRYPOINT ["chatops"]', "the chatops command is the entry point"),
        ('CMD ["serve"]', "serve by default"),
        ("HEALTHCHECK", "a health check"),
        ("/healthz", "the health check asks /healthz"),
        ("pip install '.[charts]'", "the package is installed, with the faster charts"),
        ("libcairo2-dev", "cairo's headers, to build pycairo for the charts extra"),
        ("--no-install-recommends libcairo2 ", "cairo at run time, which the charts load"),
    ],
)
def test_dockerfile(needle: str, why: str) -> None:
    assert needle in (ROOT / "Dockerfile").read_text(), why


def test_dockerignore_keeps_secrets_and_junk_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "*.db", "chatops.yaml", ".env", "tests"):
        assert entry in ignored
