"""The fold: from a set of valid entries to the group's budget view. Pure and incremental.

``Ledger.add`` takes entries in any order (and any number of times); ``Ledger.view``
returns the same view, and the same state hash, for the same set of entries whatever
order they came in. Nothing here reads a clock: claimed timestamps are shown, never
used to decide.

Rules (README, "Deciding"):

* Members are the founder, the founding members, and those added by approved
  proposals. Anyone else's entries are flagged ``non_member`` and not counted.
* Proposals are decided by ``close`` entries. A close names the feed heads its author
  had seen (its *cut*); exactly the votes inside the cut count, each member's latest
  one. Closes that did not see another close of the same proposal are *concurrent
  first closes*; their cuts are merged (the union), so the outcome does not depend
  on which of them arrived first. A close that saw an earlier close changes nothing.
* Proposals are decided in a fixed order (by the size of their merged cut, then by
  id), each with the members known at that point, so membership changes made by
  approved proposals apply to later decisions without any circularity.
* The ledger records facts: every member's spend reduces the balance; one against a
  proposal that is not approved, or beyond its amount, is flagged, never dropped.
  A reversal (in the same feed) cancels a deposit or spend; nothing is deleted.
* Entries of a forked feed from the fork on are left out and the feed is flagged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ssbmoney import content as msg
from ssbmoney.entry import Entry, entry_id, feed_id
from ssbmoney.group import GroupKeys, open_sealed


@dataclass
class _FeedSummary:
    """What one feed says, ready for the global step. Rebuilt when the feed changes."""

    identity: bytes | None = None
    name: str = ""
    found: tuple[msg.Found, bytes] | None = None
    deposits: list[tuple[bytes, msg.Deposit]] = field(default_factory=list)
    proposals: list[tuple[bytes, int, msg.Proposal]] = field(default_factory=list)
    votes: dict[bytes, list[tuple[int, bytes, msg.Vote]]] = field(default_factory=dict)
    closes: list[tuple[bytes, int, msg.Close]] = field(default_factory=list)
    spends: list[tuple[bytes, msg.Spend]] = field(default_factory=list)
    withdraws: list[tuple[bytes, int, bytes]] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)


class Ledger:
    """Accumulates entries of one group and folds them into the budget view."""

    def __init__(self, keys: GroupKeys, currency: str = "") -> None:
        self.keys = keys
        self.default_currency = currency
        self._feeds: dict[bytes, dict[int, tuple[Entry, msg.Message | None, str]]] = {}
        self._forks: dict[bytes, int] = {}
        self._summaries: dict[bytes, _FeedSummary] = {}
        self._view: dict[str, Any] | None = None
        self._claimed: dict[bytes, int] = {}

    # ---------------------------------------------------------------- collecting

    def add(self, entry: Entry) -> None:
        """Take one valid entry (of this group). Idempotent."""
        feed = self._feeds.setdefault(entry.author, {})
        if entry.seq in feed:
            return
        message: msg.Message | None = None
        problem = ""
        if entry.content is None:
            problem = "pruned"
        else:
            plain = open_sealed(self.keys.content_key, entry.content)
            if plain is None:
                problem = "unreadable"
            else:
                try:
                    message = msg.parse(plain)
                except msg.BadContent as err:
                    problem = f"malformed_content: {err}"
        feed[entry.seq] = (entry, message, problem)
        self._claimed[entry.id] = entry.claimed_ms
        self._summaries.pop(entry.author, None)
        self._view = None

    def add_all(self, entries: Any) -> Ledger:
        for item in entries:
            self.add(item)
        return self

    def add_fork(self, feed: bytes, seq: int) -> None:
        """A fork proof at ``seq``: the feed counts only up to ``seq - 1``."""
        old = self._forks.get(feed)
        if old is None or seq < old:
            self._forks[feed] = seq
            self._summaries.pop(feed, None)
            self._view = None

    def messages_of(self, feed: bytes) -> list[tuple[bytes, msg.Message]]:
        """(entry id, message) of one feed's readable entries, in sequence order."""
        items = self._feeds.get(feed, {})
        return [(items[s][0].id, m) for s in sorted(items) if (m := items[s][1]) is not None]

    def is_reversed(self, feed: bytes, target: bytes) -> bool:
        return any(
            isinstance(m, msg.Reverse) and m.target == target for _i, m in self.messages_of(feed)
        )

    # ----------------------------------------------------------------- per feed

    def _summary(self, feed: bytes) -> _FeedSummary:
        cached = self._summaries.get(feed)
        if cached is not None:
            return cached
        summary = _FeedSummary()
        items = self._feeds.get(feed, {})
        limit = self._forks.get(feed)
        group = self.keys.group_id
        reversed_ids: set[bytes] = set()
        kept_deposits: list[tuple[bytes, msg.Deposit]] = []
        kept_spends: list[tuple[bytes, msg.Spend]] = []
        for seq in sorted(items):
            if limit is not None and seq >= limit:
                break
            item, message, problem = items[seq]
            eid = entry_id(item.id)
            if problem:
                kind = problem.split(":", 1)[0]
                if kind != "pruned":
                    summary.warnings.append((kind, "entry", eid))
                continue
            if seq == 1:
                if isinstance(message, msg.Join) and msg.join_ok(message, group, feed):
                    summary.identity = message.identity
                    summary.name = message.name
                else:
                    summary.warnings.append(("bad_join", "feed", feed_id(feed)))
                continue
            if isinstance(message, msg.Deposit):
                kept_deposits.append((item.id, message))
            elif isinstance(message, msg.Vote):
                summary.votes.setdefault(message.proposal, []).append((seq, item.id, message))
            elif isinstance(message, msg.Proposal):
                summary.proposals.append((item.id, seq, message))
            elif isinstance(message, msg.Close):
                summary.closes.append((item.id, seq, message))
            elif isinstance(message, msg.Spend):
                kept_spends.append((item.id, message))
            elif isinstance(message, msg.Withdraw):
                summary.withdraws.append((item.id, seq, message.proposal))
            elif isinstance(message, msg.Reverse):
                reversed_ids.add(message.target)
            elif isinstance(message, msg.Found):
                if feed == self.keys.founder and summary.found is None:
                    summary.found = (message, item.id)
                else:
                    summary.warnings.append(("misplaced_found", "entry", eid))
            elif isinstance(message, msg.Join):
                summary.warnings.append(("misplaced_join", "entry", eid))
        summary.deposits = [d for d in kept_deposits if d[0] not in reversed_ids]
        summary.spends = [s for s in kept_spends if s[0] not in reversed_ids]
        if limit is not None:
            summary.warnings.append(("fork", "feed", feed_id(feed)))
        self._summaries[feed] = summary
        return summary

    # ------------------------------------------------------------------- global

    def view(self) -> dict[str, Any]:
        """The budget view (a plain dict, JSON-ready) including its ``state_hash``."""
        if self._view is None:
            self._view = self._fold()
        return self._view

    def _fold(self) -> dict[str, Any]:
        feeds = sorted(set(self._feeds) | set(self._forks))
        summaries = {f: self._summary(f) for f in feeds}
        warnings: list[tuple[str, str, str]] = []
        for f in feeds:
            warnings.extend(summaries[f].warnings)

        founder = summaries.get(self.keys.founder)
        found = founder.found[0] if founder is not None and founder.found else None
        # One feed per identity: the smallest feed key wins, the others are flagged.
        identity_feed: dict[bytes, bytes] = {}
        for f in feeds:
            ident = summaries[f].identity
            if ident is None:
                continue
            if ident in identity_feed:
                warnings.append(("duplicate_identity", "feed", feed_id(f)))
            else:
                identity_feed[ident] = f
        feed_identity = {f: i for i, f in identity_feed.items()}

        members: set[bytes] = set()
        if found is not None and founder is not None and founder.identity is not None:
            members = {founder.identity, *found.members}
        threshold = found.threshold if found else 50
        block_vetoes = found.block_vetoes if found else True

        proposals: dict[bytes, tuple[bytes, int, msg.Proposal]] = {}
        for f in feeds:
            if f in feed_identity:
                for pid, seq, proposal in summaries[f].proposals:
                    proposals[pid] = (f, seq, proposal)

        # Closes: per proposal, the first closes (those that saw no other close of it).
        closes_of: dict[bytes, list[tuple[bytes, bytes, int, dict[bytes, int]]]] = {}
        for f in feeds:
            for cid, seq, close in summaries[f].closes:
                closes_of.setdefault(close.proposal, []).append((cid, f, seq, dict(close.cut)))
        decision_order = []
        first_closes: dict[bytes, list[tuple[bytes, bytes, int, dict[bytes, int]]]] = {}
        for pid, closes in closes_of.items():
            if pid not in proposals:
                for cid, _f, _s, _c in closes:
                    warnings.append(("unknown_proposal", "entry", entry_id(cid)))
                continue
            firsts = [
                c for c in closes
                if not any(o is not c and c[3].get(o[1], 0) >= o[2] for o in closes)
            ]
            for c in closes:
                if c not in firsts:
                    warnings.append(("duplicate_close", "entry", entry_id(c[0])))
            first_closes[pid] = firsts
            merged_size = sum(max(c[3].get(f, 0) for c in firsts) for f in
                              {f for c in firsts for f in c[3]})
            decision_order.append((merged_size, min(c[0] for c in firsts), pid))
        decision_order.sort()

        decided: dict[bytes, dict[str, Any]] = {}
        for _size, _cid, pid in decision_order:
            author_feed, _seq, proposal = proposals[pid]
            valid = [c for c in first_closes[pid] if feed_identity.get(c[1]) in members]
            for c in first_closes[pid]:
                if c not in valid:
                    warnings.append(("non_member", "entry", entry_id(c[0])))
            if feed_identity.get(author_feed) not in members or not valid:
                continue
            cut: dict[bytes, int] = {}
            for c in valid:
                for f, s in c[3].items():
                    if s > cut.get(f, 0):
                        cut[f] = s
            withdrawn = any(
                s <= cut.get(author_feed, 0) and p == pid
                for _w, s, p in summaries[author_feed].withdraws
            )
            ballots: dict[bytes, str] = {}
            for ident in members:
                f = identity_feed.get(ident)
                if f is None:
                    continue
                limit = cut.get(f, 0)
                latest = None
                for seq, vid, vote in summaries[f].votes.get(pid, ()):
                    if seq <= limit:
                        latest = vote.choice
                    else:
                        warnings.append(("late_vote", "entry", entry_id(vid)))
                if latest is not None:
                    ballots[ident] = latest
            tally = _tally(ballots)
            quorum = found.quorum if found and found.quorum else len(members) // 2 + 1
            approved = (
                not withdrawn
                and len(ballots) >= quorum
                and tally["yes"] >= 1
                and tally["yes"] * 100 >= threshold * (tally["yes"] + tally["no"])
                and not (block_vetoes and tally["block"] > 0)
            )
            decided[pid] = {"approved": approved, "withdrawn": withdrawn,
                            "ballots": ballots, "tally": tally}
            if approved and proposal.add_member is not None:
                members.add(proposal.add_member)

        # Money: facts from members' feeds.
        member_feeds = {identity_feed[i] for i in members if i in identity_feed}
        deposited = 0
        spent_on: dict[bytes, list[tuple[bytes, int]]] = {}
        for f in feeds:
            s = summaries[f]
            counted = f in member_feeds
            for did, deposit in s.deposits:
                if counted:
                    deposited += deposit.amount
                else:
                    warnings.append(("non_member", "entry", entry_id(did)))
            for sid, spend in s.spends:
                if counted:
                    spent_on.setdefault(spend.proposal, []).append((sid, spend.amount))
                else:
                    warnings.append(("non_member", "entry", entry_id(sid)))
            if not counted:
                for pid, _seq, _p in s.proposals:
                    warnings.append(("non_member", "entry", entry_id(pid)))
                for votes in s.votes.values():
                    for _seq, vid, _v in votes:
                        warnings.append(("non_member", "entry", entry_id(vid)))

        spent_total = 0
        for pid, spends in spent_on.items():
            spends.sort()
            total = 0
            outcome = decided.get(pid)
            approved = outcome is not None and outcome["approved"]
            limit = proposals[pid][2].amount if pid in proposals else 0
            for sid, amount in spends:
                total += amount
                if not approved:
                    warnings.append(("unapproved_spend", "entry", entry_id(sid)))
                elif total > limit:
                    warnings.append(("overspend", "entry", entry_id(sid)))
            spent_total += total

        proposal_rows = []
        committed = 0
        for pid, (author_feed, _seq, proposal) in sorted(proposals.items()):
            author = feed_identity.get(author_feed)
            if author not in members:
                continue
            outcome = decided.get(pid)
            spent = sum(a for _s, a in spent_on.get(pid, ()))
            withdrawn_open = outcome is None and any(
                p == pid for _w, _s, p in summaries[author_feed].withdraws
            )
            if outcome is None:
                ballots = {}
                for ident in members:
                    f = identity_feed.get(ident)
                    votes = summaries[f].votes.get(pid) if f is not None else None
                    if votes:
                        ballots[ident] = votes[-1][2].choice
                tally = _tally(ballots)
                status = "rejected" if withdrawn_open else "open"
            else:
                ballots, tally = outcome["ballots"], outcome["tally"]
                status = "approved" if outcome["approved"] else "rejected"
            if status == "approved":
                committed += max(0, proposal.amount - spent)
            proposal_rows.append({
                "id": entry_id(pid),
                "title": proposal.title,
                "amount": proposal.amount,
                "payee": proposal.payee,
                "category": proposal.category,
                "author": feed_id(author) if author else None,
                "status": status,
                "withdrawn": withdrawn_open or bool(outcome and outcome["withdrawn"]),
                "closes_ms": proposal.closes_ms,
                "claimed_ms": self._claimed.get(pid, 0),
                "add_member": feed_id(proposal.add_member) if proposal.add_member else None,
                **tally,
                "votes": {feed_id(i): c for i, c in sorted(ballots.items())},
                "spent": spent,
            })

        names = {feed_id(i): summaries[f].name for i, f in identity_feed.items() if i in members}
        balance = deposited - spent_total
        view: dict[str, Any] = {
            "group": self.keys.group_id.hex(),
            "name": found.name if found else "",
            "currency": found.currency if found else self.default_currency,
            "rules": {
                "threshold": threshold,
                "quorum": found.quorum if found else None,
                "block_vetoes": block_vetoes,
            },
            "members": sorted(feed_id(m) for m in members),
            "member_names": dict(sorted(names.items())),
            "deposited": deposited,
            "spent": spent_total,
            "balance": balance,
            "committed": committed,
            "available": balance - committed,
            "proposals": proposal_rows,
            "warnings": [
                {"kind": kind, where: what}
                for kind, where, what in sorted(set(warnings))
            ],
            "entries": sum(len(items) for items in self._feeds.values()),
        }
        view["state_hash"] = state_hash(view)
        return view


def _tally(ballots: dict[bytes, str]) -> dict[str, int]:
    tally = {choice: 0 for choice in msg.CHOICES}
    for choice in ballots.values():
        tally[choice] += 1
    return tally


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return [[k, _canonical(value[k])] for k in sorted(value)]
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        raise TypeError("no floats in the budget view")
    return value


def state_hash(view: dict[str, Any]) -> str:
    """SHA-256 of the canonical msgpack encoding of the view (without its own hash)."""
    body = {k: v for k, v in view.items() if k != "state_hash"}
    return hashlib.sha256(msgpack.packb(_canonical(body))).hexdigest()


def fold(keys: GroupKeys, entries: Any, forks: Any = (), currency: str = "") -> dict[str, Any]:
    """Fold entries from scratch: ``forks`` is an iterable of (feed key, sequence)."""
    ledger = Ledger(keys, currency)
    ledger.add_all(entries)
    for feed, seq in forks:
        ledger.add_fork(feed, seq)
    return ledger.view()
