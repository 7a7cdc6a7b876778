"""Wording and the import boundary: no Textual outside ``ssbmoney.tui``."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import ssbmoney
from ssbmoney.tui import words

REPO = Path(__file__).resolve().parents[2]
VIEW = {
    "currency": "EUR",
    "members": ["@a", "@b"],
    "member_names": {"@a": "Ana", "@b": "Ben"},
    "rules": {"quorum": None},
    "proposals": [{"id": "%p1", "title": "Server"}],
}


def test_warnings_read_as_sentences_naming_what_they_are_about() -> None:
    assert words.warning(VIEW, {"kind": "overspend", "entry": "%s1234567890abc"}) == (
        "overspend: more was spent than the proposal approved (entry %s123456789…)"
    )
    assert words.warning(VIEW, {"kind": "late_vote", "entry": "%p1"}).startswith("late vote")
    assert 'proposal "Server"' in words.warning(VIEW, {"kind": "non_member", "entry": "%p1"})
    assert "feed @abc" in words.warning(VIEW, {"kind": "fork", "feed": "@abc"})
    # a kind this TUI does not know yet is still readable
    assert words.warning(VIEW, {"kind": "new_kind", "entry": "%x"}).startswith("new kind")
    for kind in ("non_member", "unapproved_spend", "overspend", "late_vote", "fork"):
        assert kind in words.WARNINGS  # the contract's kinds all have words


def test_names_money_and_turnout() -> None:
    assert words.money(123456, "EUR") == "1234.56 EUR"
    assert words.money(5, "JPY") == "5 JPY"
    assert words.name_of(VIEW, "@a", me="@a") == "Ana (you)"
    assert words.name_of(VIEW, "@zzzzzzzzzzzz") == "@zzzzzzzz…"
    p = {"yes": 1, "no": 0, "abstain": 1, "block": 0, "votes": {"@a": "yes", "@b": "abstain"}}
    assert words.voters(VIEW, p) == "Ana yes, Ben abstain"
    assert words.tally(p) == "1/0/1/0"
    assert words.turnout(VIEW, p) == "2 of 2 members voted, quorum 2"
    assert words.claimed(None) == "-"
    assert words.claimed(1_748_777_400_000) == "2025-06-01 11:30"


def test_only_the_tui_imports_textual() -> None:
    core = sorted(
        f"ssbmoney.{m.name}" for m in pkgutil.iter_modules(ssbmoney.__path__)
        if m.name not in ("tui", "bench", "__main__")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {core + ['ssbmoney.tui.live', 'ssbmoney.tui.words']!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
