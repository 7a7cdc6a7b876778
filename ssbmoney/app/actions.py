"""What a member can do in a group, with every check made before anything is written.

Shared by the command line and the TUI, so both refuse the same things with the same
words. Each action holds the store's lock from the check to the write, so what it
checked is still true when it writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core import content as msg
from ssbmoney.core import money
from ssbmoney.core.entry import Entry, entry_id, parse_entry_id, parse_feed_id
from ssbmoney.core.errors import BadInput
from ssbmoney.core.ledger import Ledger
from ssbmoney.store.group_store import Store


class Session:
    """One member acting in one group, on an open store."""

    def __init__(self, home: Home, info: GroupInfo, store: Store) -> None:
        self.home = home
        self.info = info
        self.store = store
        self.notes: list[str] = []  # things the member should know about what was done
        self._ledger: Ledger | None = None
        self._seen: dict[bytes, int] = {}

    @property
    def currency(self) -> str:
        return self.info.currency

    def ledger(self) -> Ledger:
        """The group's ledger, folded once and then brought up to date with what was
        appended since (by this session or any other process): each action checks
        against the latest entries without folding everything again."""
        if self._ledger is None:
            self._ledger = self.home.ledger(self.info, self.store)
            self._seen = {feed: state.seq for feed, state in self.store.heads().items()}
            return self._ledger
        for feed, state in self.store.heads().items():
            have = self._seen.get(feed, 0)
            if state.seq > have:
                self._ledger.add_all(self.store.feed_entries(feed, have + 1))
                self._seen[feed] = state.seq
        for proof in self.store.forks():
            self._ledger.add_fork(proof.author, proof.seq)
        return self._ledger

    def view(self) -> dict[str, Any]:
        return self.ledger().view()

    def amount(self, text: str) -> int:
        return money.parse_amount(text, self.info.currency)

    def _post(self, message: msg.Message) -> Entry:
        (made,) = self.home.post(self.info, [message], self.store)
        return made

    def _member(self, view: dict[str, Any]) -> None:
        """Anyone holding the invite may write, as the contract says, but what a
        non-member writes is flagged and not counted: say so, do not refuse."""
        if view["name"] and self.home.identity().keys.id not in view["members"]:
            self.notes.append(
                "you are not a member of this group: this entry is recorded, flagged "
                "non_member, and not counted"
            )

    # ---------------------------------------------------------------- actions

    def deposit(self, amount_text: str, note: str = "") -> Entry:
        amount = self.amount(amount_text)
        with self.store.locked():
            self._member(self.view())
            return self._post(msg.Deposit(amount, note))

    def propose(
        self,
        title: str,
        amount_text: str,
        payee: str = "",
        category: str = "",
        closes: str | None = None,
        add_member: str | None = None,
    ) -> Entry:
        amount = self.amount(amount_text)
        if not title.strip():
            raise BadInput("a proposal needs a title")
        add = parse_feed_id(add_member) if add_member else None
        proposal = msg.Proposal(title.strip(), amount, payee, category, closes_ms(closes), add)
        with self.store.locked():
            self._member(self.view())
            return self._post(proposal)

    def vote(
        self, proposal_id: str, choice: str, comment: str = ""
    ) -> tuple[Entry, dict[str, Any]]:
        choice = choice.strip().lower()
        if choice not in msg.CHOICES:
            raise BadInput(f"a vote is one of {', '.join(msg.CHOICES)}, not {choice!r}")
        with self.store.locked():
            view = self.view()
            proposal = find_proposal(view, proposal_id)
            if proposal["status"] != "open":
                raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}; "
                               "a vote on it would not count")
            self._member(view)
            made = self._post(msg.Vote(parse_entry_id(proposal["id"]), choice, comment))
        return made, proposal

    def close(self, proposal_id: str) -> tuple[Entry, dict[str, Any]]:
        """Close on the votes this home has seen; returns the proposal as decided."""
        with self.store.locked():
            view = self.view()
            proposal = find_proposal(view, proposal_id)
            if proposal["status"] != "open":
                raise BadInput(f"proposal {proposal['title']!r} is already {proposal['status']}")
            if view["name"] and self.home.identity().keys.id not in view["members"]:
                raise BadInput("you are not a member of this group: your close would not"
                               " decide anything")
            cut = tuple(sorted((feed, s.seq) for feed, s in self.store.heads().items()))
            made = self._post(msg.Close(parse_entry_id(proposal["id"]), cut))
            after = find_proposal(self.view(), proposal["id"])
        return made, after

    def spend(
        self, proposal_id: str, amount_text: str, payee: str = "", note: str = ""
    ) -> tuple[Entry, dict[str, Any]]:
        amount = self.amount(amount_text)
        with self.store.locked():
            view = self.view()
            proposal = find_proposal(view, proposal_id)
            if proposal["status"] != "approved":
                raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}, "
                               "not approved: nothing may be spent on it")
            left = proposal["amount"] - proposal["spent"]
            if amount > left:
                raise BadInput(
                    f"{money.format_amount(amount, self.currency)} is more than the "
                    f"{money.format_amount(max(left, 0), self.currency)} "
                    "left of what was approved"
                )
            self._member(view)
            spend = msg.Spend(parse_entry_id(proposal["id"]), amount,
                              payee or proposal["payee"], note)
            made = self._post(spend)
        return made, proposal

    def withdraw(self, proposal_id: str) -> tuple[Entry, dict[str, Any]]:
        with self.store.locked():
            proposal = find_proposal(self.view(), proposal_id)
            if proposal["status"] != "open":
                raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}, not open")
            if proposal["author"] != self.home.identity().keys.id:
                raise BadInput("only the author of a proposal may withdraw it")
            made = self._post(msg.Withdraw(parse_entry_id(proposal["id"])))
        return made, proposal

    def reverse(self, entry_prefix: str, note: str = "") -> tuple[Entry, bytes]:
        prefix = entry_prefix.strip()
        if not prefix:
            raise BadInput("an entry id must not be empty")
        prefix = prefix if prefix.startswith("%") else "%" + prefix
        me = self.home.feed_keys(self.info).public
        with self.store.locked():
            ledger = self.ledger()
            own = [
                eid for eid, message in ledger.messages_of(me)
                if isinstance(message, msg.Deposit | msg.Spend)
                and entry_id(eid).startswith(prefix)
            ]
            if len(own) != 1:
                what = "none" if not own else str(len(own))
                raise BadInput(
                    f"{what} of your deposits and spends has an id starting {entry_prefix!r}"
                )
            if ledger.is_reversed(me, own[0]):
                raise BadInput("that entry is already reversed")
            made = self._post(msg.Reverse(own[0], note))
        return made, own[0]


def find_proposal(view: dict[str, Any], text: str) -> dict[str, Any]:
    """The proposal whose id starts with ``text`` (with or without the ``%``)."""
    prefix = text.strip()
    if not prefix:
        raise BadInput("a proposal id must not be empty")
    if not prefix.startswith("%"):
        prefix = "%" + prefix
    matches = [p for p in view["proposals"] if p["id"].startswith(prefix)]
    if not matches:
        raise BadInput(f"no proposal with an id starting {text!r}")
    if len(matches) > 1:
        raise BadInput(f"{len(matches)} proposals have ids starting {text!r}; give more of it")
    found: dict[str, Any] = matches[0]
    return found


def closes_ms(text: str | None) -> int | None:
    """A closing time to show members (ISO 8601); it never decides anything."""
    if text is None or not text.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"a closing time must be an ISO 8601 date or time, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when.timestamp() < 0:
        raise BadInput(f"a closing time must be after 1970, not {text!r}")
    return int(when.timestamp()) * 1000
