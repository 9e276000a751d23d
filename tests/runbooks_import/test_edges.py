"""Files that are not runbooks get a clear message; writing stays inside --out and never
overwrites without --force; --dry-run writes nothing; nothing in the file is ever run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.runbooks.importer import ImportFailed, import_file
from handlers import Registry
from tests.runbooks_import.conftest import files_under, load_all_written

GOOD = """# Ops

## Restart the web tier

**Symptoms:** 502 from the load balancer

```bash
kubectl get pods -n shop
kubectl rollout restart deployment/web -n shop
```
"""


def write(tmp_path: Path, text: str | bytes, name: str = "runbook.md") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def cli_import(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["runbook", "import", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty: nothing to import"),
        ("   \n\n\t\n", "the file is empty: nothing to import"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "this is a binary file, not Markdown text"),
        (b"# Title\n\ncaf\xe9 au lait\n", "runbook.md:3: not UTF-8 text (byte 0xe9 cannot be decoded)"),
        ("Just some prose.\n\n- a list\n", "no headings found"),
        ("# Notes\n\nOnly prose here.\n\n## More\n\n- a bullet\n", "no procedure found"),
    ],
)
def test_not_a_runbook(tmp_path: Path, registry: Registry, content: str | bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ImportFailed) as exc:
        import_file(path, tmp_path / "out", registry)
    assert message in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_unterminated_fence_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# Ops\n\n## Check\n\n```bash\nkubectl get pods\n\n## Later\n\ntext\n")
    code, output = cli_import(str(path), "--out", str(tmp_path / "out"))
    assert code == 1
    assert f"{path}:5: unterminated code fence" in output
    assert not (tmp_path / "out").exists()


def test_unterminated_fence_inside_a_list_item(tmp_path: Path, registry: Registry) -> None:
    text = "# Ops\n\n## Check\n\n1. Look\n   ```bash\n   kubectl get pods\n2. Next\n"
    with pytest.raises(ImportFailed, match=r"runbook\.md:6: unterminated code fence"):
        import_file(write(tmp_path, text), tmp_path / "out", registry)


def test_unclosed_html_comment_is_malformed(tmp_path: Path, registry: Registry) -> None:
    text = "# Ops\n\n## Check\n\n<!-- draft\n\n```bash\nkubectl get pods\n```\n"
    with pytest.raises(ImportFailed, match=r"runbook\.md:5: unclosed HTML comment"):
        import_file(write(tmp_path, text), tmp_path / "out", registry)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    code, output = cli_import(str(tmp_path / "nope.md"), "--out", str(tmp_path / "out"))
    assert code == 1
    assert "cannot be read" in output
    code, output = cli_import(str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 1
    assert "is a directory" in output


def test_existing_file_is_not_overwritten_without_force(tmp_path: Path, registry: Registry) -> None:
    out = tmp_path / "runbooks"
    out.mkdir()
    (out / "restart-the-web-tier.yaml").write_text("# mine\n")
    source = write(tmp_path, GOOD + "\n## Check the cache\n\n```bash\nredis-cli ping\n```\n")
    code, output = cli_import(str(source), "--out", str(out))
    assert code == 1
    assert "restart-the-web-tier.yaml: already exists (use --force to overwrite it)" in output
    assert "nothing written" in output
    assert (out / "restart-the-web-tier.yaml").read_text() == "# mine\n"
    assert not (out / "check-the-cache.yaml").exists()  # all or nothing
    code, output = cli_import(str(source), "--out", str(out), "--force")
    assert code == 0, output
    assert set(load_all_written(out, registry)) == {"restart-the-web-tier", "check-the-cache"}


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    source = write(tmp_path, GOOD)
    before = files_under(tmp_path)
    code, output = cli_import(str(source), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == 0, output
    assert "would write" in output
    assert "dry run: nothing written" in output
    assert files_under(tmp_path) == before
    assert not (tmp_path / "out").exists()


def test_nothing_is_written_outside_out(tmp_path: Path, registry: Registry) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "precious.yaml"
    victim.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "restart-the-web-tier.yaml")
    source = write(tmp_path, GOOD)
    before = files_under(tmp_path) - files_under(out)
    done = import_file(source, out, registry, force=True, prefix="")
    assert victim.read_text() == "keep me\n"  # the link was replaced, not followed
    assert not (out / "restart-the-web-tier.yaml").is_symlink()
    assert all(p.parent == out.resolve() for p in done.written)
    assert files_under(tmp_path) - files_under(out) == before
    load_all_written(out, registry)


def test_out_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    code, output = cli_import(str(write(tmp_path, GOOD)), "--out", str(tmp_path / "out"))
    assert code == 1
    assert "--out is a file" in output


def test_nothing_in_the_file_is_executed(tmp_path: Path, registry: Registry) -> None:
    marker = tmp_path / "ran"
    text = f"""# Ops

## Dangerous

```bash
touch {marker}
echo $(touch {marker}-sub)
kubectl exec -it web-1 -- sh -c "touch {marker}-pod"
psql -c "SELECT pg_sleep(0); COPY (SELECT 1) TO PROGRAM 'touch {marker}-sql'"
```
"""
    import_file(write(tmp_path, text), tmp_path / "out", registry)
    assert not list(tmp_path.glob("ran*"))


def test_prefix_and_name_clashes(tmp_path: Path, registry: Registry) -> None:
    text = """# Ops

## Web

### Check

```bash
kubectl get pods -n web
```

## Cache

### Check

```bash
redis-cli ping
```
"""
    done = import_file(write(tmp_path, text), tmp_path / "out", registry, prefix="Shop")
    assert sorted(r.name for r in done.report.runbooks) == ["shop-cache-check", "shop-check"]
    load_all_written(tmp_path / "out", registry)


def test_config_with_unset_secrets_and_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "chatops.yaml"
    config.write_text('databases: {main: {dsn: "${NOT_SET_ANYWHERE}"}}\n')
    code, output = cli_import(
        str(write(tmp_path, GOOD)), "--out", str(tmp_path / "out"), "--config", str(config)
    )
    assert code == 0, output
    config.write_text("nonsense_key: 1\n")
    code, output = cli_import(
        str(write(tmp_path, GOOD)), "--out", str(tmp_path / "out2"), "--config", str(config)
    )
    assert code == 2
    assert "nonsense_key" in output
