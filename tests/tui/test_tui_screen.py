"""The first screen: balance and open proposals first, then the rest (and snapshots)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from tui_homes import fixed_clock
from tui_pilot import screen_text, settle

from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.tui.app import BudgetApp
from ssbmoney.tui.budget import BudgetScreen
from ssbmoney.tui.decided import DecidedProposals
from ssbmoney.tui.proposals import OpenProposals

Fixture = tuple[Home, GroupInfo]


def app_for(home: Home, poll: float = 60.0) -> BudgetApp:
    return BudgetApp(home.paths.root, poll_seconds=poll, clock=fixed_clock)


async def test_first_screen_shows_balance_and_open_proposals(collective_home: Fixture) -> None:
    home, info = collective_home
    expected = home.ledger(info).view()
    app = app_for(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
        text = screen_text(pilot)
        lines = text.splitlines()
        # The summary bar is at the top: balance and what is promised.
        assert "Collective" in lines[0] and "you: Ana" in lines[0]
        for label, value in (("balance", "1460.00"), ("committed", "80.00"),
                             ("available", "1380.00"), ("deposited", "1500.00"),
                             ("spent", "40.00")):
            # labels on one line, each amount right under its label
            assert lines[2].index(f"{value} EUR") == lines[1].index(label)
        # Open proposals come first, with their tallies, voters and claimed closing time.
        open_at = text.index("Open proposals (2)")
        assert open_at < text.index("Decided (2)") < text.index("Members (3)")
        wages = next(line for line in lines if "Sprint wages, week 1" in line)
        assert "600.00 EUR" in wages and "1/0/1/0" in wages
        assert "Ben yes" in wages and "Chloé abstain" in wages
        assert "2025-06-01 18:00" in wages and "closes (claimed, UTC)" in text
        assert "Travel to the meeting" in text
        # Decided: approved with spent and left; rejected.
        server = next(line for line in lines if "Server for a year" in line)
        assert "approved" in server and "40.00 EUR" in server and "80.00 EUR" in server
        assert "rejected" in next(line for line in lines if "New logo" in line)
        # Warnings in words, the state hash in the footer area.
        assert "late vote" in text
        assert f"state hash {expected['state_hash']}" in text
        for key in ("Yes", "No", "Abstain", "Block", "Close", "Propose", "Deposit",
                    "Spend", "Withdraw", "Refresh", "Quit"):
            assert key in lines[-1]
        assert app.screen.view == expected


async def test_tables_hold_the_right_rows(collective_home: Fixture) -> None:
    home, _info = collective_home
    app = app_for(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        open_rows = app.screen.query_one(OpenProposals).rows_by_key.values()
        decided = app.screen.query_one(DecidedProposals).rows_by_key.values()
        assert {p["title"] for p in open_rows} == {"Sprint wages, week 1",
                                                   "Travel to the meeting"}
        assert [p["status"] for p in decided] == ["approved", "rejected"]


def _first_screen(home: Home) -> tuple[BudgetApp, Any]:
    async def ready(pilot: Pilot[None]) -> None:
        await settle(pilot)

    return app_for(home), ready


def test_snapshot_first_screen(collective_home: Fixture, snap_compare: Any) -> None:
    app, ready = _first_screen(collective_home[0])
    assert snap_compare(app, terminal_size=(120, 40), run_before=ready)


def test_snapshot_first_screen_small_terminal(collective_home: Fixture,
                                              snap_compare: Any) -> None:
    app, ready = _first_screen(collective_home[0])
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
