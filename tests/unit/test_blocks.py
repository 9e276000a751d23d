"""Results become Block Kit within Slack's limits; what is cut is said and uploaded whole."""

from __future__ import annotations

from bot.render.slack import MAX_BLOCKS, TEXT_LIMIT, result_blocks
from handlers.results import Check, Group, KeyValues, Logs, Status, Table, Text


def _texts(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e.get("text", ""))
    return out


def test_small_table_fits_without_a_file() -> None:
    r = result_blocks(
        Table(title="Pods", columns=["NAME", "STATUS"], rows=[["a", "Running"]], summary="1 pod")
    )
    assert r.file is None
    joined = "\n".join(_texts(r.as_dicts()))
    assert "NAME  STATUS" in joined
    assert "a     Running" in joined
    assert "1 pod" in joined


def test_huge_table_stays_within_limits_and_says_what_was_left_out() -> None:
    rows = [[f"pod-{i:05d}-" + "x" * 40, "CrashLoopBackOff"] for i in range(5000)]
    r = result_blocks(Table(title="Pods", columns=["NAME", "STATUS"], rows=rows))
    blocks = r.as_dicts()
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= TEXT_LIMIT for t in _texts(blocks))
    assert r.omitted > 0
    assert f"{r.omitted} lines or rows not shown here" in _texts(blocks)[-1]
    assert r.file is not None
    assert "pod-04999-" in r.file  # the whole output is in the file


def test_long_logs_keep_the_newest_lines() -> None:
    r = result_blocks(Logs(title="logs", lines=[f"line {i}" for i in range(100_000)]))
    texts = _texts(r.as_dicts())
    assert "line 99999" in texts[-2]
    assert r.file is not None
    assert r.file.endswith("line 99999")


def test_mrkdwn_is_escaped() -> None:
    r = result_blocks(Text(text="a <b> & c"))
    assert "a &lt;b&gt; &amp; c" in _texts(r.as_dicts())[0]


def test_group_with_checks_and_key_values() -> None:
    r = result_blocks(
        Group(
            title="db",
            parts=[
                Check(title="connections", status=Status.CRIT, detail="96% used"),
                KeyValues(items=[("version", "16.2")]),
            ],
        )
    )
    joined = "\n".join(_texts(r.as_dicts()))
    assert ":red_circle: *connections* 96% used" in joined
    assert "*version:* 16.2" in joined


def test_one_giant_line_is_cut_to_the_block_limit() -> None:
    r = result_blocks(Text(text="y" * 50_000))
    assert all(len(t) <= TEXT_LIMIT for t in _texts(r.as_dicts()))
