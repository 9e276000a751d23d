"""`chatops check-config` validates the on-call and paging sections, naming the key."""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.test_cli import _chatops, _env

ROTATIONS = """
oncall:
  rotations:
    primary: {members: [U0ANA, U0BEN], every: 1w, handoff: "Fri 17:00", timezone: Europe/Berlin,
              start: 2026-11-06}
"""


def test_a_rotation_contact_naming_no_rotation_fails_check_config(tmp_path: Path) -> None:
    (tmp_path / "chatops.yaml").write_text(
        ROTATIONS + "severities:\n  P0:\n    label: Critical\n"
        "    escalate: [{after: 0m, notify: 'rotation:primary'}, {after: 5m, notify: 'rotation:secondary'}]\n"
    )
    r = _chatops("check-config", env=_env(tmp_path))
    assert r.returncode == 2
    assert (
        "severities.P0.escalate[1].notify: 'rotation:secondary' names no rotation (rotations: primary)"
        in (r.stdout + r.stderr)
    )


def test_valid_rotations_and_paging_pass_check_config(tmp_path: Path) -> None:
    (tmp_path / "chatops.yaml").write_text(
        ROTATIONS + "contacts:\n  oncall: ['rotation:primary']\n"
        "paging:\n  pagerduty: {routing_key: '${PD_KEY}', webhook_secret: '${PD_SECRET}'}\n"
        "severities:\n  P0: {label: Critical, page: true}\n"
    )
    r = _chatops("check-config", env=_env(tmp_path, PD_KEY="k" * 32, PD_SECRET="s"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "valid" in r.stdout
    assert "k" * 32 not in r.stdout + r.stderr
