"""Issue 12, item 11: secrets by key name and by pattern, in every spelling they travel in."""

from __future__ import annotations

import pytest

from handlers.redact import redact, scrub
from handlers.results import KeyValues, Table


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"password": "hunter2", "user": "bob"}', '{"password": "***", "user": "bob"}'),
        ("{'api_key': 'abc', 'n': 1}", "{'api_key': '***', 'n': 1}"),
        ('{"db": {"password": "p\\"w"}}', '{"db": {"password": "***"}}'),
        (
            "https://x.com/a?api_key=S1&sig=S2&token=T3&page=2&key=AIza",
            "https://x.com/a?api_key=***&sig=***&token=***&page=2&key=***",
        ),
        ("X-Amz-Signature=abcd&X-Amz-Credential=AKIA/2020", "X-Amz-Signature=***&X-Amz-Credential=***"),
        ("postgresql://app:Hunter2@db/app", "postgresql://app:***@db/app"),
        ("Authorization: Bearer abcdef123456", "Authorization: Bearer ***"),
        ("client_secret: s3cr3t", "client_secret: ***"),
        ("PGPASSWORD=xx psql", "PGPASSWORD=*** psql"),
        ("access_token=zzz", "access_token=***"),
        ("ghp_abcdefghijklmnopqrstuvwx12", "***"),
        # What is not a secret stays.
        ("status=ok database.connections=7", "status=ok database.connections=7"),
        ("/redis key session:1", "/redis key session:1"),
        ("monkey=1 keys=2", "monkey=1 keys=2"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_scrub_reaches_every_string_of_a_result() -> None:
    table = Table(
        title="t",
        columns=("k", "v"),
        rows=(("cfg", '{"password": "hunter2"}'),),
        values={"url": "https://u:pw@h/"},
    )
    clean = scrub(table)
    assert clean.rows[0][1] == '{"password": "***"}'
    assert clean.values["url"] == "https://u:***@h/"
    kv = scrub(KeyValues(title="x", items=(("token", "xoxb-1-2-abc"),)))
    assert kv.items[0][1] == "xox*-***"
