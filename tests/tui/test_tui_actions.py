"""Keys that write: each goes through Session, is checked with a fresh fold of the
home (a new ``Home`` object, as another process would see it), and bad input writes
nothing and shows the error."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.widgets._toast import Toast
from tui_homes import fixed_clock, proposal
from tui_pilot import screen_text, settle

from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.store.group_store import LOG_NAME
from ssbmoney.tui.app import BudgetApp
from ssbmoney.tui.budget import BudgetScreen
from ssbmoney.tui.confirm import ConfirmScreen
from ssbmoney.tui.decided import DecidedProposals
from ssbmoney.tui.forms import FormScreen
from ssbmoney.tui.proposals import OpenProposals

Fixture = tuple[Home, GroupInfo]
SIZE = (120, 40)


def app_for(home: Home) -> BudgetApp:
    return BudgetApp(home.paths.root, poll_seconds=60.0, clock=fixed_clock)


def fresh(home: Home) -> Home:
    return Home(home.paths.root, clock=fixed_clock)


def log_bytes(home: Home, info: GroupInfo) -> bytes:
    return (home.paths.group_dir(info.id) / LOG_NAME).read_bytes()


async def toasts(pilot: Pilot[None]) -> str:
    """The text of the notifications on screen (they mount a moment after notify)."""
    await pilot.pause()
    await pilot.pause()
    return "\n".join(str(t.render()) for t in pilot.app.screen.query(Toast))


async def select(pilot: Pilot[None], table: type[OpenProposals | DecidedProposals],
                 title: str) -> None:
    widget = pilot.app.screen.query_one(table)
    widget.focus()
    for row, record in enumerate(widget.rows_by_key.values()):
        if record["title"] == title:
            widget.move_cursor(row=row)
            await pilot.pause()
            return
    raise AssertionError(f"no row {title!r}")


async def test_y_votes_yes_on_the_selected_open_proposal(simple_home: Fixture) -> None:
    home, info = simple_home
    me = home.identity().keys.id
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert proposal(fresh(home), info, "Server")["votes"] == {me: "yes"}
        assert "Voted yes on 'Server for a year'" in await toasts(pilot)
        row = next(line for line in screen_text(pilot).splitlines() if "Server" in line)
        assert "1/0/0/0" in row and "Ana yes" in row
        # a later vote replaces the earlier one
        await pilot.press("b")
        await settle(pilot)
        assert proposal(fresh(home), info, "Server")["votes"] == {me: "block"}


async def test_vote_keys_act_on_the_highlighted_row(collective_home: Fixture) -> None:
    home, info = collective_home
    me = home.identity().keys.id
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await select(pilot, OpenProposals, "Sprint wages, week 1")
        await pilot.press("n")
        await settle(pilot)
        assert proposal(fresh(home), info, "Sprint")["votes"][me] == "no"
        assert me not in proposal(fresh(home), info, "Travel")["votes"]
        # the selection stays on the same proposal across the refresh
        selected = app.screen.query_one(OpenProposals).selected
        assert selected is not None and selected["title"] == "Sprint wages, week 1"


async def test_vote_on_a_decided_proposal_is_refused(collective_home: Fixture) -> None:
    home, info = collective_home
    before = log_bytes(home, info)
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await select(pilot, DecidedProposals, "Server for a year")
        await pilot.press("y")
        await settle(pilot)
        assert "only open proposals take votes" in await toasts(pilot)
    assert log_bytes(home, info) == before


async def test_p_form_creates_a_proposal(simple_home: Fixture) -> None:
    home, info = simple_home
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"Travel", "enter", *"180.5", "enter")  # typed, keys and all
        app.screen.query_one("#title", Input).value = "Travel to the meeting"
        app.screen.query_one("#payee", Input).value = "Rail"
        app.screen.query_one("#category", Input).value = "travel"
        await pilot.press("enter", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
        made = proposal(fresh(home), info, "Travel")
        assert (made["amount"], made["payee"], made["category"], made["status"]) == (
            18050, "Rail", "travel", "open")
        assert made["author"] == home.identity().keys.id
        assert "Travel to the meeting" in screen_text(pilot)


async def test_deposit_with_a_bad_amount_shows_the_error_and_writes_nothing(
    simple_home: Fixture,
) -> None:
    home, info = simple_home
    before = log_bytes(home, info)
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("d", *"12,50", "enter", "enter")
        await settle(pilot)
        message = "amount must be a positive decimal number like 12.50, not '12,50'"
        assert message in await toasts(pilot)
        assert isinstance(app.screen, FormScreen)  # still open, to be corrected
        assert message in str(app.screen.query_one("#error", Static).render())
        assert log_bytes(home, info) == before
        # the cursor is back in the amount, its text selected: typing replaces it
        assert app.screen.focused is app.screen.query_one("#amount", Input)
        await pilot.press(*"12.505", "enter", "enter")
        await settle(pilot)
        assert "has 3 decimals; EUR has 2" in await toasts(pilot)
        assert log_bytes(home, info) == before
        # corrected: saved, and the balance moves
        await pilot.press(*"12.50", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
        assert fresh(home).ledger(info).view()["balance"] == 150_000 + 1250


async def test_escape_cancels_a_form(simple_home: Fixture) -> None:
    home, info = simple_home
    before = log_bytes(home, info)
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("d", *"50q")  # q is typed into the field, it does not quit
        assert app.is_running and app.screen.query_one("#amount", Input).value == "50q"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BudgetScreen)
    assert log_bytes(home, info) == before


async def test_c_closes_after_confirming_approved(collective_home: Fixture) -> None:
    home, info = collective_home
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await select(pilot, OpenProposals, "Sprint wages, week 1")
        before = log_bytes(home, info)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "2 of 3 members voted, quorum 2" in app.screen.question
        await pilot.press("n")  # changed their mind: nothing written
        await settle(pilot)
        assert log_bytes(home, info) == before
        await pilot.press("c", "y")
        await settle(pilot)
        # Ben yes, Chloé abstain: quorum 2 of 3 reached, yes 1 of yes+no 1
        assert proposal(fresh(home), info, "Sprint")["status"] == "approved"
        assert "Closed 'Sprint wages, week 1': approved." in await toasts(pilot)
        decided = app.screen.query_one(DecidedProposals).rows_by_key.values()
        assert "Sprint wages, week 1" in [p["title"] for p in decided]
        assert screen_text(pilot).count("Open proposals (1)") == 1


async def test_c_closes_without_quorum_rejected(collective_home: Fixture) -> None:
    home, info = collective_home
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await select(pilot, OpenProposals, "Travel to the meeting")
        await pilot.press("c", "y")
        await settle(pilot)
        assert proposal(fresh(home), info, "Travel")["status"] == "rejected"
        assert "Closed 'Travel to the meeting': rejected." in await toasts(pilot)


async def test_w_withdraws_only_your_own(collective_home: Fixture) -> None:
    home, info = collective_home
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await select(pilot, OpenProposals, "Sprint wages, week 1")  # Ben's
        before = log_bytes(home, info)
        await pilot.press("w")
        await settle(pilot)
        assert "Only the author of a proposal may withdraw it." in await toasts(pilot)
        assert log_bytes(home, info) == before
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("p")
        app.screen.query_one("#title", Input).value = "Laptop"
        app.screen.query_one("#amount", Input).value = "850"
        await pilot.click("#save")
        await settle(pilot)
        await select(pilot, OpenProposals, "Laptop")
        await pilot.press("w", "y")
        await settle(pilot)
        made = proposal(fresh(home), info, "Laptop")
        assert made["withdrawn"] and made["status"] == "rejected"
        row = next(line for line in screen_text(pilot).splitlines() if "Laptop" in line)
        assert "withdrawn" in row


async def test_s_spends_on_the_selected_approved_proposal(collective_home: Fixture) -> None:
    home, info = collective_home
    app = app_for(home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        before = log_bytes(home, info)
        await select(pilot, OpenProposals, "Travel to the meeting")
        await pilot.press("s")
        await settle(pilot)
        assert "is open, not approved" in await toasts(pilot)
        await select(pilot, DecidedProposals, "Server for a year")
        await pilot.press("s")
        assert isinstance(app.screen, FormScreen)
        assert "left 80.00 EUR" in screen_text(pilot)
        await pilot.press(*"90", "enter", "enter")  # more than is left
        await settle(pilot)
        assert "90.00 EUR is more than the 80.00 EUR left" in await toasts(pilot)
        assert log_bytes(home, info) == before
        app.screen.query_one("#amount", Input).value = "30"
        await pilot.press("enter", "enter")
        await settle(pilot)
        server = proposal(fresh(home), info, "Server")
        assert server["spent"] == 7000
        view = fresh(home).ledger(info).view()
        assert (view["balance"], view["committed"]) == (146_000 - 3000, 8000 - 3000)
        assert "spent 70.00 EUR" not in screen_text(pilot)  # figures are in columns
        assert "1430.00 EUR" in screen_text(pilot)
