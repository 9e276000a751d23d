"""The shell and SQL readers on the forms runbooks use."""

from __future__ import annotations

from bot.runbooks.importer.mappers import Manual, Mapped, map_command
from bot.runbooks.importer.mappers.common import Result, Site
from bot.runbooks.importer.shell import Command, Note, read
from bot.runbooks.importer.sql import classify, split


def commands(text: str) -> list[Command]:
    return [c for c in read(text, 10) if isinstance(c, Command)]


def test_comments_titles_and_lines() -> None:
    items = read(
        "#!/bin/bash\n# Check pods\nkubectl get pods\n\n# Trigger deployment\n# (via CI/CD)\n\nls\n", 10
    )
    assert isinstance(items[0], Command)
    assert (items[0].line, items[0].comment) == (12, "Check pods")
    assert isinstance(items[1], Note)
    assert items[1].lines == ["Trigger deployment", "(via CI/CD)"]
    assert isinstance(items[2], Command)
    assert items[2].comment == ""


def test_continuations_pipes_chains_and_redirects() -> None:
    cmds = commands(
        "kubectl exec -n x deploy/db -- \\\n  pg_dump app | \\\n  gzip > /b/db-$(date +%F).gz\n"
        "cd /srv && make deploy; echo done\n"
        "kubectl logs web 2>&1 | grep -i ERROR | tail -20  # trailing note\n"
    )
    dump, cd, make, echo, logs = cmds
    assert dump.main.argv == ["kubectl", "exec", "-n", "x", "deploy/db", "--", "pg_dump", "app"]
    assert dump.filters[0].argv == ["gzip"]
    assert [(r.op, r.target) for r in dump.redirects] == [(">", "/b/db-$(date +%F).gz")]
    assert (cd.main.argv, make.chained, echo.chained) == (["cd", "/srv"], "&&", ";")
    assert [s.argv for s in logs.filters] == [["grep", "-i", "ERROR"], ["tail", "-20"]]
    assert logs.trailing == "trailing note"
    assert ("2>&1", "") in [(r.op, r.target) for r in logs.redirects]


def test_multiline_quotes_env_vars_and_placeholders() -> None:
    (psql, env, ph) = commands(
        'psql -c "\nSELECT 1;\n"\nPGPASSWORD=x EMERGENCY=true ./deploy.sh $ENV ${TAG:-v1}\n'
        "kubectl describe pod <pod-name> -n web\n"
    )
    assert psql.main.argv == ["psql", "-c", "\nSELECT 1;\n"]
    assert env.main.env == {"PGPASSWORD": "x", "EMERGENCY": "true"}
    parts = [w.parts() for w in env.main.words[1:]]
    assert [p[0].name for p in parts] == ["ENV", "TAG"]  # type: ignore[union-attr]
    assert parts[1][0].default == "v1"  # type: ignore[union-attr]
    assert ph.main.words[3].text == "<pod-name>"
    assert ph.main.words[3].parts()[0].name == "pod-name"  # type: ignore[union-attr]
    assert ph.redirects == []


def test_hash_inside_a_word_is_not_a_comment_and_bad_quotes_are_reported() -> None:
    (url, bad) = commands("curl http://x/a#b\necho 'unclosed\n")
    assert url.main.argv == ["curl", "http://x/a#b"]
    assert "quote" in bad.problem


def test_sql_split_and_classify() -> None:
    stmts = split(
        "-- Slow\nSELECT query FROM pg_stat_statements ORDER BY calls DESC LIMIT 3;\n\n"
        "-- Kill\nSELECT 'a;b';\n",
        5,
    )
    assert [(s.line, s.comment) for s in stmts] == [(6, "Slow"), (9, "Kill")]
    assert classify(stmts[0].text).args == {"by": "calls", "limit": 3}
    assert classify("VACUUM FULL big").reason.startswith("VACUUM FULL")
    assert classify("REINDEX TABLE t").changes
    assert classify("UPDATE users SET x = 1").changes
    assert "users" in classify("SELECT * FROM users").reason
    assert classify("SELECT pg_cancel_backend(42)").handler == "db.cancel"
    assert classify("\\dt").handler == "db.table_sizes"


def test_logs_by_label_maps_or_says_why_not() -> None:
    def mapped(line: str) -> Result:
        return map_command(commands(line)[0]).result

    ok = mapped("kubectl logs -n shop -l app=web --tail=100 -c web --previous\n")
    assert isinstance(ok, Mapped)
    assert (ok.handler, ok.args) == (
        "k8s.logs",
        {"namespace": Site("namespace", "shop", hint="shop"), "selector": "app=web", "tail": 100}
        | {"container": "web", "previous": True},
    )
    assert ok.notes == ["the step reads at most 5 of the matching pods (kubectl reads them all)"]
    kept = {
        "kubectl logs web-1 -l app=web\n": "both a pod or deployment and -l",
        "kubectl logs -l app=web --all-containers\n": "--all-containers: no equivalent in k8s.logs",
        "kubectl logs -l app=web | grep -E 'time(out)?'\n": "is a regular expression",
        "kubectl logs -l app=web | grep -v health\n": "inverted/context match",
        "kubectl logs web-1 --max-log-requests=3\n": "--max-log-requests without -l",
    }
    for line, why in kept.items():
        result = mapped(line)
        assert isinstance(result, Manual), line
        assert why in result.reason, (line, result.reason)
