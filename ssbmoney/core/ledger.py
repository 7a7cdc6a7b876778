"""The fold: from a set of valid entries to the group's budget view. Pure and incremental.

``Ledger.add`` takes entries in any order (and any number of times); ``Ledger.view``
returns the same view, and the same state hash, for the same set of entries whatever
order they came in. Nothing here reads a clock: claimed timestamps are shown, never
used to decide.

Rules:

* A feed belongs to the member whose identity signed its first entry (``join``).
  Members are the founder, the founding members, and those admitted by approved
  proposals; anyone else's entries are flagged ``non_member`` and not counted.
* Proposals are decided by ``close`` entries (see ``ssbmoney.decide``): exactly the
  votes inside the merged cut of the first closes count, each member's latest.
  Proposals are decided in a fixed order (``decide.order_key``), each with the
  members admitted by proposals decided before it, so admission is never circular.
* The ledger records facts: every member's spend reduces the balance; one against a
  proposal that is not approved, or beyond its amount, is flagged, never dropped.
  A reversal, in the same feed, cancels a deposit or spend; nothing is deleted.
* Entries of a forked feed from the fork on are left out and the feed is flagged.

Incremental: adding an entry updates indexes in O(1) and marks the one proposal it
concerns; ``view`` recomputes only marked proposals (everything, when a join, the
founding, a fork or an admission changes who the members are) and reassembles the
canonical text from cached rows, so an update costs far less than a full fold.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any, NamedTuple

from ssbmoney.core import content as msg
from ssbmoney.core import decide
from ssbmoney.core.entry import Entry, entry_id, feed_id
from ssbmoney.core.facts import COUNTED, Facts, gc_paused
from ssbmoney.core.group import GroupKeys
from ssbmoney.core.statehash import canonical, digest_object, state_hash

__all__ = ["Ledger", "fold", "state_hash"]


class _Decision(NamedTuple):
    approved: bool
    withdrawn: bool
    ballots: dict[bytes, str]
    warnings: tuple[tuple[str, str, str], ...]
    counts: dict[str, int]


class Ledger(Facts):
    """Accumulates the entries of one group and folds them into the budget view."""

    def __init__(self, keys: GroupKeys, currency: str = "") -> None:
        self.default_currency = currency
        super().__init__(keys)

    def _forget(self) -> None:
        self._rows: dict[bytes, tuple[dict[str, Any], str, tuple[Any, ...]]] = {}
        self._order: list[tuple[str, bytes]] = []
        self._order_dirty = True
        self._warnings_cache: tuple[Any, list[dict[str, str]], str] | None = None
        self._rows_cache: tuple[list[dict[str, Any]], str] | None = None
        self._committed = 0
        self._row_warnings: dict[tuple[str, str, str], int] = {}
        self._row_warnings_version = getattr(self, "_row_warnings_version", 0) + 1

    # ------------------------------------------------------------------- folding

    def view(self) -> dict[str, Any]:
        """The budget view (JSON-ready; treat as read-only) with its ``state_hash``."""
        if self._view is None:
            with gc_paused():
                self._view = self._fold()
        return self._view

    def _members_structure(self) -> None:
        """Who is who: feed identities, founders, and admissions in decision order."""
        self._identity_feed: dict[bytes, bytes] = {}
        self._misc: set[tuple[str, str, str]] = set()
        for feed in sorted(self._joins):
            joined = self._joins[feed]
            if joined is None:
                self._misc.add(("bad_join", "feed", feed_id(feed)))
            elif joined[0] in self._identity_feed:
                self._misc.add(("duplicate_identity", "feed", feed_id(feed)))
            else:
                self._identity_feed[joined[0]] = feed
        for feed in self._forks:
            self._misc.add(("fork", "feed", feed_id(feed)))
        self._feed_identity = {f: i for i, f in self._identity_feed.items()}
        self._member_ids = {i: feed_id(i) for i in self._identity_feed}
        found = None
        if self._founds:
            first = min(self._founds)
            found = self._founds[first][1]
            for seq, (eid, _f) in self._founds.items():
                if seq != first:
                    self._misc.add(("misplaced_found", "entry", entry_id(eid)))
        self._found = found
        founder = self._joins.get(self.keys.founder)
        founders: frozenset[bytes] = frozenset()
        if found is not None and founder is not None:
            founders = frozenset({founder[0], *found.members})
        self._rules = (
            decide.Rules(found.threshold, found.quorum, found.block_vetoes)
            if found else decide.Rules()
        )
        # Who could ever be a member: the founders and whoever any proposal would
        # admit. Only their closes place a proposal in the order of decisions, so a
        # stranger's close cannot move a decision before or after an admission.
        potential = set(founders)
        for item in self._proposals.values():
            admit = item.message.add_member  # type: ignore[union-attr]
            if admit is not None:
                potential.add(admit)
        self._potential_feeds = {self._identity_feed[i] for i in potential
                                 if i in self._identity_feed}
        # Admissions, decided in order; each later decision sees the members so far.
        admissions = sorted(
            (self._order_key(pid), pid)
            for pid, item in self._proposals.items()
            if item.message.add_member is not None and pid in self._closes  # type: ignore[union-attr]
        )
        members = founders
        self._timeline_keys: list[tuple[int, bytes]] = []
        self._timeline_sets: list[frozenset[bytes]] = [founders]
        for key, pid in admissions:
            decision = self._decide(pid, members)
            if decision is not None and decision.approved:
                admitted: msg.Proposal = self._proposals[pid].message  # type: ignore[assignment]
                assert admitted.add_member is not None
                members = members | {admitted.add_member}
            self._timeline_keys.append(key)
            self._timeline_sets.append(members)
        self._members = members
        self._member_feeds = {self._identity_feed[i] for i in members if i in self._identity_feed}
        self._rows.clear()
        self._rows_cache = None
        self._committed = 0
        self._row_warnings.clear()
        self._row_warnings_version += 1
        self._order_dirty = True
        self._dirty = set(self._proposals)
        self._structure = False

    def _order_key(self, pid: bytes) -> tuple[int, bytes]:
        closes = [c for c in self._closes[pid] if c.feed in self._potential_feeds]
        return decide.order_key(closes) if closes else (0, b"")

    def _members_at(self, pid: bytes) -> frozenset[bytes]:
        if not self._timeline_keys:
            return self._timeline_sets[0]
        key = self._order_key(pid)
        return self._timeline_sets[bisect.bisect_left(self._timeline_keys, key)]

    def _decide(self, pid: bytes, members: frozenset[bytes]) -> _Decision | None:
        proposal = self._proposals.get(pid)
        closes = self._closes.get(pid)
        if proposal is None or not closes:
            return None
        feed_identity = self._feed_identity
        if feed_identity.get(proposal.feed) not in members:
            return None
        valid = [c for c in closes if feed_identity.get(c.feed) in members]
        firsts = decide.first_closes(valid)
        if not firsts:
            return None
        warnings = [("duplicate_close", "entry", entry_id(c.id)) for c in valid if c not in firsts]
        cut = decide.merged_cut(firsts)
        withdrawn = any(
            f == proposal.feed and s <= cut.get(f, 0) for f, s in self._withdraws.get(pid, ())
        )
        ballots: dict[bytes, str] = {}
        for feed, votes in self._votes.get(pid, {}).items():
            ident = feed_identity.get(feed)
            if ident not in members:
                continue
            limit = cut.get(feed, 0)
            for seq, vid, choice in votes:
                if seq <= limit:
                    ballots[ident] = choice
                else:
                    warnings.append(("late_vote", "entry", entry_id(vid)))
        counts = decide.tally(ballots.values())
        ok = not withdrawn and decide.approved(counts, len(members), self._rules)
        return _Decision(ok, withdrawn, ballots, tuple(warnings), counts)

    def _row(self, pid: bytes) -> tuple[dict[str, Any], str, tuple[Any, ...]]:
        item = self._proposals[pid]
        proposal: msg.Proposal = item.message  # type: ignore[assignment]
        decision = None
        if pid in self._closes:
            decision = self._decide(pid, self._members_at(pid))
        withdrawn = False
        if decision is None:
            ballots = {}
            for feed, votes in self._votes.get(pid, {}).items():
                ident = self._feed_identity.get(feed)
                if ident in self._members and votes:
                    ballots[ident] = votes[-1][2]
            withdrawn = any(f == item.feed for f, _s in self._withdraws.get(pid, ()))
            status = "rejected" if withdrawn else "open"
            warnings: tuple[Any, ...] = ()
            counts = decide.tally(ballots.values())
        else:
            ballots, withdrawn = decision.ballots, decision.withdrawn
            status = "approved" if decision.approved else "rejected"
            warnings = decision.warnings
            counts = decision.counts
        spent, spend_warnings = self._spent_on(pid, status == "approved", proposal.amount)
        author = self._feed_identity.get(item.feed)
        ids = self._member_ids
        row = {
            "abstain": counts["abstain"],
            "add_member": feed_id(proposal.add_member) if proposal.add_member else None,
            "amount": proposal.amount,
            "author": ids[author] if author else None,
            "block": counts["block"],
            "category": proposal.category,
            "claimed_ms": item.claimed_ms,
            "closes_ms": proposal.closes_ms,
            "id": entry_id(pid),
            "no": counts["no"],
            "payee": proposal.payee,
            "spent": spent,
            "status": status,
            "title": proposal.title,
            "votes": dict(sorted((ids[i], c) for i, c in ballots.items())),
            "withdrawn": withdrawn,
            "yes": counts["yes"],
        }
        return row, canonical(row, checked=True), warnings + spend_warnings

    def _spent_on(
        self, pid: bytes, approved: bool, amount: int
    ) -> tuple[int, tuple[tuple[str, str, str], ...]]:
        total = 0
        warnings = []
        for sid, (feed, value) in sorted(self._spends.get(pid, {}).items()):
            if feed not in self._member_feeds:
                continue
            total += value
            if not approved:
                warnings.append(("unapproved_spend", "entry", entry_id(sid)))
            elif total > amount:
                warnings.append(("overspend", "entry", entry_id(sid)))
        return total, tuple(warnings)

    def _fold(self) -> dict[str, Any]:
        if self._structure:
            self._members_structure()
        dirty, self._dirty = self._dirty, set()
        for pid in dirty:
            old = self._rows.pop(pid, None)
            if old is not None:
                self._account(old, -1)
            item = self._proposals.get(pid)
            if item is not None and item.feed in self._member_feeds:
                new = self._row(pid)
                self._rows[pid] = new
                self._account(new, +1)
                if old is None:
                    self._order_dirty = True
            elif old is not None:
                self._order_dirty = True
        if self._order_dirty or dirty or self._rows_cache is None:
            if self._order_dirty:
                self._order = sorted((row[0]["id"], pid) for pid, row in self._rows.items())
                self._order_dirty = False
            rows = [self._rows[pid] for _id, pid in self._order]
            self._rows_cache = (
                [row for row, _t, _w in rows],
                "[" + ",".join(text for _r, text, _w in rows) + "]",
            )
        row_dicts, rows_text = self._rows_cache
        committed = self._committed

        deposited = sum(self._dep_total.get(f, 0) for f in self._member_feeds)
        spent = sum(self._spend_total.get(f, 0) for f in self._member_feeds)
        warnings, warnings_text = self._warnings()
        found = self._found
        names = {
            feed_id(i): self._joins[f][1]  # type: ignore[index]
            for i, f in self._identity_feed.items() if i in self._members
        }
        top: dict[str, Any] = {
            "available": deposited - spent - committed,
            "balance": deposited - spent,
            "committed": committed,
            "currency": found.currency if found else self.default_currency,
            "deposited": deposited,
            "entries": self._count,
            "group": self.keys.group_id.hex(),
            "member_names": dict(sorted(names.items())),
            "members": sorted(feed_id(m) for m in self._members),
            "name": found.name if found else "",
            "rules": {
                "block_vetoes": self._rules.block_vetoes,
                "quorum": self._rules.quorum,
                "threshold": self._rules.threshold,
            },
            "spent": spent,
        }
        parts = {key: canonical(value, checked=True) for key, value in top.items()}
        parts["proposals"] = rows_text
        parts["warnings"] = warnings_text
        view = dict(top)
        view["proposals"] = list(row_dicts)
        view["warnings"] = warnings
        view["state_hash"] = digest_object(parts)
        return view

    def _account(self, row: tuple[dict[str, Any], str, tuple[Any, ...]], sign: int) -> None:
        """Add (+1) or take back (-1) one proposal row's share of the totals."""
        fields, _text, warnings = row
        if fields["status"] == "approved":
            self._committed += sign * max(0, fields["amount"] - fields["spent"])
        for warning in warnings:
            count = self._row_warnings.get(warning, 0) + sign
            if count:
                self._row_warnings[warning] = count
            else:
                del self._row_warnings[warning]
        if warnings:
            self._row_warnings_version += 1

    def _warnings(self) -> tuple[list[dict[str, str]], str]:
        """Every warning, sorted; rebuilt only when one of its sources changed."""
        # Spends on no known proposal, and non-members' entries: facts, flagged.
        extra: list[tuple[str, str, str]] = []
        for pid, spends in self._spends.items():
            if pid not in self._rows:
                extra.extend(
                    ("unapproved_spend", "entry", entry_id(sid))
                    for sid, (feed, _v) in spends.items() if feed in self._member_feeds
                )
        for feed, items in self._items.items():
            if feed not in self._member_feeds:
                limit = self._forks.get(feed)
                extra.extend(
                    ("non_member", "entry", entry_id(item.id)) for item in items.values()
                    if type(item.message) in COUNTED and (limit is None or item.seq < limit)
                )
        key = (self._row_warnings_version, len(self._problems), frozenset(self._misc),
               frozenset(extra))
        if self._warnings_cache is not None and self._warnings_cache[0] == key:
            return self._warnings_cache[1], self._warnings_cache[2]
        found = self._problems | self._misc | set(self._row_warnings) | set(extra)
        listed = [{"kind": kind, where: what} for kind, where, what in sorted(found)]
        self._warnings_cache = (key, listed, canonical(listed, checked=True))
        return listed, self._warnings_cache[2]



def fold(
    keys: GroupKeys,
    entries: Iterable[Entry],
    forks: Iterable[tuple[bytes, int]] = (),
    currency: str = "",
) -> dict[str, Any]:
    """Fold entries from scratch: ``forks`` holds (feed key, sequence) pairs."""
    ledger = Ledger(keys, currency)
    ledger.add_all(entries)
    for feed, seq in forks:
        ledger.add_fork(feed, seq)
    return ledger.view()
