"""End to end through the CLI: a member's home copied to a second machine, both copies
writing. Nothing erases a money record: both deposits count on every home; the
warning names the member; that member's votes from the fork on are muted in a close
that saw the fork, and the forked member's vote and close are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_helpers import ok, run, run_json


def _carry(src: Path, dst: Path, tmp: Path, name: str) -> dict:
    out = tmp / name
    ok(src, "export", "--out", str(out))
    code, report, err = run_json(dst, "import", str(out))
    assert code == 0, (report, err)
    return report


def test_home_copied_to_a_second_machine_keeps_both_deposits(tmp_path: Path) -> None:
    ana, bea, bea2 = tmp_path / "ana", tmp_path / "bea", tmp_path / "bea-laptop"
    ok(ana, "init", "--name", "Ana")
    bea_id = ok(bea, "init", "--name", "Bea")["id"]
    invite = ok(ana, "group", "create", "Pot", "--currency", "EUR",
                "--member", bea_id)["invite"]
    ok(bea, "group", "join", invite)
    ok(ana, "deposit", "100")
    proposal = ok(ana, "propose", "--title", "Server", "--amount", "30")["proposal"]
    _carry(ana, bea, tmp_path, "a1")
    _carry(bea, ana, tmp_path, "b1")

    shutil.copytree(bea, bea2)          # "to be safe": the same key on a second machine
    ok(bea, "deposit", "10", "--note", "from the desktop")
    ok(bea2, "deposit", "20", "--note", "from the laptop")
    ok(bea2, "vote", proposal, "yes")   # the laptop does not know of the fork yet

    _carry(bea, bea2, tmp_path, "b2")
    _carry(bea2, bea, tmp_path, "b3")
    _carry(bea, ana, tmp_path, "b4")
    _carry(bea2, ana, tmp_path, "b5")
    ok(ana, "vote", proposal, "yes")

    views = {name: ok(home, "status") for name, home in
             (("ana", ana), ("bea", bea), ("bea2", bea2))}
    for view in views.values():
        assert view["deposited"] == 13000, view["deposited"]  # 100 + 10 + 20 EUR
        forks = [w for w in view["warnings"] if w["kind"] == "fork"]
        assert len(forks) == 1 and forks[0]["member"] == bea_id
    assert views["bea"]["state_hash"] == views["bea2"]["state_hash"]

    # The forked member cannot vote or close: told what still counts, and why.
    for home in (bea, bea2):
        code, out, err = run(home, "vote", proposal, "no")
        assert code == 2 and "deposits and spends still count" in err
        assert "device linking" in err
        code, _out, err = run(home, "close", proposal)
        assert code == 2 and "forked" in err

    # Ana's close saw the fork: Bea's vote from the fork on does not count in it.
    closed = ok(ana, "close", proposal)
    assert closed["yes"] == 1 and closed["outcome"] == "rejected"  # quorum 2: only Ana
    row = next(p for p in ok(ana, "status")["proposals"] if p["id"] == proposal)
    assert bea_id not in row["votes"]
