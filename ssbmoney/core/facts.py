"""What a group's entries say, indexed: the facts the fold works from.

``Facts.add_all`` opens each entry's sealed content, parses the message and files it
in O(1) under what it concerns (a proposal's votes, closes, withdrawals and spends; a
feed's deposits and reversals; joins and the founding), in any order and any number
of times. Every branch of a forked feed is kept: entries are filed by id, and a
second entry at a held (feed, sequence) marks the feed forked from there.

Anything signed is taken in: content that does not open or parse is kept as an item
with a ``problem`` and flagged ``bad_content``; nothing here raises on content.
Adding also marks what changed, so that ``ssbmoney.core.ledger`` recomputes only
that: ``_causal`` when an entry may change a decision or who counts, ``_dirty`` for
the proposals whose rows changed.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, Self

from ssbmoney.core import content as msg
from ssbmoney.core.entry import Entry
from ssbmoney.core.group import GroupKeys, Opener


class Item(NamedTuple):
    id: bytes
    feed: bytes
    seq: int
    previous: bytes | None
    claimed_ms: int
    message: msg.Message | None
    problem: str


COUNTED = (msg.Deposit, msg.Proposal, msg.Vote, msg.Close, msg.Spend, msg.Withdraw,
           msg.Reverse)
"""What a member's feed says that counts; from anyone else it is flagged ``non_member``."""

_VOTE = msg.Vote


def _vote_order(item: Item) -> tuple[int, bytes]:
    return item[2], item[0]

new_tuple = tuple.__new__
"""Builds a NamedTuple without its Python-level ``__new__``: this loop's records are
made 100,000 times a second, and that call costs as much as the rest of the record."""


class Facts:
    """The indexed entries of one group."""

    def __init__(self, keys: GroupKeys) -> None:
        self.keys = keys
        self._opener = Opener(keys.content_key)
        self.items: dict[bytes, Item] = {}
        self.at: dict[bytes, dict[int, Item]] = {}  # feed -> seq -> the first item held
        self.extra: dict[tuple[bytes, int], list[Item]] = {}  # other branches' items
        self.fork_at: dict[bytes, int] = {}  # feed -> lowest sequence holding two items
        self.joins: dict[bytes, list[tuple[bytes, str] | None]] = {}
        self.founds: list[tuple[int, bytes, msg.Found]] = []
        self.proposals: dict[bytes, Item] = {}
        self.feed_proposals: dict[bytes, list[bytes]] = {}  # feed -> its proposals' ids
        self.feed_withdraws: dict[bytes, list[bytes]] = {}  # feed -> what it withdrew
        self.join_items: dict[bytes, list[tuple[bytes, Item]]] = {}  # feed -> valid joins
        self.votes: dict[bytes, dict[bytes, list[Item]]] = {}  # by (seq, id)
        self.closes: dict[bytes, list[Item]] = {}
        self.close_items: dict[bytes, list[Item]] = {}  # feed -> its closes
        self.withdraws: dict[bytes, list[Item]] = {}
        self.deposits: dict[bytes, tuple[bytes, int]] = {}
        self.spends: dict[bytes, dict[bytes, tuple[bytes, int]]] = {}
        self.spend_of: dict[bytes, tuple[bytes, bytes, int]] = {}
        self.reversed: set[tuple[bytes, bytes]] = set()  # (feed, target) claims
        self.dep_total: dict[bytes, int] = {}
        self.spend_total: dict[bytes, int] = {}
        self.problems: set[tuple[str, bytes]] = set()  # (kind, entry id)
        # What changed since the last fold.
        self._causal = True
        self._dirty: set[bytes] = set()
        self._watch_ids: set[bytes] = set()  # ids a pending close waits for
        self._watch_feeds: set[bytes] = set()  # feeds whose gaps a pending close waits on
        self._tracked: set[bytes] = set()  # feeds whose entries may change a decision
        self._candidates: set[bytes] = set()  # identities that are or may become members

    # ---------------------------------------------------------------- collecting

    def add(self, entry: Entry) -> None:
        """Take one valid entry of this group. Idempotent, any order."""
        self.add_all((entry,))

    def add_all(self, entries: Iterable[Entry]) -> Self:
        """Take valid entries of this group. Idempotent, any order.

        The cyclic garbage collector is paused meanwhile (see ``gc_paused``); names
        are bound locally because this loop runs 100,000 times a second."""
        items, at, index = self.items, self.at, self._index
        watch_ids, watch_feeds = self._watch_ids, self._watch_feeds
        open_sealed, parse, bad_content = self._opener.open, msg.parse, msg.BadContent
        if not isinstance(entries, list | tuple):
            entries = list(entries)
        with gc_paused(bulk=len(entries) >= BULK):
            for entry in entries:
                eid = entry.id
                if eid in items:
                    continue
                author, seq, content = entry.author, entry.seq, entry.content
                message: msg.Message | None = None
                problem = ""
                if content is None:
                    problem = "bad_content"
                else:
                    plain = open_sealed(content)
                    if plain is None:
                        problem = "bad_content"
                    else:
                        try:
                            message = parse(plain)
                        except bad_content:
                            problem = "bad_content"
                        except Exception:  # parse promises BadContent; never trust it
                            problem = "bad_content"
                item = new_tuple(Item, (eid, author, seq, entry.previous, entry.claimed_ms,
                                        message, problem))
                items[eid] = item
                feed_items = at.get(author)
                if feed_items is None:
                    feed_items = at[author] = {}
                held = feed_items.get(seq)
                if held is None:
                    feed_items[seq] = item
                else:
                    self.extra.setdefault((author, seq), []).append(item)
                    if seq < self.fork_at.get(author, seq + 1):
                        self.fork_at[author] = seq
                        if author in self._tracked:
                            self._causal = True
                if eid in watch_ids or author in watch_feeds:
                    self._causal = True
                index(item)
        return self

    def _index(self, item: Item) -> None:
        eid, feed, seq, _prev, _claimed, message, problem = item
        kind = type(message)
        if kind is _VOTE and seq > 1:  # the most common entry: its path comes first
            pid = message.proposal  # type: ignore[union-attr]
            by_feed = self.votes.get(pid)
            if by_feed is None:
                by_feed = self.votes[pid] = {}
            votes = by_feed.get(feed)
            if votes is None:
                by_feed[feed] = [item]
            elif seq > votes[-1][2]:
                votes.append(item)
            else:
                bisect.insort(votes, item, key=_vote_order)
            self._dirty.add(pid)
            return
        if message is None:
            self.problems.add((problem or "bad_content", eid))
            return
        tracked = feed in self._tracked
        if seq == 1 or kind is msg.Join:
            if seq == 1:  # who wrote this feed's proposals: their rows name the author
                self._dirty.update(self.feed_proposals.get(feed, ()))
                self._dirty.update(self.feed_withdraws.get(feed, ()))
            if seq == 1 and kind is msg.Join and msg.join_ok(
                message, self.keys.group_id, feed  # type: ignore[arg-type]
            ):
                identity = message.identity  # type: ignore[union-attr]
                self.joins.setdefault(feed, []).append(
                    (identity, message.name))  # type: ignore[union-attr]
                self.join_items.setdefault(feed, []).append((identity, item))
                if len(self.join_items[feed]) > 1:
                    self._causal = True  # a second first join: whose feed it is, per past
                if identity in self._candidates or tracked or feed == self.keys.founder:
                    self._causal = True  # a member's feed (or a second one): who counts
                elif any(self.proposals[pid].message.add_member is not None  # type: ignore[union-attr]
                         and any(c.feed in self._tracked for c in self.closes.get(pid, ()))
                         for pid in self.feed_proposals.get(feed, ())):
                    self._causal = True  # the author of an admission a member closed
                return
            if seq != 1:
                self.problems.add(("misplaced_join", eid))
                return
            # A first entry that is not a valid join ties the feed to nobody; on a fork
            # at sequence 1 it is one more branch, and what it says counts as any entry.
            self.joins.setdefault(feed, []).append(None)
            if tracked:
                self._causal = True
            if kind is msg.Join:
                return
        if kind is msg.Deposit:
            amount: int = message.amount  # type: ignore[union-attr,assignment]
            self.deposits[eid] = (feed, amount)
            if (feed, eid) not in self.reversed:
                self.dep_total[feed] = self.dep_total.get(feed, 0) + amount
        elif kind is msg.Proposal:
            self.proposals[eid] = item
            self.feed_proposals.setdefault(feed, []).append(eid)
            self._dirty.add(eid)
            if message.add_member is not None and (  # type: ignore[union-attr]
                    tracked or any(c.feed in self._tracked for c in self.closes.get(eid, ()))):
                self._causal = True  # an admission a member closed: who may be a member
            elif any(w.feed in self._tracked for w in self.withdraws.get(eid, ())):
                self._causal = True  # a member's withdrawal that came first now counts
        elif kind is msg.Spend:
            pid = message.proposal  # type: ignore[union-attr]
            amount = message.amount  # type: ignore[union-attr,assignment]
            self.spend_of[eid] = (feed, pid, amount)
            if (feed, eid) not in self.reversed:
                self.spends.setdefault(pid, {})[eid] = (feed, amount)
                self.spend_total[feed] = self.spend_total.get(feed, 0) + amount
            self._dirty.add(pid)
        elif kind is msg.Close:
            pid = message.proposal  # type: ignore[union-attr]
            self.closes.setdefault(pid, []).append(item)
            self.close_items.setdefault(feed, []).append(item)
            self._dirty.add(pid)
            if tracked:
                self._causal = True
        elif kind is msg.Withdraw:
            pid = message.proposal  # type: ignore[union-attr]
            self.withdraws.setdefault(pid, []).append(item)
            self.feed_withdraws.setdefault(feed, []).append(pid)
            self._dirty.add(pid)
            proposal = self.proposals.get(pid)
            if tracked or (proposal is not None and proposal.feed == feed
                           and pid in self.closes):
                self._causal = True  # its author's withdrawal of a closed proposal
        elif kind is msg.Reverse:
            self._reverse(feed, message.target)  # type: ignore[union-attr]
        elif kind is msg.Found:
            if feed == self.keys.founder:
                self.founds.append((seq, eid, message))  # type: ignore[arg-type]
                self._causal = True
            else:
                self.problems.add(("misplaced_found", eid))

    def _reverse(self, feed: bytes, target: bytes) -> None:
        if (feed, target) in self.reversed:
            return
        self.reversed.add((feed, target))
        deposit = self.deposits.get(target)
        if deposit is not None and deposit[0] == feed:
            self.dep_total[feed] -= deposit[1]
        spend = self.spend_of.get(target)
        if spend is not None and spend[0] == feed:
            self.spends[spend[1]].pop(target, None)
            self.spend_total[feed] -= spend[2]
            self._dirty.add(spend[1])

    # ------------------------------------------------------------------ queries

    def count_of(self, feed: bytes) -> int:
        """Entries held of one feed, every branch."""
        extra = sum(len(more) for (f, _s), more in self.extra.items() if f == feed) \
            if self.extra else 0
        return len(self.at.get(feed, ())) + extra

    def messages_of(self, feed: bytes) -> list[tuple[bytes, msg.Message]]:
        """(entry id, message) of one feed's readable entries, every branch, by sequence."""
        found = [item for item in self.items.values() if item.feed == feed]
        found.sort(key=lambda item: (item.seq, item.id))
        return [(item.id, item.message) for item in found if item.message is not None]

    def is_reversed(self, feed: bytes, target: bytes) -> bool:
        return (feed, target) in self.reversed

    def at_seq(self, feed: bytes, seq: int) -> list[Item]:
        """Every item held at one place of a feed (more than one where it forked)."""
        first = self.at.get(feed, {}).get(seq)
        if first is None:
            return []
        return [first, *self.extra.get((feed, seq), ())]

    def identity_of(self, feed: bytes) -> bytes | None:
        """Whose feed this is: the identity a valid join as its first entry names.

        A fork at sequence 1 (another entry there, or a valid join for another
        identity) never takes a feed from its member: other entries are ignored, and
        of several valid joins a founder's wins, then the lowest key — nothing a
        non-member writes can change which. Money counts for every identity a valid
        join names (``identities_of``), and inside a past only the join that past
        holds names the author (``ssbmoney.core.decide``)."""
        joined = self.joins.get(feed)
        if not joined:
            return None
        if len(joined) == 1:  # the common case: one first entry
            return joined[0][0] if joined[0] is not None else None
        identities = self.identities_of(feed)
        if len(identities) <= 1:
            return identities[0] if identities else None
        founders = {m for _s, _e, found in self.founds for m in found.members}
        founder_joins = self.joins.get(self.keys.founder) or []
        founders.update(j[0] for j in founder_joins[:1] if j is not None)
        preferred = [i for i in identities if i in founders]
        return (preferred or identities)[0]

    def identities_of(self, feed: bytes) -> list[bytes]:
        """Every identity a valid first join of this feed names (more than one only
        where the feed forked at sequence 1)."""
        return sorted({j[0] for j in self.joins.get(feed, ()) if j is not None})


BULK = 10_000
"""Entries taken in at once above which what the fold made is frozen out of the cyclic
collector's sight (see ``gc_paused``)."""


@contextmanager
def gc_paused(bulk: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector. The fold makes many small acyclic records;
    with 100,000 entries held, each full collection walks them all, and collecting
    while they pile up costs as much as the fold itself. After a ``bulk`` fold the
    records are frozen (``gc.freeze``) rather than walked once more when collection
    resumes: they hold no cycles, so reference counting alone frees them when the
    ledger goes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if bulk and was_enabled:
            gc.freeze()
        if was_enabled:
            gc.enable()
