"""What a member can do in a group, with every check made before anything is written.

Shared by the command line and the TUI, so both refuse the same things with the same
words. Each action holds the store's lock from the check to the write, so what it
checked is still true when it writes.
"""

from __future__ import annotations

from typing import Any

from ssbmoney.app.dates import closes_ms
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core import content as msg
from ssbmoney.core import money
from ssbmoney.core.entry import Entry, entry_id, parse_entry_id, parse_feed_id
from ssbmoney.core.errors import BadInput
from ssbmoney.core.ledger import MAX_JSON_INT, Ledger, honest_cut
from ssbmoney.store.group_store import Store


class Session:
    """One member acting in one group, on an open store."""

    def __init__(self, home: Home, info: GroupInfo, store: Store) -> None:
        self.home = home
        self.info = info
        self.store = store
        self.notes: list[str] = []  # things the member should know about what was done
        self._ledger: Ledger | None = None
        self._offset = 0

    @property
    def currency(self) -> str:
        return self.info.currency

    def ledger(self) -> Ledger:
        """The group's ledger, folded once and then brought up to date with what was
        appended since (by this session or any other process): each action checks
        against the latest entries without folding everything again."""
        if self._ledger is None:
            self._ledger = Ledger(self.info.keys, self.info.currency)
        entries, self._offset = self.store.read_from(self._offset)
        self._ledger.add_all(entries)
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

    def _not_forked(self, doing: str) -> None:
        """A member whose feed forked (their home was copied, or their key used on two
        machines) keeps their money records, but their votes and closes would be
        muted wherever the proof is seen: refuse rather than write what cannot count."""
        ledger = self.ledger()
        ledger.view()
        me = self.home.feed_keys(self.info).public
        identity = self.home.identity().keys.public
        if me in ledger.fork_at or len(ledger.feeds_of.get(identity, ())) > 1:
            raise BadInput(
                f"your feed in this group has forked (this home's history was also written"
                f" on another machine, e.g. a copied home): your deposits and spends still"
                f" count, but {doing} would not; recovery comes with device linking")

    def _within_bounds(self, figure: str, amount: int) -> None:
        """Refuse a write that would take a total past what every JSON reader reads
        exactly (2**53 - 1 minor units)."""
        ledger = self.ledger()
        ledger.view()
        totals = ledger.dep_total if figure == "deposited" else ledger.spend_total
        total = sum(totals.get(f, 0) for f in ledger.money_feeds) + amount
        if total > MAX_JSON_INT:
            raise BadInput(f"this would take the group's {figure} total past "
                           f"{money.format_amount(MAX_JSON_INT, self.currency)}"
                           f" {self.currency}, the most any figure can show exactly")

    # ---------------------------------------------------------------- actions

    def deposit(self, amount_text: str, note: str = "") -> Entry:
        amount = self.amount(amount_text)
        with self.store.locked():
            self._member(self.view())
            self._within_bounds("deposited", amount)
            return self._post(msg.Deposit(amount, note))

    def propose(
        self,
        title: str,
        amount_text: str | None,
        payee: str = "",
        category: str = "",
        closes: str | None = None,
        add_member: str | None = None,
    ) -> Entry:
        if not title.strip():
            raise BadInput("a proposal needs a title")
        add = parse_feed_id(add_member) if add_member else None
        if add is not None and amount_text not in (None, ""):
            raise BadInput("an admission (--add-member) carries no amount: leave out --amount")
        if add is None and amount_text in (None, ""):
            raise BadInput("a spending proposal needs --amount (only --add-member needs none)")
        amount = self.amount(amount_text) if add is None and amount_text else None
        proposal = msg.Proposal(title.strip(), amount, payee, category, closes_ms(closes), add)
        with self.store.locked():
            view = self.view()
            if add is not None and add_member in view["members"]:
                raise BadInput(f"{add_member} is already a member of this group")
            self._member(view)
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
            self._not_forked("your votes")
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
            self._not_forked("your closes")
            pid = parse_entry_id(proposal["id"])
            me = self.home.feed_keys(self.info).public
            made = self._post(msg.Close(pid, honest_cut(self.ledger(), pid, me)))
            after = find_proposal(self.view(), proposal["id"])
        return made, after

    def spend(
        self, proposal_id: str, amount_text: str, payee: str = "", note: str = ""
    ) -> tuple[Entry, dict[str, Any]]:
        amount = self.amount(amount_text)
        with self.store.locked():
            view = self.view()
            proposal = find_proposal(view, proposal_id)
            if proposal["amount"] is None:
                raise BadInput(f"proposal {proposal['title']!r} admits a member: nothing is"
                               " ever spent on an admission")
            if proposal["status"] != "approved":
                raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}, "
                               "not approved: nothing may be spent on it")
            left = proposal["amount"] - proposal["spent"]
            if amount > left:
                raise BadInput(
                    f"{money.format_amount(amount, self.currency)} {self.currency} is more"
                    f" than the {money.format_amount(max(left, 0), self.currency)}"
                    f" {self.currency} left of what was approved"
                )
            self._member(view)
            self._within_bounds("spent", amount)
            spend = msg.Spend(parse_entry_id(proposal["id"]), amount,
                              payee or proposal["payee"], note)
            made = self._post(spend)
        return made, proposal

    def withdraw(self, proposal_id: str) -> tuple[Entry, dict[str, Any]]:
        with self.store.locked():
            proposal = find_proposal(self.view(), proposal_id)
            if proposal["status"] != "open":
                state = "withdrawn" if proposal.get("withdrawn") else proposal["status"]
                raise BadInput(f"proposal {proposal['title']!r} is {state}, not open")
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


def admission_requests(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Invite holders asking to be admitted, as open proposals no member has voted on
    yet (the view lists them among its warnings until a member names them)."""
    return [
        {"id": w["entry"], "title": w.get("title", ""), "status": "open", "amount": None,
         "spent": 0, "author": w["member"], "add_member": w["member"], "payee": "",
         "category": "", "claimed_ms": None, "closes_ms": None, "withdrawn": False,
         "votes": {}, "yes": 0, "no": 0, "abstain": 0, "block": 0}
        for w in view.get("warnings", []) if w.get("kind") == "admission_request"
    ]


def find_proposal(view: dict[str, Any], text: str) -> dict[str, Any]:
    """The proposal whose id starts with ``text`` (with or without the ``%``)."""
    prefix = text.strip()
    if not prefix:
        raise BadInput("a proposal id must not be empty")
    if not prefix.startswith("%"):
        prefix = "%" + prefix
    matches = [p for p in view["proposals"] if p["id"].startswith(prefix)]
    if not matches:  # someone asking to be admitted: members may vote on it and close it
        matches = [p for p in admission_requests(view) if p["id"].startswith(prefix)]
    if not matches:
        raise BadInput(f"no proposal with an id starting {text!r}")
    if len(matches) > 1:
        raise BadInput(f"{len(matches)} proposals have ids starting {text!r}; give more of it")
    found: dict[str, Any] = matches[0]
    return found
