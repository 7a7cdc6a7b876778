"""The group screen: balance, proposals, members, warnings; the keys that act on them.

Why it is shaped like this: the screen never touches the store on the UI thread.
Every refold and every action runs in a thread worker (a vote in a large group
refolds it, which can take a while), and results come back as worker events. The
poll tick only ``stat``s the logs (see :mod:`ssbmoney.tui.live`), so entries written
by a CLI command or a sync appear within one tick, without a key press, and an idle
TUI costs next to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from ssbmoney.app.actions import Session
from ssbmoney.app.dates import closes_ms
from ssbmoney.core import money
from ssbmoney.core.errors import SsbMoneyError
from ssbmoney.tui import words
from ssbmoney.tui.confirm import ConfirmScreen
from ssbmoney.tui.decided import DecidedProposals
from ssbmoney.tui.detail import ProposalDetail
from ssbmoney.tui.flags import WarningsList
from ssbmoney.tui.forms import DEPOSIT, PROPOSE, SPEND, FieldError, FormScreen, Values, field
from ssbmoney.tui.live import Live, Shown, Stopped
from ssbmoney.tui.members import MembersList
from ssbmoney.tui.proposals import OpenProposals
from ssbmoney.tui.statehash import StateLine
from ssbmoney.tui.summary import SummaryBar
from ssbmoney.tui.table import KeyedTable

REFRESH = "refresh"
ACTION = "action"


class BudgetScreen(Screen[None]):
    """One group, live."""

    DEFAULT_CSS = """
    BudgetScreen #body {
        height: 1fr;
    }
    BudgetScreen #side {
        height: auto;
    }
    """
    BINDINGS = [
        Binding("y", "vote('yes')", "Yes"),
        Binding("n", "vote('no')", "No"),
        Binding("a", "vote('abstain')", "Abstain"),
        Binding("b", "vote('block')", "Block"),
        Binding("c", "close", "Close"),
        Binding("p", "propose", "Propose"),
        Binding("d", "deposit", "Deposit"),
        Binding("s", "spend", "Spend"),
        Binding("w", "withdraw", "Withdraw"),
        Binding("r", "refresh", "Refresh"),
    ]

    class Updated(Message):
        """Posted (it bubbles to the app) each time a newer view is on screen."""

        def __init__(self, view: dict[str, Any]) -> None:
            super().__init__()
            self.view = view

    def __init__(self, live: Live, poll_seconds: float = 1.0) -> None:
        super().__init__()
        self.live = live
        self.poll_seconds = poll_seconds
        self.view: dict[str, Any] | None = None
        self.generation = 0
        self._refreshing = False
        self._again = False

    def compose(self) -> ComposeResult:
        yield SummaryBar("opening…")
        with VerticalScroll(id="body", can_focus=False):
            yield OpenProposals(id="open")
            yield DecidedProposals(id="decided")
            yield ProposalDetail()
            with Horizontal(id="side"):
                yield MembersList()
                yield WarningsList()
        yield StateLine("folding the ledger…")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.request_refresh()
        self.set_interval(self.poll_seconds, self.poll)

    def on_unmount(self) -> None:
        self.live.stop()

    # ------------------------------------------------------------ live updates

    def poll(self) -> None:
        """One stat per log; a refold only when something was written."""
        if not self._refreshing and self.live.changed():
            self.request_refresh()

    def request_refresh(self) -> None:
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        self.run_worker(self.live.refresh, name=REFRESH, group=REFRESH,
                        thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker: Worker[Any] = event.worker
        if event.state == WorkerState.SUCCESS:
            if worker.group == REFRESH:
                self._refresh_done()
                if isinstance(worker.result, Shown):
                    self.show(worker.result)
            else:
                self.notify(str(worker.result), title="Saved", markup=False)
                self.request_refresh()
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            if worker.group == REFRESH:
                self._refresh_done()
            if worker.error is not None and not isinstance(worker.error, Stopped):
                self.notify(_message(worker.error), title="Not done", severity="error",
                            timeout=8, markup=False)

    def _refresh_done(self) -> None:
        self._refreshing = False
        if self._again:
            self._again = False
            self.request_refresh()

    def show(self, shown: Shown) -> None:
        if shown.generation <= self.generation:
            return  # an older fold finished late
        self.generation, self.view = shown.generation, shown.view
        view, me = shown.view, self.live.me
        self.query_one(SummaryBar).show(view, self.live.info.name, me)
        self.query_one(OpenProposals).show(view, me)
        self.query_one(DecidedProposals).show(view, me)
        self.query_one(MembersList).show(view, me)
        self.query_one(WarningsList).show(view)
        self.query_one(StateLine).show(view)
        self._show_detail()
        self.post_message(self.Updated(view))

    def _show_detail(self) -> None:
        focused = self.focused
        table = focused if isinstance(focused, KeyedTable) else self.query_one(OpenProposals)
        self.query_one(ProposalDetail).show(self.view, table.selected, self.live.me)

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    def on_descendant_focus(self) -> None:
        self._show_detail()

    # ------------------------------------------------------------------ acting

    def act(self, do: Callable[[Session], str]) -> None:
        """Run an action in a thread, with the store open just for it."""
        self.run_worker(lambda: self.live.act(do), name=ACTION, group=ACTION,
                        thread=True, exit_on_error=False)

    def _selected(self, prefer: type[KeyedTable]) -> dict[str, Any] | None:
        """The highlighted proposal of the focused table, else of ``prefer``."""
        focused = self.focused
        table = focused if isinstance(focused, KeyedTable) else self.query_one(prefer)
        return table.selected

    def _open_selected(self) -> dict[str, Any] | None:
        proposal = self._selected(OpenProposals)
        if proposal is None:
            self.notify("No open proposal selected (p proposes one).", severity="warning",
                        markup=False)
        elif proposal["status"] != "open":
            self.notify(f"Proposal {proposal['title']!r} is {words.status(proposal)}; "
                        "only open proposals take votes.", severity="warning", markup=False)
            return None
        return proposal

    def action_refresh(self) -> None:
        self.request_refresh()

    def action_vote(self, choice: str) -> None:
        proposal = self._open_selected()
        if proposal is None:
            return
        pid, title = proposal["id"], proposal["title"]

        def do(s: Session) -> str:
            s.vote(pid, choice)
            return f"Voted {choice} on {title!r}."

        self.act(do)

    def action_close(self) -> None:
        proposal = self._open_selected()
        if proposal is None:
            return
        pid, title = proposal["id"], proposal["title"]

        def do(s: Session) -> str:
            _made, after = s.close(pid)
            return f"Closed {title!r}: {after['status']}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(do)

        self.app.push_screen(ConfirmScreen(
            f"Close voting on {title!r} now?\n\nIt is decided on the votes this home has seen "
            f"(yes/no/abstain/block {words.tally(proposal)}; {words.turnout(self.view, proposal)}"
            "), for everyone, once it syncs.",
            "Close",
        ), answered)

    def action_withdraw(self) -> None:
        proposal = self._open_selected()
        if proposal is None:
            return
        if proposal["author"] != self.live.me:
            self.notify("Only the author of a proposal may withdraw it.", severity="warning",
                        markup=False)
            return
        pid, title = proposal["id"], proposal["title"]

        def do(s: Session) -> str:
            s.withdraw(pid)
            return f"Withdrew {title!r}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(do)

        self.app.push_screen(ConfirmScreen(f"Withdraw your proposal {title!r}?", "Withdraw"),
                             answered)

    def action_propose(self) -> None:
        currency = self.live.info.currency

        def check(v: Values) -> None:
            if not v["title"].strip():
                raise FieldError("title", "a proposal needs a title")
            with field("amount"):
                money.parse_amount(v["amount"], currency)
            with field("closes"):
                closes_ms(v["closes"])

        def done(v: Values | None) -> None:
            if v is None:
                return

            def do(s: Session) -> str:
                s.propose(v["title"], v["amount"], v["payee"], v["category"],
                          v["closes"] or None)
                amount = words.money(s.amount(v["amount"]), currency)
                return f"Proposed {v['title'].strip()!r} ({amount})."

            self.act(do)

        self.app.push_screen(FormScreen(f"Propose spending ({currency})", PROPOSE, check), done)

    def action_deposit(self) -> None:
        currency = self.live.info.currency

        def check(v: Values) -> None:
            with field("amount"):
                money.parse_amount(v["amount"], currency)

        def done(v: Values | None) -> None:
            if v is None:
                return

            def do(s: Session) -> str:
                s.deposit(v["amount"], v["note"])
                return f"Deposited {words.money(s.amount(v['amount']), currency)}."

            self.act(do)

        self.app.push_screen(FormScreen(f"Deposit ({currency})", DEPOSIT, check), done)

    def action_spend(self) -> None:
        proposal = self._selected(DecidedProposals)
        if proposal is None or proposal["status"] != "approved":
            self.notify(
                "No proposal selected." if proposal is None else
                f"Proposal {proposal['title']!r} is {words.status(proposal)}, not approved: "
                "nothing may be spent on it (Tab to the Decided table).",
                severity="warning",
                markup=False,
            )
            return
        currency = self.live.info.currency
        pid, title = proposal["id"], proposal["title"]
        left = words.left(proposal)

        def check(v: Values) -> None:
            with field("amount"):
                amount = money.parse_amount(v["amount"], currency)
            if amount > left:
                raise FieldError("amount", f"{words.money(amount, currency)} is more than the "
                                 f"{words.money(max(left, 0), currency)} left of what was "
                                 "approved")

        def done(v: Values | None) -> None:
            if v is None:
                return

            def do(s: Session) -> str:
                s.spend(pid, v["amount"], note=v["note"])
                return f"Spent {words.money(s.amount(v['amount']), currency)} on {title!r}."

            self.act(do)

        intro = (f"On {title!r}: approved {words.money(proposal['amount'], currency)}, "
                 f"spent {words.money(proposal['spent'], currency)}, "
                 f"left {words.money(left, currency)}"
                 + (f"; payee {proposal['payee']}" if proposal["payee"] else "") + ".")
        self.app.push_screen(FormScreen(f"Record a spend ({currency})", SPEND, check, intro),
                             done)


def _message(error: BaseException) -> str:
    if isinstance(error, SsbMoneyError):
        return error.message
    if isinstance(error, OSError):
        return f"{error.strerror or error}: {error.filename or ''}".strip(": ")
    return f"unexpected {type(error).__name__}: {error}"
