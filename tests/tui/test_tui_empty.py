"""A home with nothing to show gets a screen saying what to run, never a traceback."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList
from tui_homes import ANA_SEED, fixed_clock
from tui_pilot import screen_text, settle

from ssbmoney.app.home import Home
from ssbmoney.tui.app import BudgetApp
from ssbmoney.tui.budget import BudgetScreen
from ssbmoney.tui.empty import EmptyScreen

SIZE = (160, 30)


async def test_no_identity_says_to_init(tmp_path: Path) -> None:
    root = tmp_path / "new home"
    app = BudgetApp(root, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EmptyScreen)
        text = screen_text(pilot)
        assert "This home has no identity yet." in text
        assert f"ssbmoney --home '{root}' init --name NAME" in text  # quoted: a space
        assert "group create NAME --currency EUR" in text and "group join INVITE" in text
        # run what it says (as in another terminal), then r: the group opens
        home = Home(root, clock=fixed_clock)
        home.init("Ana", seed=ANA_SEED)
        await pilot.press("r")
        await settle(pilot)
        assert "This home belongs to no group yet." in screen_text(pilot)
        assert "init --name" not in screen_text(pilot)
        home.create_group("Collective", "EUR")
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
        assert "Open proposals (0)" in screen_text(pilot)


async def test_several_groups_can_be_picked(tmp_path: Path) -> None:
    home = Home(tmp_path / "h", clock=fixed_clock)
    home.init("Ana", seed=ANA_SEED)
    home.create_group("Garden", "EUR", secret=b"\x05" * 32)
    kitchen = home.create_group("Kitchen", "JPY", secret=b"\x06" * 32)
    app = BudgetApp(home.paths.root, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EmptyScreen)
        assert "several groups" in screen_text(pilot)
        options = app.screen.query_one(OptionList)
        index = [options.get_option_at_index(i).id for i in range(options.option_count)]
        options.focus()
        options.highlighted = index.index(kitchen.id.hex())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
        assert "Kitchen  ·  JPY" in screen_text(pilot)
        assert "0 JPY" in screen_text(pilot)


async def test_group_option_opens_that_group(tmp_path: Path) -> None:
    home = Home(tmp_path / "h", clock=fixed_clock)
    home.init("Ana", seed=ANA_SEED)
    home.create_group("Garden", "EUR", secret=b"\x05" * 32)
    home.create_group("Kitchen", "JPY", secret=b"\x06" * 32)
    app = BudgetApp(home.paths.root, "Garden", clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Garden  ·  EUR" in screen_text(pilot)
    app = BudgetApp(home.paths.root, "nope", clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EmptyScreen)
        assert "No group matches 'nope'" in screen_text(pilot)


async def test_damaged_identity_is_reported_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "h"
    root.mkdir()
    (root / "identity.json").write_text("{not json")
    app = BudgetApp(root, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EmptyScreen)
        assert "is damaged" in screen_text(pilot)
