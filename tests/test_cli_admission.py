"""Admissions end to end: an invite holder asks to be admitted (no amount), the
members vote and close, and the newcomer counts from then on. An admission is never
committed or spent, and every face renders it."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import ok, run, run_json

from ssbmoney.cli.render import status_text
from ssbmoney.tui import words


def _carry(src: Path, dst: Path, out: Path) -> dict:
    ok(src, "export", "--out", str(out))
    code, report, err = run_json(dst, "import", str(out))
    assert code == 0, (report, err)
    return report


def test_self_proposed_admission_needs_no_amount_and_admits(tmp_path: Path) -> None:
    ana, cem = tmp_path / "ana", tmp_path / "cem"
    ok(ana, "init", "--name", "Ana")
    cem_id = ok(cem, "init", "--name", "Cem")["id"]
    invite = ok(ana, "group", "create", "Pot", "--currency", "EUR")["invite"]
    ok(ana, "deposit", "50")
    ok(cem, "group", "join", invite)
    _carry(ana, cem, tmp_path / "a0")
    code, out, err = run(cem, "deposit", "999")      # not a member yet: recorded, flagged
    assert code == 0 and "not a member" in err
    ask = ok(cem, "propose", "--title", "Admit me", "--add-member", cem_id)["proposal"]
    code, _out, err = run(cem, "propose", "--title", "x", "--add-member", cem_id,
                          "--amount", "5")
    assert code == 2 and "no amount" in err
    _carry(cem, ana, tmp_path / "c1")
    before = ok(ana, "status")
    assert before["deposited"] == 5000 and cem_id not in before["members"]
    assert ask not in {p["id"] for p in before["proposals"]}  # a stranger's, unnamed
    ok(ana, "vote", ask, "yes")
    closed = ok(ana, "close", ask)
    assert closed["outcome"] == "approved"
    view = ok(ana, "status")
    row = next(p for p in view["proposals"] if p["id"] == ask)
    assert row["amount"] is None and row["add_member"] == cem_id
    assert cem_id in view["members"]
    assert view["committed"] == 0 and view["deposited"] == 5000 + 99900
    code, _out, err = run(ana, "spend", ask, "--amount", "1")
    assert code == 2 and "admission" in err
    text = status_text(view, every=True)
    assert "admission" in text and "Admit me" in text
    assert words.amount(view, row) == "admits Cem"
    report = _carry(ana, cem, tmp_path / "a1")
    assert report["changed"] == [{"proposal": ask, "title": "Admit me", "from": "open",
                                  "to": "approved", "reason": "a close arrived"}]
    assert cem_id in ok(cem, "status")["members"]
