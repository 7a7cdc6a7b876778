"""Anyone with the invite may write; a non-member's entries are recorded, flagged
``non_member`` and not counted (contract: "Members")."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import ok, run


def test_non_member_writes_are_recorded_flagged_and_not_counted(tmp_path: Path) -> None:
    ana, zoe = tmp_path / "ana", tmp_path / "zoe"
    ok(ana, "init", "--name", "Ana")
    ok(zoe, "init", "--name", "Zoe")
    invite = ok(ana, "group", "create", "Pot", "--currency", "EUR")["invite"]
    ok(ana, "deposit", "100")
    proposal = ok(ana, "propose", "--title", "Tea", "--amount", "5")["proposal"]
    ok(zoe, "group", "join", invite)
    out = tmp_path / "export"
    ok(ana, "export", "--out", str(out))
    ok(zoe, "import", str(out))

    code, _out, err = run(zoe, "vote", proposal[:8], "block")
    assert code == 0 and "non_member" in err
    deposit = ok(zoe, "deposit", "50")["entry"]
    view = ok(zoe, "status")
    assert view["deposited"] == 10000 and view["balance"] == 10000
    row = next(p for p in view["proposals"] if p["id"] == proposal)
    assert row["block"] == 0
    assert {"kind": "non_member", "entry": deposit} in view["warnings"]

    # Once Ana has Zoe's feed, she sees the same flags and the same state hash.
    back = tmp_path / "back"
    ok(zoe, "export", "--out", str(back))
    ok(ana, "import", str(back))
    assert ok(ana, "status")["state_hash"] == view["state_hash"]
    ok(ana, "vote", proposal[:8], "yes")
    assert ok(ana, "close", proposal[:8])["outcome"] == "approved"  # Zoe's block not counted
