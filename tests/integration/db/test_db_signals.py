"""cancel and terminate: previews, refusals, and their effect on a real backend."""

from __future__ import annotations

import psycopg
import pytest

from handlers.errors import InvalidRequest, NotFound
from tests.integration.db.pgkit import backend_state, make_ctx, make_pool, wait_for


def sleeping(session, dbname, app: str):
    s = session(app=app)
    s.run_in_background("SELECT pg_sleep(60) /* stuck export */")
    wait_for(lambda: (backend_state(dbname, s.pid) or {}).get("state") == "active", "the sleep to start")
    return s


def test_terminate_preview_shows_user_duration_and_query(preview, session, dbname) -> None:
    s = sleeping(session, dbname, "export-job")
    shown = preview("db.terminate", pid=s.pid)
    assert f"pid {s.pid}" in shown.summary
    assert "postgres (export-job)" in shown.summary
    assert "active for" in shown.summary
    text = "\n".join(shown.details)
    assert "pg_sleep(60)" in text
    assert "rolled back" in text
    assert backend_state(dbname, s.pid) is not None, "a preview changes nothing"


def test_terminate_ends_a_long_running_query(run, session, dbname) -> None:
    s = sleeping(session, dbname, "export-job")
    result = run("db.terminate", pid=s.pid)
    assert result.values == {"pid": s.pid, "terminated": True}
    assert "session has ended" in result.title
    s.join()
    assert isinstance(s.error, psycopg.OperationalError), "the client saw its connection end"
    assert backend_state(dbname, s.pid) is None


def test_cancel_stops_the_query_but_keeps_the_session(run, preview, session, dbname) -> None:
    s = sleeping(session, dbname, "report")
    assert "Cancel the query of" in preview("db.cancel", pid=s.pid).summary
    result = run("db.cancel", pid=s.pid)
    assert result.values["cancelled"] is True
    assert result.values["stopped"] is True
    s.join()
    assert isinstance(s.error, psycopg.errors.QueryCanceled)
    assert s.conn.execute("SELECT 1").fetchone() == (1,), "the session is still connected"


def test_refuses_the_bots_own_session(registry, dbname) -> None:
    pool = make_pool(f"host=127.0.0.1 user=postgres dbname={dbname}", max_size=1)
    try:
        with pool.connection() as conn:
            own = conn.info.backend_pid
        ctx = make_ctx(pool)
        for name in ("db.terminate", "db.cancel"):
            spec = registry.get(name)
            params = spec.params.model_validate({"pid": own})
            with pytest.raises(InvalidRequest, match="bot's own session"):
                spec.preview(ctx, params)
            with pytest.raises(InvalidRequest, match="bot's own session"):
                spec.fn(ctx, params)
        with pool.connection() as conn:
            assert conn.info.backend_pid == own, "the bot's connection survived"
    finally:
        pool.close()


def test_refuses_a_pid_that_does_not_exist(run, preview) -> None:
    with pytest.raises(NotFound, match=r"database main: no backend with pid 2147483647"):
        preview("db.terminate", pid=2147483647)
    with pytest.raises(NotFound, match="no backend with pid"):
        run("db.cancel", pid=2147483647)


def test_refuses_postgres_own_processes(run, session) -> None:
    s = session()
    row = s.conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").fetchone()
    assert row is not None
    with pytest.raises(InvalidRequest, match="checkpointer"):
        run("db.terminate", pid=row[0])


def test_pid_must_be_a_positive_number(registry) -> None:
    spec = registry.get("db.terminate")
    with pytest.raises(ValueError, match="pid"):
        spec.params.model_validate({"pid": "12; DROP TABLE x"})
    with pytest.raises(ValueError, match="pid"):
        spec.params.model_validate({"pid": -1})
