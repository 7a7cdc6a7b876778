"""What a group's entries say, indexed: the facts the fold works from.

``Facts.add_all`` opens each entry's sealed content, parses the message and files it
in O(1) under what it concerns (a proposal's votes, closes and spends; a feed's
deposits and reversals; joins and the founding), in any order and any number of
times. It also marks what changed (``_structure``, ``_dirty``), so that the fold in
``ssbmoney.ledger`` recomputes only that.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Self

from ssbmoney.core import content as msg
from ssbmoney.core import decide
from ssbmoney.core.entry import Entry, entry_id
from ssbmoney.core.group import GroupKeys, Opener


class Item(NamedTuple):
    id: bytes
    feed: bytes
    seq: int
    claimed_ms: int
    message: msg.Message | None
    problem: str


COUNTED = (msg.Deposit, msg.Proposal, msg.Vote, msg.Close, msg.Spend, msg.Withdraw,
            msg.Reverse)
"""What a member's feed says that counts; from anyone else it is flagged ``non_member``."""


_VOTE = msg.Vote
new_tuple = tuple.__new__
"""Builds a NamedTuple without its Python-level ``__new__``: this loop's records are
made 100,000 times a second, and that call costs as much as the rest of the record."""


class Facts:
    """The indexed entries of one group."""

    def __init__(self, keys: GroupKeys) -> None:
        self.keys = keys
        self._opener = Opener(keys.content_key)
        self._items: dict[bytes, dict[int, Item]] = {}
        self._forks: dict[bytes, int] = {}
        self._reset()

    def _reset(self) -> None:
        """Forget every index and build them again from the entries held (after a
        fork proof changes which entries count)."""
        self._joins: dict[bytes, tuple[bytes, str] | None] = {}
        self._founds: dict[int, tuple[bytes, msg.Found]] = {}
        self._proposals: dict[bytes, Item] = {}
        self._votes: dict[bytes, dict[bytes, list[tuple[int, bytes, str]]]] = {}
        self._closes: dict[bytes, list[decide.CloseRef]] = {}
        self._spends: dict[bytes, dict[bytes, tuple[bytes, int]]] = {}
        self._withdraws: dict[bytes, list[tuple[bytes, int]]] = {}
        self._deposits: dict[bytes, tuple[bytes, int]] = {}
        self._spend_of: dict[bytes, tuple[bytes, bytes, int]] = {}
        self._reversed: set[tuple[bytes, bytes]] = set()  # (feed, target) claims
        self._dep_total: dict[bytes, int] = {}
        self._spend_total: dict[bytes, int] = {}
        self._problems: set[tuple[str, str, str]] = set()
        # What changed since the last fold: who the members are may have (structure),
        # these proposals did (dirty), and any view made before is stale.
        self._structure = True
        self._dirty: set[bytes] = set()
        self._view: dict[str, Any] | None = None
        self._forget()
        self._count = 0  # entries that count: those of forked feeds from the fork on do not
        for feed_items in self._items.values():
            for item in feed_items.values():
                if item.seq < self._forks.get(item.feed, item.seq + 1):
                    self._index(item)
                    self._count += 1

    def _forget(self) -> None:
        """Drop whatever a subclass derived from the indexes (called by ``_reset``)."""

    # ---------------------------------------------------------------- collecting

    def add(self, entry: Entry) -> None:
        """Take one valid entry of this group. Idempotent, any order."""
        self.add_all((entry,))

    def add_all(self, entries: Iterable[Entry]) -> Self:
        """Take valid entries of this group. Idempotent, any order.

        The cyclic garbage collector is paused meanwhile (see ``_gc_paused``); names
        are bound locally because this loop runs 100,000 times a second."""
        items, forks, index = self._items, self._forks, self._index
        open_sealed, parse, bad_content = self._opener.open, msg.parse, msg.BadContent
        added = 0
        with gc_paused():
            for entry in entries:
                author, seq, content = entry.author, entry.seq, entry.content
                feed_items = items.get(author)
                if feed_items is None:
                    feed_items = items[author] = {}
                elif seq in feed_items:
                    continue
                message: msg.Message | None = None
                problem = ""
                if content is None:
                    problem = "pruned"
                else:
                    plain = open_sealed(content)
                    if plain is None:
                        problem = "unreadable"
                    else:
                        try:
                            message = parse(plain)
                        except bad_content:
                            problem = "malformed_content"
                item = new_tuple(Item, (entry.id, author, seq, entry.claimed_ms, message, problem))
                feed_items[seq] = item
                if not forks or seq < forks.get(author, seq + 1):
                    index(item)
                    added += 1
        if added:
            self._count += added
            self._view = None
        return self

    def add_fork(self, feed: bytes, seq: int) -> None:
        """A fork proof at ``seq``: the feed counts only up to ``seq - 1``."""
        old = self._forks.get(feed)
        if old is None or seq < old:
            self._forks[feed] = seq
            self._reset()

    def _index(self, item: Item) -> None:
        eid, feed, seq, _claimed, message, problem = item
        kind = type(message)
        if kind is _VOTE and seq > 1:  # the most common entry: its path comes first
            pid = message.proposal  # type: ignore[union-attr]
            by_feed = self._votes.get(pid)
            if by_feed is None:
                by_feed = self._votes[pid] = {}
            votes = by_feed.get(feed)
            if votes is None:
                by_feed[feed] = [(seq, eid, message.choice)]  # type: ignore[union-attr]
            else:
                bisect.insort(votes, (seq, eid, message.choice))  # type: ignore[union-attr]
            self._dirty.add(pid)
            proposal = self._proposals.get(pid)
            if proposal is None or proposal.message.add_member is not None:  # type: ignore[union-attr]
                self._structure = True
            return
        if message is None:
            if problem != "pruned":
                self._problems.add((problem, "entry", entry_id(eid)))
            return
        if item.seq == 1 or isinstance(message, msg.Join):
            if item.seq == 1 and isinstance(message, msg.Join) and msg.join_ok(
                message, self.keys.group_id, feed
            ):
                self._joins[feed] = (message.identity, message.name)
            elif item.seq == 1:
                self._joins[feed] = None
            else:
                self._problems.add(("misplaced_join", "entry", entry_id(eid)))
            self._structure = True
            return
        if kind is msg.Deposit:
            amount = message.amount  # type: ignore[union-attr]
            self._deposits[eid] = (feed, amount)
            if (feed, eid) not in self._reversed:
                self._dep_total[feed] = self._dep_total.get(feed, 0) + amount
        elif kind is msg.Proposal:
            self._proposals[eid] = item
            self._order_dirty = True
            self._dirty.add(eid)
            if message.add_member is not None:  # type: ignore[union-attr]
                self._structure = True
        elif kind is msg.Spend:
            pid, amount = message.proposal, message.amount  # type: ignore[union-attr]
            self._spend_of[eid] = (feed, pid, amount)
            if (feed, eid) not in self._reversed:
                self._spends.setdefault(pid, {})[eid] = (feed, amount)
                self._spend_total[feed] = self._spend_total.get(feed, 0) + amount
            self._dirty.add(pid)
        elif kind is msg.Close:
            close: msg.Close = message  # type: ignore[assignment]
            cut = dict(close.cut)
            if cut.get(feed, 0) >= item.seq:  # a close cannot have seen itself
                cut[feed] = item.seq - 1
            ref = decide.CloseRef(eid, feed, item.seq, cut)
            self._closes.setdefault(close.proposal, []).append(ref)
            self._touch(close.proposal)
        elif kind is msg.Withdraw:
            pid = message.proposal  # type: ignore[union-attr]
            self._withdraws.setdefault(pid, []).append((feed, item.seq))
            self._touch(pid)
        elif kind is msg.Reverse:
            self._reverse(feed, message.target)  # type: ignore[union-attr]
        elif kind is msg.Found:
            if feed == self.keys.founder:
                self._founds[item.seq] = (eid, message)  # type: ignore[assignment]
                self._structure = True
            else:
                self._problems.add(("misplaced_found", "entry", entry_id(eid)))
            return

    def _touch(self, pid: bytes) -> None:
        """Mark a proposal for recomputation; if it may admit a member (or is not
        known yet), who the members are may change too."""
        self._dirty.add(pid)
        proposal = self._proposals.get(pid)
        if proposal is None or proposal.message.add_member is not None:  # type: ignore[union-attr]
            self._structure = True

    def _reverse(self, feed: bytes, target: bytes) -> None:
        if (feed, target) in self._reversed:
            return
        self._reversed.add((feed, target))
        deposit = self._deposits.get(target)
        if deposit is not None and deposit[0] == feed:
            self._dep_total[feed] -= deposit[1]
        spend = self._spend_of.get(target)
        if spend is not None and spend[0] == feed:
            self._spends[spend[1]].pop(target, None)
            self._spend_total[feed] -= spend[2]
            self._dirty.add(spend[1])

    # ------------------------------------------------------------------ queries

    def messages_of(self, feed: bytes) -> list[tuple[bytes, msg.Message]]:
        """(entry id, message) of one feed's readable entries, in sequence order."""
        items = self._items.get(feed, {})
        return [(items[s].id, m) for s in sorted(items) if (m := items[s].message) is not None]

    def is_reversed(self, feed: bytes, target: bytes) -> bool:
        return (feed, target) in self._reversed


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. The fold makes many small acyclic records;
    with 100,000 entries held, each full collection walks them all, and collecting
    while they pile up costs as much as the fold itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
