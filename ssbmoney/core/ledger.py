"""The fold: from a set of valid entries to the group's budget view. Pure and incremental.

``Ledger.add`` takes entries in any order (and any number of times); ``Ledger.view``
returns the same view, and the same state hash, for the same set of entries whatever
order or route they came by. Nothing here reads a clock: claimed timestamps are
shown, never used to decide. Nothing here raises on what an entry says.

Who counts:

* A feed belongs to the identity whose signed ``join`` is its first entry.
* **Members** (``members`` in the view) are the founders and those admitted by an
  admission whose outcome stands here (``ssbmoney.core.decide``). **Money** counts
  for every feed, every branch, of a member — and of an identity some first close
  admitted even where the admission is contested: nothing written later erases a
  money record.
* Everyone else's entries change nothing but warnings (``non_member``).

Incremental: adding an entry updates indexes in O(1) and marks the proposal it
concerns; ``view`` recomputes only marked rows, and decides everything again only
when an entry that can change a decision arrived (a member's close, join or
withdrawal, the founding, a fork, or what a pending close waits for) — never for a
stranger's entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ssbmoney.core import content as msg
from ssbmoney.core.decide import Deciding, Outcome, tally
from ssbmoney.core.entry import Entry, entry_id, feed_id
from ssbmoney.core.facts import BULK, COUNTED, Facts, Item, gc_paused
from ssbmoney.core.group import GroupKeys
from ssbmoney.core.statehash import canonical, canonical_in_order, digest_object, state_hash

__all__ = ["Ledger", "fold", "state_hash", "MAX_JSON_INT"]

MAX_JSON_INT = 2**53 - 1
"""No integer in the view passes this: every JSON reader reads it exactly."""

Warning = dict[str, Any]


def _warning_key(warning: Warning) -> tuple[str, str, str, str]:
    """Warnings sort by kind, then the entry or feed they are about, then the rest (as
    canonical text): one order on every home."""
    rest = canonical(warning, checked=True) if len(warning) > 2 else ""
    return (warning["kind"], warning.get("entry", ""), warning.get("feed", ""), rest)


def _row_id(row: tuple[dict[str, Any], str, tuple[Warning, ...]]) -> str:
    return str(row[0]["id"])


def clamp(value: int) -> int:
    return max(-MAX_JSON_INT, min(MAX_JSON_INT, value))


class Ledger(Facts):
    """Accumulates the entries of one group and folds them into the budget view."""

    def __init__(self, keys: GroupKeys, currency: str = "") -> None:
        super().__init__(keys)
        self.default_currency = currency
        self._rows: dict[bytes, tuple[dict[str, Any], str, tuple[Warning, ...]]] = {}
        self._folded_items = -1
        self._view: dict[str, Any] | None = None
        self.identity: dict[bytes, bytes] = {}
        self.feeds_of: dict[bytes, list[bytes]] = {}
        self.members: frozenset[bytes] = frozenset()
        self.money_ids: frozenset[bytes] = frozenset()
        self.money_feeds: set[bytes] = set()
        self.member_feeds: set[bytes] = set()
        self.outcomes: dict[bytes, Outcome] = {}
        self.deciding: Deciding | None = None
        self._fid_cache: dict[bytes, str] = {}
        self._row_warnings_version = 0
        self._decided = 0  # how many times everything was decided again
        self._warnings_cache: tuple[tuple[Any, ...], list[Warning], str] | None = None

    # ------------------------------------------------------------------- folding

    def view(self) -> dict[str, Any]:
        """The budget view (JSON-ready; treat as read-only) with its ``state_hash``."""
        if self._view is None or self._folded_items != len(self.items):
            with gc_paused(bulk=self.deciding is None and len(self.items) >= BULK):
                self._view = self._fold()
            self._folded_items = len(self.items)
        return self._view

    def _decide_all(self) -> None:
        """Who is who, every close on its own past, every proposal's outcome."""
        identity: dict[bytes, bytes] = {}
        for feed in self.joins:
            ident = self.identity_of(feed)
            if ident is not None:
                identity[feed] = ident
        feeds_of: dict[bytes, list[bytes]] = {}
        for feed in sorted(identity):
            for ident in self.identities_of(feed):  # a feed forked at 1 may name two
                feeds_of.setdefault(ident, []).append(feed)
        founds = [self.items[eid] for _seq, eid, _m in self.founds]
        founder = identity.get(self.keys.founder)
        candidates: set[bytes] = set()
        for found in founds:  # a forked founding: whoever any version names may count
            candidates.update(found.message.members)  # type: ignore[union-attr]
        if founds and founder is not None:
            candidates.add(founder)
        admissions = [(pid, item) for pid, item in self.proposals.items()
                      if item.message.add_member is not None]  # type: ignore[union-attr]
        grown = True
        while grown:  # who might be a member: only members' closes can name a newcomer
            grown = False
            for pid, item in admissions:
                # Both the newcomer and the proposal's author (whose feed must be
                # tracked for the proposal to be in a close's past), whatever order
                # the admissions came in: a fixpoint, not a first come.
                wanted = {item.message.add_member, identity.get(item.feed)}  # type: ignore[union-attr]
                wanted.discard(None)
                if wanted <= candidates:
                    continue
                if any(identity.get(c.feed) in candidates for c in self.closes.get(pid, ())):
                    candidates |= wanted  # type: ignore[arg-type]
                    grown = True
        tracked = {f for f, i in identity.items() if i in candidates}
        self._candidates, self._tracked = candidates, tracked
        deciding = Deciding(self, identity, feeds_of, founds, tracked)
        self._watch_ids = deciding.pasts.watch_ids
        self._watch_feeds = deciding.pasts.watch_feeds
        self.identity, self.feeds_of, self.deciding = identity, feeds_of, deciding
        self._decided += 1
        self.outcomes = {
            pid: deciding.outcome(pid)
            for pid in {*self.closes, *self.withdraws} if pid in self.proposals
        }
        self.members = deciding.members_in(None)
        money = set(self.members)
        for pid, item in admissions:
            outcome = self.outcomes.get(pid)
            if outcome is not None and any(deciding.decisions[c.id].approved
                                           for c in outcome.firsts):
                money.add(item.message.add_member)  # type: ignore[union-attr,arg-type]
        self.money_ids = frozenset(money)
        self.money_feeds = {f for i, fs in feeds_of.items() if i in money for f in fs}
        self.member_feeds = {f for i, fs in feeds_of.items() if i in self.members for f in fs}
        self._rows.clear()
        self._dirty = set(self.proposals)
        self._causal = False

    def _fold(self) -> dict[str, Any]:
        if self._causal or self.deciding is None:
            self._decide_all()
        dirty, self._dirty = self._dirty, set()
        for pid in dirty:
            old = self._rows.pop(pid, None)
            if pid in self.proposals and self._shown(pid):
                new = self._rows[pid] = self._row(pid)
                if old is None or old[2] != new[2]:
                    self._row_warnings_version += 1
            elif old is not None:
                self._row_warnings_version += 1
        rows = sorted(self._rows.values(), key=_row_id)
        money_feeds = self.money_feeds
        exact = {
            "deposited": sum(self.dep_total.get(f, 0) for f in money_feeds),
            "spent": sum(self.spend_total.get(f, 0) for f in money_feeds),
            "committed": sum(max(0, r["amount"] - r["spent"]) for r, _t, _w in rows
                             if r["status"] == "approved" and r["amount"] is not None),
        }
        exact["balance"] = exact["deposited"] - exact["spent"]
        exact["available"] = exact["balance"] - exact["committed"]
        # The warnings are rebuilt (and sorted, and encoded) only when one of their
        # sources changed: most updates (a deposit, a vote on an open proposal) leave
        # them as they were.
        money_count = sum(self.count_of(f) for f in money_feeds)
        sources = (
            self._decided, self._row_warnings_version, len(self._rows),
            len(self.problems), len(self.joins), tuple(sorted(self.fork_at.items())),
            len(self.items) - money_count, len(self.proposals),
            sum(len(s) for s in self.spends.values()),
            tuple(v if clamp(v) != v else 0 for v in exact.values()),  # overflows
        )
        if self._warnings_cache is not None and self._warnings_cache[0] == sources:
            warnings, warnings_text = self._warnings_cache[1], self._warnings_cache[2]
        else:
            warnings = self._warnings(rows, exact)
            warnings_text = canonical(warnings, checked=True)
            self._warnings_cache = (sources, warnings, warnings_text)
        found = self.deciding.found_message if self.deciding else None
        rules = self.deciding.rules if self.deciding else None
        names = {
            feed_id(i): next(j[1] for j in self.joins[f] if j is not None and j[0] == i)
            for f, i in self.identity.items() if i in self.members
            and f == self.feeds_of[i][0]
        }
        top: dict[str, Any] = {
            **{k: clamp(v) for k, v in exact.items()},
            "currency": found.currency if found else self.default_currency,
            "entries": money_count,
            "group": self.keys.group_id.hex(),
            "member_names": dict(sorted(names.items())),
            "members": sorted(feed_id(m) for m in self.members),
            "name": found.name if found else "",
            "rules": {
                "block_vetoes": rules.block_vetoes if rules else True,
                "quorum": rules.quorum if rules else None,
                "threshold": rules.threshold if rules else 50,
            },
        }
        parts = {key: canonical(value, checked=True) for key, value in top.items()}
        parts["proposals"] = "[" + ",".join(text for _r, text, _w in rows) + "]"
        parts["warnings"] = warnings_text
        view = dict(top)
        view["proposals"] = [r for r, _t, _w in rows]
        view["warnings"] = warnings
        view["state_hash"] = digest_object(parts)
        return view

    # ---------------------------------------------------------------------- rows

    def _fid(self, identity: bytes) -> str:
        """A member id as text, made once per identity (rows name voters thousands of
        times)."""
        found = self._fid_cache.get(identity)
        if found is None:
            found = self._fid_cache[identity] = feed_id(identity)
        return found

    def _shown(self, pid: bytes) -> bool:
        """A member's proposal; or anyone's that a member's vote or close names."""
        item = self.proposals[pid]
        if self.identity.get(item.feed) in self.money_ids:
            return True
        feeds = self.member_feeds
        return (any(f in feeds for f in self.votes.get(pid, ()))
                or any(c.feed in feeds for c in self.closes.get(pid, ())))

    def _row(self, pid: bytes) -> tuple[dict[str, Any], str, tuple[Warning, ...]]:
        item = self.proposals[pid]
        proposal: msg.Proposal = item.message  # type: ignore[assignment]
        deciding = self.deciding
        assert deciding is not None
        outcome = self.outcomes.get(pid)
        warnings: list[Warning] = []
        ids = self.identity
        if outcome is None or outcome.status == "open":
            ballots: dict[bytes, str] = {}
            members, forks, feeds_of = self.members, self.fork_at, self.feeds_of
            for feed, votes in self.votes.get(pid, {}).items():
                ident = ids.get(feed)
                if ident not in members:
                    continue
                if feed not in forks and len(feeds_of[ident]) == 1:  # nothing to mute
                    ballots[ident] = votes[-1].message.choice  # type: ignore[union-attr]
                    continue
                for vote in reversed(votes):
                    if not deciding.muted(None, vote):
                        ballots[ident] = vote.message.choice  # type: ignore[union-attr]
                        break
            counts = tally(ballots.values())
            status, withdrawn = "open", False
        else:
            status, withdrawn = outcome.status, outcome.withdrawn
            shown = outcome.shown
            ballots = shown.ballots if shown else {}
            counts = shown.counts if shown else tally(())
            pasts = deciding.pasts
            knows = [pasts.know[c.id] for c in outcome.firsts]
            for feed, votes in self.votes.get(pid, {}).items():
                if feed not in self.member_feeds:
                    continue
                if feed not in self.fork_at:  # unforked: a vote is late past every cut
                    limit = max((k.seqs.get(feed, 0) for k in knows), default=0)
                    warnings.extend({"kind": "late_vote", "entry": entry_id(v.id)}
                                    for v in votes if v.seq > limit)
                    continue
                for vote in votes:
                    if not any(pasts.contains(k, vote) for k in knows):
                        warnings.append({"kind": "late_vote", "entry": entry_id(vote.id)})
            warnings.extend({"kind": "duplicate_close", "entry": entry_id(c.id),
                             "member": feed_id(ids[c.feed])} for c in outcome.duplicates)
            warnings.extend({"kind": "late_withdrawal", "entry": entry_id(w.id)}
                            for w in outcome.late_withdrawals)
            if outcome.contested:
                warnings.append({
                    "kind": "contested_close",
                    "entry": entry_id(pid),
                    "entries": sorted(entry_id(c.id) for c in outcome.contested),
                    "members": sorted({feed_id(ids[c.feed]) for c in outcome.contested
                                       if c.feed in ids}),
                })
        if (outcome is None or outcome.status == "open") and pid in self.withdraws:
            # No close decided it: its author's withdrawal, as held now, rejects it.
            proposer = self.identity_of(item.feed)
            if proposer is not None and any(self.identity_of(w.feed) == proposer
                                            for w in self.withdraws.get(pid, ())):
                status, withdrawn = "rejected", True
        amount = proposal.amount
        spent, spend_warnings = (self._spent_on(pid, status == "approved", amount)
                                 if pid in self.spends else (0, []))
        author = self.identity_of(item.feed)  # any feed's, as held now (not only members')
        fid = self._fid
        row = {
            "abstain": counts["abstain"],
            "add_member": feed_id(proposal.add_member) if proposal.add_member else None,
            "amount": amount,
            "author": fid(author) if author else None,
            "block": counts["block"],
            "category": proposal.category,
            "claimed_ms": item.claimed_ms if item.claimed_ms <= MAX_JSON_INT else None,
            "closes_ms": proposal.closes_ms,
            "id": entry_id(pid),
            "no": counts["no"],
            "payee": proposal.payee,
            "spent": clamp(spent),
            "status": status,
            "title": proposal.title,
            "votes": dict(sorted((fid(i), c) for i, c in ballots.items())),
            "withdrawn": withdrawn,
            "yes": counts["yes"],
        }
        return row, canonical_in_order(row), tuple(warnings + spend_warnings)

    def _spent_on(self, pid: bytes, approved: bool, amount: int | None,
                  ) -> tuple[int, list[Warning]]:
        total = 0
        warnings: list[Warning] = []
        for sid, (feed, value) in sorted(self.spends.get(pid, {}).items()):
            if feed not in self.money_feeds:
                continue
            total += value
            if not approved or amount is None:
                warnings.append({"kind": "unapproved_spend", "entry": entry_id(sid)})
            elif total > amount:
                warnings.append({"kind": "overspend", "entry": entry_id(sid)})
        return total, warnings

    # ------------------------------------------------------------------ warnings

    def _warnings(self, rows: list[tuple[dict[str, Any], str, tuple[Warning, ...]]],
                  exact: dict[str, int]) -> list[Warning]:
        found: list[Warning] = [w for _r, _t, ws in rows for w in ws]
        ids, money_feeds = self.identity, self.money_feeds
        for kind, eid in self.problems:
            found.append({"kind": kind, "entry": entry_id(eid)})
        for feed in self.joins:
            if self.identity_of(feed) is None:
                found.append({"kind": "bad_join", "feed": feed_id(feed)})
        for feed, seq in self.fork_at.items():
            warning: Warning = {"kind": "fork", "feed": feed_id(feed),
                                "seq": seq if seq <= MAX_JSON_INT else None}
            ident = self.identity_of(feed)  # as held now: a stranger's join changes no decision
            if ident is not None:
                warning["member"] = feed_id(ident)
            found.append(warning)
        for ident, feeds in self.feeds_of.items():
            if len(feeds) > 1 and ident in self.money_ids:
                found.extend({"kind": "second_feed", "feed": feed_id(f),
                              "member": feed_id(ident)} for f in feeds)
        # One request per identity (its lowest id), none from a member: someone who
        # writes a thousand requests still asks once.
        requests: dict[bytes, tuple[str, str]] = {}
        for pid, item in self.proposals.items():
            message = item.message
            if (pid not in self._rows and isinstance(message, msg.Proposal)
                    and message.add_member is not None
                    and message.add_member not in self.members
                    and self.identity_of(item.feed) == message.add_member):
                request = (entry_id(pid), message.title)
                known = requests.get(message.add_member)
                if known is None or request < known:
                    requests[message.add_member] = request
        found.extend({"kind": "admission_request", "entry": eid, "title": title,
                      "member": feed_id(ident)} for ident, (eid, title) in requests.items())
        for pid, spends in self.spends.items():
            if pid not in self._rows:
                found.extend({"kind": "unapproved_spend", "entry": entry_id(sid)}
                             for sid, (feed, _v) in spends.items() if feed in money_feeds)
        extra_of: dict[bytes, list[Item]] = {}
        for (f, _s), more in self.extra.items():
            if f not in money_feeds:
                extra_of.setdefault(f, []).extend(more)
        for feed, at in self.at.items():
            if feed in money_feeds:
                continue
            for item in (*at.values(), *extra_of.get(feed, ())):
                if type(item.message) in COUNTED:
                    found.append({"kind": "non_member", "entry": entry_id(item.id)})
        pasts = self.deciding.pasts if self.deciding else None
        if pasts is not None:
            for eid, state in pasts.state.items():
                if state == "ok":
                    continue
                item = self.items[eid]
                if item.feed not in money_feeds:
                    continue
                found.append({"kind": "close_pending" if state == "pending" else "invalid_close",
                              "entry": entry_id(eid), "member": feed_id(ids[item.feed]),
                              "reason": pasts.reason.get(eid, "")})
        for name, value in sorted(exact.items()):
            if clamp(value) != value:
                found.append({"kind": "total_overflow", "figure": name,
                              "feed": feed_id(self._largest(name))})
        unique = {_warning_key(w): w for w in found}
        return [unique[key] for key in sorted(unique)]

    def _largest(self, figure: str) -> bytes:
        """The feed that holds most of a figure: where an overflow is shown."""
        totals = self.spend_total if figure == "spent" else self.dep_total
        feeds = sorted(self.money_feeds) or [self.keys.founder]
        return max(feeds, key=lambda f: (abs(totals.get(f, 0)), -int.from_bytes(f, "big")))


def honest_cut(ledger: Ledger, pid: bytes, me: bytes) -> tuple[tuple[bytes, int, bytes], ...]:
    """The cut an honest close of ``pid`` by feed ``me`` names: for every feed of every
    member (and the proposal's own feed), the latest entry whose whole past this home
    holds — never past a close that is still pending here, so one member's
    unresolvable cut cannot make everyone's closes pending; a forked feed by its fork
    proof (the two entries at its fork point), once. Its size grows with the members,
    never with strangers' feeds."""
    ledger.view()
    deciding = ledger.deciding
    assert deciding is not None
    pasts = deciding.pasts
    feeds = {f for m in ledger.members for f in ledger.feeds_of.get(m, ())}
    proposal = ledger.proposals.get(pid)
    if proposal is not None:
        feeds.add(proposal.feed)
    feeds.discard(me)
    heads: list[tuple[bytes, int, bytes]] = []
    for feed in sorted(feeds):
        fork = ledger.fork_at.get(feed)
        held = ledger.at.get(feed, {})
        seq = 0
        while seq + 1 in held:  # the gapless prefix as held now (pasts hold an older one)
            seq += 1
        if fork is not None:
            proof = sorted(ledger.at_seq(feed, fork), key=lambda i: i.id)[:2]
            befores = [pasts.last_close(i) for i in proof]
            if all(b is None or pasts.state.get(b.id) != "pending" for b in befores):
                heads.extend((feed, i.seq, i.id) for i in proof)
                continue
            seq = min(seq, fork - 1)  # a proof past a pending close: name what is before
        while seq > 0:
            item = ledger.at[feed][seq]
            before = pasts.last_close(item)
            if before is None or pasts.state.get(before.id) != "pending":
                heads.append((feed, seq, item.id))
                break
            seq = before.seq - 1
    return tuple(sorted(heads))


def fold(
    keys: GroupKeys,
    entries: Iterable[Entry],
    forks: Iterable[tuple[bytes, int]] = (),
    currency: str = "",
) -> dict[str, Any]:
    """Fold entries from scratch (``forks`` is ignored: forks are seen from the entries)."""
    ledger = Ledger(keys, currency)
    ledger.add_all(entries)
    return ledger.view()
