"""Causal pasts: what the author of an entry had provably seen when signing it.

An entry's *past* is the entry itself, everything before it on its own branch of its
feed (``previous`` links), and, for a close, every head its cut names together with
that head's own past: an author's knowledge only grows, since each entry's past holds
its predecessor's. Only the entries themselves prove this order; claimed times never
enter it.

A past is kept as a ``Knowledge``: per feed the highest sequence seen and, for a feed
this home holds forked, the branch tips seen (so that which branch was seen is
exact). Only *tracked* feeds are kept — those of identities that are or may become
members — so a cut naming thousands of strangers' feeds costs nothing and changes
nothing.

A close is *pending* while its past is not all held here (a cut names an id this home
lacks, or a gap before a named head), *invalid* when a named head is held somewhere
else than the cut says. The walk is iterative: a chain of 100,000 closes each naming
the last cannot exhaust the stack, and a cycle (impossible with honest hashes) is
cut, never followed forever.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable
from typing import NamedTuple, cast

from ssbmoney.core import content as msg
from ssbmoney.core.facts import Facts, Item

OK, PENDING, INVALID = "ok", "pending", "invalid"


def _claimed_then_id(item: Item) -> tuple[int, int, bytes]:
    return item.claimed_ms, item.seq, item.id


def _no_decider(close: Item, know: Knowledge) -> tuple[str, str]:
    raise RuntimeError("these pasts are decided already")


class Knowledge:
    """One past, as per-feed sequences (and branch tips of forked feeds)."""

    __slots__ = ("seqs", "tips")

    def __init__(self, seqs: dict[bytes, int] | None = None,
                 tips: dict[bytes, frozenset[bytes]] | None = None) -> None:
        self.seqs: dict[bytes, int] = seqs if seqs is not None else {}
        self.tips: dict[bytes, frozenset[bytes]] = tips if tips is not None else {}

    def copy(self) -> Knowledge:
        return Knowledge(dict(self.seqs), dict(self.tips) if self.tips else None)


class _Prep(NamedTuple):
    status: str
    reason: str
    heads: tuple[tuple[Item, Item | None], ...]  # each head, and the close at or before it
    deps: tuple[Item, ...]
    own: Item | None  # the close before this one on its own branch


class Pasts:
    """The pasts of every close of the tracked feeds, computed once per causal change.

    ``decide(close, knowledge)`` is called for each close whose past is complete, in
    an order where every close in its past came first; it returns ``(status,
    reason)`` — ``ok``, or ``invalid`` with why (not a member in its own past, ...).
    """

    def __init__(self, facts: Facts, tracked: set[bytes],
                 decide: Callable[[Item, Knowledge], tuple[str, str]]) -> None:
        self.facts = (facts if isinstance(facts, weakref.ProxyType)  # no cycle with the
                      else cast(Facts, weakref.proxy(facts)))  # ledger that holds these
        facts = self.facts
        self.tracked = tracked
        self._decide = decide
        self.state: dict[bytes, str] = {}
        self.reason: dict[bytes, str] = {}
        self.know: dict[bytes, Knowledge] = {}
        self.watch_ids: set[bytes] = set()
        self.watch_feeds: set[bytes] = set()
        self._pending = False  # any close pending yet? (if not, no dependency can be)
        self._upto: dict[bytes, int] = {}
        self._branch: dict[bytes, dict[int, bytes]] = {}
        self._fork_cache: dict[tuple[bytes, frozenset[bytes]], int | None] = {}
        self._closes_by_feed: dict[bytes, tuple[list[int], list[Item]]] = {}
        for feed, closes in facts.close_items.items():
            ordered = sorted(closes, key=lambda c: (c.seq, c.id))
            self._closes_by_feed[feed] = ([c.seq for c in ordered], ordered)

    def release(self) -> None:
        """Drop the decider once every close is decided (it holds these pasts)."""
        self._decide = _no_decider

    # ------------------------------------------------------------------ feeds

    def upto(self, feed: bytes) -> int:
        """The longest prefix 1..n of a feed held without a gap."""
        found = self._upto.get(feed)
        if found is None:
            seqs = self.facts.at.get(feed, {})
            found = 0
            while found + 1 in seqs:
                found += 1
            self._upto[feed] = found
        return found

    def branch(self, tip: Item) -> dict[int, bytes]:
        """Sequence -> id along a forked feed's branch ending at ``tip``, from the fork
        point up (empty when the chain is broken before it)."""
        found = self._branch.get(tip.id)
        if found is not None:
            return found
        fork = self.facts.fork_at.get(tip.feed, tip.seq + 1)
        chain: dict[int, bytes] = {}
        cur: Item | None = tip
        items = self.facts.items
        while cur is not None and cur.seq >= fork:
            chain[cur.seq] = cur.id
            if cur.seq == fork:
                break  # down to the fork point: what is before it is shared
            prev = items.get(cur.previous) if cur.previous is not None else None
            if prev is None or prev.feed != cur.feed or prev.seq != cur.seq - 1:
                cur = None
                chain = {}
                break
            cur = prev
        self._branch[tip.id] = chain
        return chain

    def held_chain(self, item: Item) -> bool:
        """Is everything before ``item`` on its branch held here?"""
        fork = self.facts.fork_at.get(item.feed)
        if fork is None or item.seq < fork:
            upto = self._upto.get(item.feed)
            return (upto if upto is not None else self.upto(item.feed)) >= item.seq - 1
        return bool(self.branch(item)) and self.upto(item.feed) >= fork - 1

    def last_close(self, item: Item, strictly_before: bool = False) -> Item | None:
        """The latest close at or before ``item`` on its branch of its feed."""
        found = self._closes_by_feed.get(item.feed)
        if found is None:
            return None
        seqs, closes = found
        fork = self.facts.fork_at.get(item.feed)
        limit = item.seq - 1 if strictly_before else item.seq
        if fork is None:
            index = bisect.bisect_right(seqs, limit) - 1
            return closes[index] if index >= 0 else None
        if limit >= fork:
            chain = self.branch(item)
            for close in reversed(closes):
                if close.seq <= limit and close.seq >= fork and chain.get(close.seq) == close.id:
                    return close
            limit = fork - 1
        index = bisect.bisect_right(seqs, limit) - 1
        while index >= 0:
            close = closes[index]
            if fork is None or close.seq < fork:
                return close
            index -= 1
        return None

    # -------------------------------------------------------------- knowledge

    def contains(self, know: Knowledge, item: Item) -> bool:
        feed = item.feed
        if item.seq > know.seqs.get(feed, 0):
            return False
        fork = self.facts.fork_at.get(feed)
        if fork is None or item.seq < fork:
            return True
        return any(self.branch(self.facts.items[t]).get(item.seq) == item.id
                   for t in know.tips.get(feed, ()))

    def place(self, know: Knowledge, item: Item) -> None:
        """Add ``item`` (and so everything before it on its branch) to a past."""
        feed = item.feed
        if item.seq > know.seqs.get(feed, 0):
            know.seqs[feed] = item.seq
        fork = self.facts.fork_at.get(feed)
        if fork is not None and item.seq >= fork:
            know.tips[feed] = self._tips(know.tips.get(feed, frozenset()) | {item.id})

    def merge(self, know: Knowledge, other: Knowledge) -> None:
        for feed, seq in other.seqs.items():
            if seq > know.seqs.get(feed, 0):
                know.seqs[feed] = seq
        for feed, tips in other.tips.items():
            know.tips[feed] = self._tips(know.tips.get(feed, frozenset()) | tips)

    def _tips(self, tips: frozenset[bytes]) -> frozenset[bytes]:
        """Drop the tips that another tip's branch already holds."""
        if len(tips) < 2:
            return tips
        items = self.facts.items
        kept = set(tips)
        for tip in tips:
            item = items[tip]
            if any(other != tip and self.branch(items[other]).get(item.seq) == tip
                   for other in tips):
                kept.discard(tip)
        return frozenset(kept)

    def fork_seen(self, know: Knowledge, feed: bytes) -> int | None:
        """The lowest sequence at which a past holds two entries of ``feed`` (the fork
        proof is in that past), or None."""
        tips = know.tips.get(feed)
        if not tips or len(tips) < 2:
            return None
        key = (feed, tips)
        if key not in self._fork_cache:
            chains = [self.branch(self.facts.items[t]) for t in tips]
            low = min(min(c) for c in chains if c) if any(chains) else 0
            high = max(max(c) for c in chains if c) if any(chains) else -1
            found = None
            for seq in range(low, high + 1):
                if len({c[seq] for c in chains if seq in c}) > 1:
                    found = seq
                    break
            self._fork_cache[key] = found
        return self._fork_cache[key]

    def of_item(self, item: Item) -> Knowledge | None:
        """The past of any entry (None while it is not all held)."""
        before = self.last_close(item)
        if before is not None and before.id != item.id:
            base = self.know.get(before.id)
            if base is None:
                return None
            know = base.copy()
        elif before is not None:
            return self.know.get(item.id)
        else:
            know = Knowledge()
        self.place(know, item)
        return know

    # ------------------------------------------------------------------ closes

    def _prep(self, close: Item) -> _Prep:
        facts = self.facts
        message = close.message
        assert isinstance(message, msg.Close)
        own = self.last_close(close, strictly_before=True)
        heads: list[tuple[Item, Item | None]] = []
        status, reason = OK, ""
        held = self._upto.get(close.feed)
        if ((held is None or held < close.seq - 1 or close.feed in facts.fork_at)
                and not self.held_chain(close)):
            status, reason = PENDING, "entries before it in its own feed"
            self.watch_feeds.add(close.feed)
        items, tracked, forks = facts.items, self.tracked, facts.fork_at
        upto, by_feed, bisect_right = self._upto, self._closes_by_feed, bisect.bisect_right
        for feed, seq, eid in message.cut:
            if feed not in tracked:
                continue
            head = items.get(eid)
            if head is None:
                if status == OK:
                    status, reason = PENDING, "an entry its cut names"
                self.watch_ids.add(eid)
                continue
            if head.feed != feed or head.seq != seq:
                return _Prep(INVALID, "its cut names an entry where it is not", (),
                             (own,) if own is not None else (), own)
            if feed not in forks:  # the common case, written out: no branch to follow
                held = upto.get(feed)
                if (held if held is not None else self.upto(feed)) < seq - 1:
                    if status == OK:
                        status, reason = PENDING, "entries before a head its cut names"
                    self.watch_feeds.add(feed)
                    continue
                found = by_feed.get(feed)
                before = None
                if found is not None:
                    index = bisect_right(found[0], seq) - 1
                    if index >= 0:
                        before = found[1][index]
                heads.append((head, before))
                continue
            if not self.held_chain(head):
                if status == OK:
                    status, reason = PENDING, "entries before a head its cut names"
                self.watch_feeds.add(feed)
                continue
            heads.append((head, self.last_close(head)))
        if message.proposal not in facts.proposals and status == OK:
            status, reason = PENDING, "the proposal it closes"
            self.watch_ids.add(message.proposal)
        deps = [before for _h, before in heads if before is not None]
        if own is not None:
            deps.append(own)
        return _Prep(status, reason, tuple(heads), tuple(deps), own)

    def run(self) -> None:
        """Find the past of every tracked close, and have each decided in order.

        Closes are taken in the order their authors claim to have written them: only
        a guess at a causal order, to spare the walk most detours. The result does not
        depend on it: each close waits for every close in its past."""
        closes = [c for feed in self.tracked
                  for c in self._closes_by_feed.get(feed, ((), []))[1]]
        closes.sort(key=_claimed_then_id)
        state = self.state
        for close in closes:
            if close.id in state:
                continue
            prep = self._prep(close)
            if all(d.id in state for d in prep.deps):  # the common case: no detour
                self._finish(close, prep)
            else:
                self._walk(close, prep)

    def _walk(self, start: Item, first: _Prep) -> None:
        preps: dict[bytes, _Prep] = {start.id: first}
        stack: list[tuple[Item, bool]] = [(start, False)]
        path: set[bytes] = set()  # closes whose past is being found (grey)
        while stack:
            top, expanded = stack.pop()
            if top.id in self.state:
                continue
            prep = preps.get(top.id)
            if prep is None:
                prep = preps[top.id] = self._prep(top)
            if expanded:
                path.discard(top.id)
                self._finish(top, prep)
                continue
            waiting = [d for d in prep.deps if d.id not in self.state]
            if any(d.id in path for d in waiting):  # impossible with honest hashes
                know = Knowledge()
                self.place(know, top)
                self.know[top.id] = know
                self.state[top.id], self.reason[top.id] = INVALID, "its past is circular"
                continue
            path.add(top.id)
            stack.append((top, True))
            stack.extend((dep, False) for dep in waiting)

    def _finish(self, close: Item, prep: _Prep) -> None:
        state = self.state
        own = prep.own
        if prep.status == PENDING or (self._pending and any(
                state.get(d.id) == PENDING for d in prep.deps)):
            state[close.id] = PENDING
            self._pending = True
            self.reason[close.id] = prep.reason or "a close in its past is pending"
            return
        base = self.know.get(own.id) if own is not None else None
        know = base.copy() if base is not None else Knowledge()
        if close.feed in self.facts.fork_at:
            self.place(know, close)
        elif close.seq > know.seqs.get(close.feed, 0):  # place(), written out
            know.seqs[close.feed] = close.seq
        if prep.status == INVALID:
            self.know[close.id] = know  # its cut says nothing: only its own feed counts
            state[close.id], self.reason[close.id] = INVALID, prep.reason
            return
        seqs, forks = know.seqs, self.facts.fork_at
        for head, before in prep.heads:
            if head.feed not in forks:  # the common case, written out
                if head.seq <= seqs.get(head.feed, 0):
                    continue
            elif self.contains(know, head):
                continue
            if before is not None and not self.contains(know, before):
                self.merge(know, self.know[before.id])
            self.place(know, head)
        self.know[close.id] = know
        state[close.id], self.reason[close.id] = self._decide(close, know)
