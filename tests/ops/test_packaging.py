"""Issue 13, packaging: the built-in runbooks and the migrations ship inside the wheel.

The wheel is built from a copy of the source tree, installed (without its dependencies, which
come from the test venv through a .pth file placed after the new venv's own site-packages) into
a fresh venv, and `chatops` runs from an empty directory, with no PYTHONPATH and no checkout
in sight: `runbook list` lists every built-in runbook, `db upgrade` finds the migrations, and a
team's runbooks_dir adds its own, one replacing a built-in of the same name.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack import FakeSlack
from tests.support import BOT_TOKEN, SIGNING_SECRET, BotClient

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = sorted(p.stem for p in (ROOT / "runbooks").glob("*.yaml"))

TEAM_BOOK = """\
name: {name}
title: {title}
tags: [team]
diagnostics:
  - {{id: ping, title: Ping, kind: manual, text: Ping it}}
"""


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, **kw)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


def _source_copy(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("bot", "handlers", "runbooks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "_runbooks"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the chatops wheel installed; its `bin/`."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp)
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)])
    [wheel] = wheels.glob("chatops-*.whl")
    return _venv_with(tmp / "venv", [str(wheel)])


def _venv_with(venv: Path, what: list[str]) -> Path:
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the checkout is not installed
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            *what,
        ],
        env=clean,
    )
    [own] = (venv / "lib").glob("python3*/site-packages")
    # The dependencies, from this venv, after the new venv's own packages (a .pth line adds a
    # directory without running that directory's .pth files: the shared editable finder stays out).
    (own / "zz_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"


def _env(tmp: Path, config: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.pop("PYTHONPATH", None)
    (tmp / "chatops.yaml").write_text(config)
    env.update(CHATOPS_CONFIG=str(tmp / "chatops.yaml"), DATABASE_URL=f"sqlite:///{tmp}/s.db", COLUMNS="300")
    return env


def test_the_wheel_carries_the_package_from_site_packages(installed: Path, tmp_path: Path) -> None:
    done = _run(
        [
            str(installed / "python"),
            "-c",
            "import bot, handlers; print(bot.__file__); print(handlers.__file__)",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert str(ROOT) not in done.stdout
    assert "site-packages" in done.stdout


def test_an_editable_install_finds_the_source_trees_runbooks(tmp_path: Path) -> None:
    """`pip install -e` (into its own venv): the built-ins are read from the checkout's runbooks/."""
    src = _source_copy(tmp_path)
    editable = _venv_with(tmp_path / "venv", ["-e", str(src)])
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(
        [
            str(editable / "python"),
            "-c",
            "from bot.runbooks.catalog import builtin_dir; print(builtin_dir())",
        ],
        cwd=empty,
        env=_env(tmp_path),
    )
    assert where.stdout.strip() == str(src / "runbooks")
    done = _run([str(editable / "chatops"), "runbook", "list"], cwd=empty, env=_env(tmp_path))
    for name in BUILTIN:
        assert name in done.stdout, name


def test_runbook_list_from_an_empty_directory_lists_every_built_in(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run([str(installed / "chatops"), "runbook", "list"], cwd=empty, env=_env(tmp_path))
    for name in BUILTIN:
        assert name in done.stdout, name
    assert "problem" not in done.stdout
    assert "team" not in done.stdout.split()  # every one is built-in
    checked = _run([str(installed / "chatops"), "runbook", "validate"], cwd=empty, env=_env(tmp_path))
    assert f"{len(BUILTIN)} runbooks, all valid" in checked.stdout


def test_the_migrations_ship_too(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "chatops"), "db", "upgrade"], cwd=tmp_path, env=_env(tmp_path))
    assert "at migration" in done.stdout


def test_a_teams_runbooks_dir_adds_and_replaces_and_list_marks_them(installed: Path, tmp_path: Path) -> None:
    team = tmp_path / "ours"
    team.mkdir()
    (team / "warehouse-lag.yaml").write_text(TEAM_BOOK.format(name="warehouse-lag", title="Warehouse lag"))
    (team / "high-cpu.yaml").write_text(TEAM_BOOK.format(name="high-cpu", title="Our own CPU runbook"))
    env = _env(tmp_path, f'runbooks_dir: "{team}"\n')
    done = _run(
        [str(installed / "chatops"), "runbook", "list"],
        cwd=tmp_path,
        env=env,
    )
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert rows["warehouse-lag"].split()[1] == "team"
    assert rows["high-cpu"].split()[1] == "team"
    assert "Our own CPU runbook" in rows["high-cpu"]
    assert rows["high-db-cpu"].split()[1] == "built-in"
    assert len([n for n in rows if n in BUILTIN or n == "warehouse-lag"]) == len(BUILTIN) + 1


def test_runbook_list_in_slack_from_the_installed_bot(
    installed: Path, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """`chatops serve` from the wheel, started in an empty directory, answers /runbook list with all,
    a team's runbook in place of the built-in of the same name."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    team = tmp_path / "ours"
    team.mkdir()
    (team / "high-cpu.yaml").write_text(TEAM_BOOK.format(name="high-cpu", title="Our own CPU runbook"))
    env = _env(tmp_path, f'runbooks_dir: "{team}"\n')
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url
    )
    proc = subprocess.Popen(
        [str(installed / "chatops"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "the installed bot exited"
            assert time.monotonic() < deadline, "the installed bot did not get ready in 60 s"
            time.sleep(0.1)
        client = BotClient(base, fake_slack.response_url(), fake_slack)
        assert client.command("/runbook", "list").status_code == 200
        [answer] = fake_slack.wait_responses(1)
        shown = json.dumps(answer)
        assert f"{len(BUILTIN)} runbooks." in shown  # the team's high-cpu replaced the built-in
        assert "did not load" not in shown
        assert "high-cpu                      team      Our own CPU runbook" in shown
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"runbooks: {len(BUILTIN)} loaded, 0 with problems" in out
