"""Deciding: each close on its own causal past, and a proposal's outcome from its closes.

Pure, no clocks. The rules (the README's "Deciding and counting"):

* **A close is decided on its own past alone** (``ssbmoney.core.causal``): the
  members admitted inside that past, and each member's latest vote inside it. So
  nothing written outside that past — a later close, a later vote, a second feed, a
  fork — changes it. A close counts only if its author is a member in its own past
  and the proposal is in that past.
* **Muting.** Where a past holds a fork proof of a member's feed (both branches), that
  member's votes and closes from the fork point on do not count in it; where it holds
  two feeds of one identity, none of that identity's votes and closes count in it.
  Pasts without the proof are untouched: closes decided without it stand.
* **First closes.** A close *saw* another when that one is in its past (and counts
  there). The closes that saw no other are the first; when they disagree the proposal
  is rejected and flagged ``contested_close`` — a late closer can delay spending, never
  approve it.
* **Withdrawal.** The author's withdrawal counts unless it saw a close; a close that
  saw it rejects. One that no approving first close had seen rejects the proposal too
  (withdrawn), contested if a close approved.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import NamedTuple, cast

from ssbmoney.core import content as msg
from ssbmoney.core.causal import INVALID, OK, Knowledge, Pasts
from ssbmoney.core.facts import Facts, Item


class Rules(NamedTuple):
    threshold: int = 50  # percent of yes among yes + no
    quorum: int | None = None  # voters needed; None: more than half of the members
    block_vetoes: bool = True


class Decision(NamedTuple):
    approved: bool
    withdrawn: bool
    ballots: dict[bytes, str]  # member identity -> the choice that counted
    counts: dict[str, int]


class Outcome(NamedTuple):
    status: str  # open | approved | rejected
    withdrawn: bool
    shown: Decision | None  # the tally to show: the first close with the lowest id
    firsts: tuple[Item, ...]
    contested: tuple[Item, ...]  # closes (and withdrawals) that disagree
    duplicates: tuple[Item, ...]
    late_withdrawals: tuple[Item, ...]


def tally(choices: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(msg.CHOICES, 0)
    for choice in choices:
        counts[choice] += 1
    return counts


def quorum_for(rules: Rules, members: int) -> int:
    return rules.quorum if rules.quorum else members // 2 + 1


def approved(counts: Mapping[str, int], members: int, rules: Rules) -> bool:
    """The contract's rule: quorum of voters (abstentions count), at least one yes,
    yes >= threshold % of yes + no, and no block where blocks veto."""
    voters = sum(counts.values())
    yes, no = counts["yes"], counts["no"]
    return (
        voters >= quorum_for(rules, members)
        and yes >= 1
        and yes * 100 >= rules.threshold * (yes + no)
        and not (rules.block_vetoes and counts["block"] > 0)
    )


class Deciding:
    """Decides every close of a group on its own past, then any proposal's outcome.

    ``identity_of`` maps feed keys to member identities; ``found`` is the founding
    entry (its message a ``msg.Found``) or None."""

    def __init__(self, facts: Facts, identity_of: dict[bytes, bytes],
                 feeds_of: dict[bytes, list[bytes]], founds: list[Item],
                 tracked: set[bytes]) -> None:
        # The ledger holds this; a proxy back keeps the two out of a reference cycle.
        self.facts = cast(Facts, weakref.proxy(facts))
        facts = self.facts
        self.identity_of = identity_of
        self._split = {f for f, joins in facts.join_items.items()
                       if len({i for i, _item in joins}) > 1}  # forked at 1, two names
        self.feeds_of = feeds_of
        self.founds = sorted(founds, key=lambda f: f.id)
        self.founder = identity_of.get(facts.keys.founder)
        self.admissions = sorted(
            pid for pid, item in facts.proposals.items()
            if isinstance(item.message, msg.Proposal) and item.message.add_member is not None
            and any(c.feed in tracked for c in facts.closes.get(pid, ()))
        )
        self.decisions: dict[bytes, Decision] = {}
        self._confirmed: list[tuple[Item, Item]] = []  # (close, founding) seen alone
        self._foundings: dict[bytes, tuple[msg.Found | None, frozenset[bytes], Rules]] = {}
        self.pasts = Pasts(facts, tracked, self._decide_close)
        self.pasts.run()
        self.pasts.release()  # no cycle between the two: reference counting frees them
        self.found = self._pick_found(self.founds, self._confirmed)
        self.found_message, self.founders, self.rules = self._founding(self.found)

    # -------------------------------------------------------------- founding

    def _founding(self, found: Item | None) -> tuple[msg.Found | None, frozenset[bytes], Rules]:
        key = found.id if found is not None else b""
        known = self._foundings.get(key)
        if known is None:
            known = self._foundings[key] = self._make_founding(found)
        return known

    def _make_founding(self, found: Item | None
                       ) -> tuple[msg.Found | None, frozenset[bytes], Rules]:
        message = found.message if found is not None else None
        if not isinstance(message, msg.Found) or self.founder is None:
            return None, frozenset(), Rules()
        founders = frozenset({self.founder, *message.members})
        return message, founders, Rules(message.threshold, message.quorum,
                                        message.block_vetoes)

    @staticmethod
    def _pick_found(founds: list[Item], confirmed: list[tuple[Item, Item]]) -> Item | None:
        """Which founding counts where the founder forked it: the one other members'
        closes had seen alone (before anyone saw the fork); else the lowest id. A
        founder cannot swap the founding under decisions already made."""
        if len(founds) <= 1:
            return founds[0] if founds else None
        seen = sorted({f.id: f for _c, f in confirmed}.values(), key=lambda f: f.id)
        return seen[0] if seen else founds[0]

    def _found_in(self, know: Knowledge) -> tuple[Item | None, bool]:
        """The founding a past decides under, and whether it holds only that one."""
        inside = [f for f in self.founds if self.pasts.contains(know, f)]
        if len(inside) <= 1:
            return (inside[0] if inside else None), True
        confirmed = [(c, f) for c, f in self._confirmed if self.pasts.contains(know, c)]
        return self._pick_found(inside, confirmed), False

    # ------------------------------------------------------------------ muting

    def ident(self, know: Knowledge | None, feed: bytes) -> bytes | None:
        """Whose feed this is in a past: where it forked at sequence 1 between two
        identities' joins, the one join that past holds names it (none if both)."""
        if feed not in self._split or know is None:
            return self.identity_of.get(feed)
        inside = {i for i, item in self.facts.join_items[feed]
                  if self.pasts.contains(know, item)}
        return next(iter(inside)) if len(inside) == 1 else None

    def muted(self, know: Knowledge | None, item: Item) -> bool:
        """Does ``item`` (a vote, close or withdrawal) not count in this past (None: in
        everything this home holds)?"""
        identity = self.ident(know, item.feed)
        if identity is None:
            return True
        feeds = self.feeds_of.get(identity, ())
        if know is None:
            if len(feeds) > 1:
                return True
            fork = self.facts.fork_at.get(item.feed)
            return fork is not None and item.seq >= fork
        if len(feeds) > 1 and sum(1 for f in feeds if know.seqs.get(f, 0) >= 1) > 1:
            return True
        fork = self.pasts.fork_seen(know, item.feed) if item.feed in self.facts.fork_at else None
        return fork is not None and item.seq >= fork

    def contains(self, know: Knowledge | None, item: Item) -> bool:
        return know is None or self.pasts.contains(know, item)

    # ------------------------------------------------------------------ closes

    def members_in(self, know: Knowledge | None,
                   founders: frozenset[bytes] | None = None) -> frozenset[bytes]:
        """The founders and whoever an admission standing in this past admitted."""
        if founders is None:
            if self.found is None or not self.contains(know, self.found):
                return frozenset()
            founders = self.founders
        if not self.admissions:
            return founders
        members = set(founders)
        for pid in self.admissions:
            proposal = self.facts.proposals[pid]
            if not self.contains(know, proposal):
                continue
            if self.outcome(pid, know).status == "approved":
                members.add(proposal.message.add_member)  # type: ignore[union-attr,arg-type]
        return frozenset(members)

    def _decide_close(self, close: Item, know: Knowledge) -> tuple[str, str]:
        facts = self.facts
        pid = close.message.proposal  # type: ignore[union-attr]
        proposal = facts.proposals[pid]
        found, alone = self._found_in(know)
        if found is None:
            return INVALID, "the group's founding is not in its past"
        _message, founders, rules = self._founding(found)
        members = self.members_in(know, founders)
        author = self.ident(know, close.feed)
        if author not in members:
            return INVALID, "its author is not a member in its own past"
        forks = facts.fork_at
        if ((close.feed in forks or len(self.feeds_of.get(author, ())) > 1)
                and self.muted(know, close)):
            return INVALID, "its author's feed forked (or has a second feed) in its past"
        if (proposal.seq > know.seqs.get(proposal.feed, 0)
                or (proposal.feed in forks and not self.pasts.contains(know, proposal))):
            return INVALID, "the proposal is not in its past"
        if alone and author != self.founder and len(self.founds) > 1:
            self._confirmed.append((close, found))  # a member saw this founding alone
        proposer = self.ident(know, proposal.feed)
        withdrawn = any(
            self.ident(know, w.feed) == proposer and self.pasts.contains(know, w)
            and not self.muted(know, w)
            for w in facts.withdraws.get(pid, ())
        )
        ballots: dict[bytes, str] = {}
        by_feed = facts.votes.get(pid, {})
        seqs, forks = know.seqs, facts.fork_at
        for member in members:
            feeds = self.feeds_of.get(member, ())
            if self._split:
                feeds = [f for f in feeds if f not in self._split
                         or self.ident(know, f) == member]
            if len(feeds) == 1:
                feed = feeds[0]
                limit = seqs.get(feed, 0)
                if limit < 1:
                    continue
                if feed not in forks:  # the common case: one unforked feed
                    for vote in reversed(by_feed.get(feed, ())):
                        if vote.seq <= limit:
                            ballots[member] = vote.message.choice  # type: ignore[union-attr]
                            break
                    continue
            else:
                feeds = [f for f in feeds if seqs.get(f, 0) >= 1]
                if len(feeds) != 1:
                    continue  # not in this past, or two feeds: muted
            for vote in reversed(by_feed.get(feeds[0], ())):
                if self.pasts.contains(know, vote):
                    if not self.muted(know, vote):
                        ballots[member] = vote.message.choice  # type: ignore[union-attr]
                        break
                    # a muted vote: an earlier one, before the fork, may count
        counts = tally(ballots.values())
        ok = not withdrawn and approved(counts, len(members), rules)
        self.decisions[close.id] = Decision(ok, withdrawn, ballots, counts)
        return OK, ""

    # ----------------------------------------------------------------- outcome

    def outcome(self, pid: bytes, know: Knowledge | None = None) -> Outcome:
        """A proposal's outcome in one past (None: everything this home holds)."""
        facts, pasts = self.facts, self.pasts
        proposal = facts.proposals.get(pid)
        # In a past, a fork or second feed it proves mutes its member's closes; in
        # everything this home holds (know None) it does not: closes decided without
        # the proof stand (each close already counts only if not muted in its own past).
        # A close that counted in its own past counts wherever it is seen: a fork or
        # second feed found later mutes its author's later closes (they are invalid in
        # their own pasts), never one decided without the proof.
        closes = [
            c for c in facts.closes.get(pid, ())
            if pasts.state.get(c.id) == OK and self.contains(know, c)
        ]
        firsts, duplicates = [], []
        for close in closes:
            seen = pasts.know[close.id]
            if any(other is not close and pasts.contains(seen, other) for other in closes):
                duplicates.append(close)
            else:
                firsts.append(close)
        firsts.sort(key=lambda c: c.id)
        withdrawals: list[Item] = []
        late: list[Item] = []
        if proposal is not None:
            proposer = self.ident(know, proposal.feed)
            for w in facts.withdraws.get(pid, ()):
                if (self.ident(know, w.feed) != proposer or not self.contains(know, w)
                        or (know is not None and self.muted(know, w))):
                    continue
                seen_by_w = pasts.of_item(w)
                if seen_by_w is not None and any(pasts.contains(seen_by_w, c) for c in closes):
                    late.append(w)
                else:
                    withdrawals.append(w)
        decisions = [self.decisions[c.id] for c in firsts]
        shown = decisions[0] if decisions else None
        contested: list[Item] = []
        if withdrawals and not firsts:
            # Withdrawn before any close: nothing was decided (the row shows it rejected,
            # withdrawn, with the tally as it stood).
            status, withdrawn = "open", True
        elif withdrawals:
            contested = [c for c, d in zip(firsts, decisions, strict=True) if d.approved]
            if contested:
                contested += withdrawals
            status = "rejected"
            withdrawn = True
        elif not firsts:
            status, withdrawn = "open", False
        elif len({d.approved for d in decisions}) == 1:
            status = "approved" if decisions[0].approved else "rejected"
            withdrawn = any(d.withdrawn for d in decisions)
        else:
            status, withdrawn = "rejected", any(d.withdrawn for d in decisions)
            contested = list(firsts)
        return Outcome(status, withdrawn, shown, tuple(firsts), tuple(contested),
                       tuple(duplicates), tuple(late))
