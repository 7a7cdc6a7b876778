"""Fold figures: folding a group's entries from scratch, and one incremental update.

``fold``
    N entries of a ten-member group (made beforehand, untimed: sealed, signed, in a
    realistic mix -- 20% deposits, 10% proposals, 55% votes, 7% closes naming the
    heads their author had seen, 8% spends -- with ~300 bytes of content each) are
    folded from scratch: ``Ledger.add_all`` (which opens every sealed content, parses
    and indexes it) then ``view`` (decisions, sums, warnings and the state hash).
    Best of five runs (as ``timeit`` does: load only ever slows a run down), in
    entries per second.

``fold_update``
    On the ledger folded above, the time from adding one new entry (alternately a vote
    on an open proposal and a deposit) to the updated view with its state hash.
    Median over 50 updates, in milliseconds.
"""

from __future__ import annotations

import random
import time

from ssbmoney.bench import Config, Figure, benchmark
from ssbmoney.core import content as msg
from ssbmoney.core.entry import Entry, create
from ssbmoney.core.group import GroupKeys, group_keys, seal
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.core.ledger import Ledger

MEMBERS = 10
CLAIMED_MS = 1_700_000_000_000


class _Group:
    """A ten-member group writing sealed, signed entries in memory."""

    def __init__(self) -> None:
        self.identities = [keypair(bytes([i + 1]) * 32) for i in range(MEMBERS)]
        self.feeds: list[KeyPair] = [keypair(bytes([i + 101]) * 32) for i in range(MEMBERS)]
        self.keys: GroupKeys = group_keys(b"\x09" * 32, self.feeds[0].public)
        self.heads: dict[int, tuple[int, bytes | None]] = {}
        self.entries: list[Entry] = []
        for i in range(MEMBERS):
            join = msg.Join(self.identities[i].public, f"member {i}", msg.sign_join(
                self.identities[i].secret, self.keys.group_id, self.feeds[i].public))
            self.post(i, join)
        founders = tuple(k.public for k in self.identities[1:])
        self.post(0, msg.Found("Bench collective", "EUR", founders, 50, None, True))

    def post(self, member: int, message: msg.Message) -> Entry:
        feed = self.feeds[member]
        seq, previous = self.heads.get(member, (0, None))
        sealed = seal(self.keys.content_key, feed.public, msg.encode(message))
        made = create(feed.secret, feed.public, self.keys.group_id, seq + 1, previous,
                      CLAIMED_MS + 1000 * len(self.entries), sealed)
        self.heads[member] = (seq + 1, made.id)
        self.entries.append(made)
        return made

    def cut(self) -> tuple[tuple[bytes, int, bytes], ...]:
        return tuple(sorted((self.feeds[i].public, s, h)  # type: ignore[misc]
                            for i, (s, h) in self.heads.items()))


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("abcdefghij klmnopqrstuvwxyz") for _ in range(size))


def _build(count: int) -> tuple[_Group, list[bytes]]:
    rng = random.Random(0xF01D)
    group = _Group()
    proposals: list[bytes] = []
    while len(group.entries) < count:
        member = rng.randrange(MEMBERS)
        roll = rng.random()
        if roll < 0.20:
            group.post(member, msg.Deposit(rng.randrange(100, 100_000), _text(rng, 200)))
        elif roll < 0.30 or len(proposals) < 5:
            proposal = msg.Proposal(_text(rng, 60), rng.randrange(100, 50_000), "payee",
                                    "category", None, None)
            proposals.append(group.post(member, proposal).id)
        elif roll < 0.85:
            vote = msg.Vote(rng.choice(proposals[-30:]), rng.choice(msg.CHOICES),
                            _text(rng, 180))
            group.post(member, vote)
        elif roll < 0.92:
            group.post(member, msg.Close(rng.choice(proposals[-30:-10] or proposals),
                                         group.cut()))
        else:
            group.post(member, msg.Spend(rng.choice(proposals[-30:]), rng.randrange(100, 5_000),
                                         "payee", _text(rng, 150)))
    return group, proposals


def _scenario(cfg: Config) -> tuple[_Group, list[bytes]]:
    key = f"ledger-scenario-{cfg.entries}"
    if key not in cfg.cache:
        cfg.log(f"fold: making {cfg.entries} sealed, signed entries (untimed)")
        cfg.cache[key] = _build(cfg.entries)
    found: tuple[_Group, list[bytes]] = cfg.cache[key]
    return found


def _folded(cfg: Config) -> Ledger:
    key = f"ledger-folded-{cfg.entries}"
    if key not in cfg.cache:
        group, _p = _scenario(cfg)
        cfg.cache[key] = Ledger(group.keys).add_all(group.entries)
        cfg.cache[key].view()
    ledger: Ledger = cfg.cache[key]
    return ledger


@benchmark("fold")
def fold(cfg: Config) -> Figure:
    group, _proposals = _scenario(cfg)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        ledger = Ledger(group.keys).add_all(group.entries)
        ledger.view()
        best = min(best, time.perf_counter() - start)
    cfg.cache[f"ledger-folded-{cfg.entries}"] = ledger
    return Figure(len(group.entries) / best, "entries/s",
                  extra={"entries": len(group.entries)})


@benchmark("fold_update")
def fold_update(cfg: Config) -> Figure:
    group, proposals = _scenario(cfg)
    ledger = _folded(cfg)
    open_ids = [row["id"] for row in ledger.view()["proposals"] if row["status"] == "open"]
    rng = random.Random(0xAB)
    times = []
    for index in range(50):
        member = rng.randrange(MEMBERS)
        if index % 2 == 0 and open_ids:
            message: msg.Message = msg.Vote(proposals[-1], rng.choice(msg.CHOICES), "update")
        else:
            message = msg.Deposit(rng.randrange(100, 1000), "update")
        made = group.post(member, message)
        start = time.perf_counter()
        ledger.add(made)
        ledger.view()
        times.append(time.perf_counter() - start)
    times.sort()
    return Figure(1000 * times[len(times) // 2], "ms", extra={"entries": len(group.entries)})
