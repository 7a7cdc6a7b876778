"""An invite holder's request to be admitted shows among the open proposals, and a
member votes on it and closes it from the TUI like any proposal."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_homes import fixed_clock, sync
from tui_pilot import screen_text, settle

from ssbmoney.app.actions import Session
from ssbmoney.app.home import Home
from ssbmoney.tui.app import BudgetApp
from ssbmoney.tui.confirm import ConfirmScreen
from ssbmoney.tui.proposals import OpenProposals

SIZE = (120, 40)


async def _select(pilot: Pilot[None], title: str) -> None:
    table = pilot.app.screen.query_one(OpenProposals)
    table.focus()
    for row, record in enumerate(table.rows_by_key.values()):
        if record["title"] == title:
            table.move_cursor(row=row)
            await pilot.pause()
            return
    raise AssertionError(f"no row {title!r}")


async def test_a_member_admits_a_newcomer_from_the_tui(tmp_path: Path) -> None:
    ana = Home(tmp_path / "ana", clock=fixed_clock)
    ana.init("Ana", seed=b"\x21" * 32)
    info = ana.create_group("Collective", "EUR", quorum=1, secret=b"\x22" * 32)
    cem = Home(tmp_path / "cem", clock=fixed_clock)
    cem_id = cem.init("Cem", seed=b"\x23" * 32).keys.id
    cem_info = cem.join_group(ana.invite(info))
    sync(ana, cem, info)
    with cem.store(cem_info) as store:
        Session(cem, cem_info, store).propose("Please admit Cem", None, add_member=cem_id)
    sync(ana, cem, info)
    app = BudgetApp(ana.paths.root, poll_seconds=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert "Please admit Cem" in screen_text(pilot)
        await _select(pilot, "Please admit Cem")
        await pilot.press("y")
        await settle(pilot)
        await _select(pilot, "Please admit Cem")
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
    with ana.store(info) as store:
        view = Session(ana, info, store).view()
    row = next(p for p in view["proposals"] if p["title"] == "Please admit Cem")
    assert row["status"] == "approved" and row["amount"] is None
    assert cem_id in view["members"]
