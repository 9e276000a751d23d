"""Issue 12, items 11 (importer), 13 and 14: the files people hand the bot, through the real CLI.

A 500-byte YAML alias bomb is refused by `check-config` and `runbook validate` (instead of
2.5 GB and a hang); the Markdown importer copies no password, token or credential into a
runbook; `{{service}}` in a heading gets a clear message, not a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Nine levels of nine: 9**9 (387 million) strings once expanded.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(CHATOPS_CONFIG=str(tmp_path / "chatops.yaml"), DATABASE_URL=f"sqlite:///{tmp_path}/c.db")
    return env


def chatops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A bounded wait: before the fix this ran until the machine ran out of memory.
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_alias_bomb_in_chatops_yaml_is_refused(tmp_path: Path) -> None:
    assert len(BOMB) < 600
    (tmp_path / "chatops.yaml").write_text(BOMB)
    done = chatops(tmp_path, "check-config")
    assert done.returncode != 0
    out = " ".join((done.stdout + done.stderr).split())
    assert "YAML aliases (*a) are not accepted" in out
    assert "Traceback" not in out


def test_an_alias_bomb_in_a_runbook_is_refused(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "bomb.yaml").write_text(BOMB)
    done = chatops(tmp_path, "runbook", "validate", "--dir", str(books))
    assert done.returncode == 1
    assert "bomb.yaml:2: not valid YAML: YAML aliases (*a) are not accepted" in done.stdout + done.stderr


SECRETS = (
    "Hunter2Secret",
    "CurlSecret",
    "BearerSecret123",
    "MysqlSecret",
    "PsqlSecret",
    "JsonSecret",
    "sigSECRET",
)
MARKDOWN = """# Ops

## Restart the web tier

Connect with postgresql://app:Hunter2Secret@db.internal/app if the pool is stuck.
The status API needs `{"password": "JsonSecret"}`; the signed link is
https://cdn.example.com/x?expires=1&sig=sigSECRET.

```bash
curl -u admin:CurlSecret https://api.example.com/health
curl -H "Authorization: Bearer BearerSecret123" https://api.example.com/x
mysql -uroot -pMysqlSecret -e "show processlist"
psql "postgresql://app:PsqlSecret@db/app" -c "select 1"
kubectl rollout restart deployment/web -n shop
```
"""


def test_the_importer_copies_no_secret_into_a_runbook(tmp_path: Path) -> None:
    source = tmp_path / "ops.md"
    source.write_text(MARKDOWN)
    out = tmp_path / "out"
    done = chatops(tmp_path, "runbook", "import", str(source), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    written = "".join(p.read_text() for p in sorted(out.glob("*.yaml")))
    assert "kubectl rollout restart" in written or "k8s.rollout_restart" in written
    for secret in SECRETS:
        assert secret not in written, secret
        assert secret not in done.stdout + done.stderr, secret
    assert "curl -u admin:***" in written
    assert "-p***" in written


def test_template_braces_in_a_heading_get_a_clear_message(tmp_path: Path) -> None:
    source = tmp_path / "ops.md"
    source.write_text("# Ops\n\n## Restart {{service}}\n\n```bash\nkubectl get pods -n shop\n```\n")
    done = chatops(tmp_path, "runbook", "import", str(source), "--out", str(tmp_path / "out"))
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, out
    assert "Traceback" not in out
    assert "ops.md:3: section 'Restart {{service}}': {{service}} reads as a runbook template" in out
    assert not (tmp_path / "out").exists()
