"""An in-memory builder of a group's feeds, for the fold's tests: no disk, no clock.

A ``World`` holds people with fixed-seed keys (an identity key pair and a feed key
pair each). The founder's feed starts with a Join and a Found; everybody else's feed
starts with a valid Join (or, on request, none or a forged one). Every action signs a
correctly chained entry with sealed content and returns it.

Each person tracks the feed heads they have *seen* (their own, and what ``sync``
shared with them); a ``close`` names those heads as its cut unless told otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ssbmoney.core import content as msg
from ssbmoney.core import entry as entry_mod
from ssbmoney.core.entry import Entry, entry_id, feed_id
from ssbmoney.core.group import GroupKeys, group_keys, seal
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.core.ledger import Ledger

SECRET = hashlib.sha256(b"ledger-builder group secret").digest()
OTHER_KEY = hashlib.sha256(b"ledger-builder some other group's content key").digest()
STAMP = 1_700_000_000_000
NAMES = ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal")

Ref = Entry | bytes


def _seed(kind: str, name: str) -> bytes:
    return hashlib.sha256(f"ledger-builder {kind} {name}".encode()).digest()


def ref(item: Ref) -> bytes:
    """The entry hash of an Entry (or the hash itself)."""
    return item.id if isinstance(item, Entry) else item


def eid(item: Ref) -> str:
    """The ``%...sha256`` id the view uses."""
    return entry_id(ref(item))


@dataclass(eq=False)
class Person:
    name: str
    identity: KeyPair
    feed: KeyPair
    entries: list[Entry] = field(default_factory=list)
    seen: dict[bytes, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The member id the view uses (``@<identity>.ed25519``)."""
        return feed_id(self.identity.public)

    @property
    def feed_key(self) -> bytes:
        return self.feed.public

    @property
    def head(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Person({self.name})"


def person(name: str) -> Person:
    return Person(name, keypair(_seed("identity", name)), keypair(_seed("feed", name)))


class World:
    """One group: founder ``people[0]``, founding members, and any later people."""

    def __init__(
        self,
        members: int | Iterable[str] = 3,
        *,
        threshold: int = 50,
        quorum: int | None = None,
        block_vetoes: bool = True,
        currency: str = "EUR",
        name: str = "Pot",
        joins: Mapping[str, str] | None = None,
    ) -> None:
        """``members`` founding members (the first founds); ``joins`` may name, per
        member, how their feed starts: ``valid`` (default), ``forged`` or ``none``."""
        names = list(NAMES[:members]) if isinstance(members, int) else list(members)
        self.people: list[Person] = [person(n) for n in names]
        self.founder = self.people[0]
        self.keys: GroupKeys = group_keys(SECRET, self.founder.feed.public)
        self.group = self.keys.group_id
        self.clock = 0
        self.log: list[Entry] = []  # every appended entry, in the order written
        self._join(self.founder)
        self.found = self.write(self.founder, msg.Found(
            name, currency, tuple(p.identity.public for p in self.people[1:]),
            threshold, quorum, block_vetoes,
        ))
        for p in self.people[1:]:
            self._start(p, (joins or {}).get(p.name, "valid"))

    # ------------------------------------------------------------------ people

    def newcomer(self, name: str, join: str = "valid") -> Person:
        """A person who is not a founding member. ``join``: valid, forged or none."""
        p = person(name)
        self.people.append(p)
        self._start(p, join)
        return p

    def _start(self, p: Person, join: str) -> None:
        if join == "valid":
            self._join(p)
        elif join == "forged":
            # Signed by the identity, but for another feed key: not a valid join.
            signature = msg.sign_join(p.identity.secret, self.group, bytes(32))
            self.write(p, msg.Join(p.identity.public, p.name, signature))
        elif join != "none":
            raise ValueError(join)

    def _join(self, p: Person) -> Entry:
        signature = msg.sign_join(p.identity.secret, self.group, p.feed.public)
        return self.write(p, msg.Join(p.identity.public, p.name, signature))

    # ------------------------------------------------------------------ writing

    def write_sealed(self, who: Person, sealed: bytes) -> Entry:
        """Append already sealed content to ``who``'s feed."""
        self.clock += 1
        seq = who.head + 1
        previous = who.entries[-1].id if who.entries else None
        made = entry_mod.create(
            who.feed.secret, who.feed.public, self.group, seq, previous,
            STAMP + self.clock, sealed,
        )
        who.entries.append(made)
        self.log.append(made)
        who.seen[who.feed.public] = seq
        return made

    def write(self, who: Person, message: msg.Message) -> Entry:
        return self.write_sealed(who, seal(self.keys.content_key, who.feed.public,
                                           msg.encode(message)))

    def unreadable(self, who: Person, message: msg.Message) -> Entry:
        """An entry whose content is sealed with a key this group does not have."""
        return self.write_sealed(who, seal(OTHER_KEY, who.feed.public, msg.encode(message)))

    def fork(self, who: Person, seq: int, message: msg.Message) -> Entry:
        """A second, validly signed entry at ``seq`` of ``who``'s feed (not appended)."""
        previous = who.entries[seq - 2].id if seq > 1 else None
        self.clock += 1
        return entry_mod.create(
            who.feed.secret, who.feed.public, self.group, seq, previous, STAMP + self.clock,
            seal(self.keys.content_key, who.feed.public, msg.encode(message)),
        )

    def branch(self, who: Person, seq: int, messages: list[msg.Message]) -> list[Entry]:
        """A second branch of ``who``'s feed from ``seq`` on: validly signed entries
        chained to the entry before ``seq`` (not appended: ``who`` keeps branch one)."""
        previous = who.entries[seq - 2].id if seq > 1 else None
        made = []
        for offset, message in enumerate(messages):
            self.clock += 1
            entry = entry_mod.create(
                who.feed.secret, who.feed.public, self.group, seq + offset, previous,
                STAMP + self.clock,
                seal(self.keys.content_key, who.feed.public, msg.encode(message)),
            )
            made.append(entry)
            previous = entry.id
        return made

    # ------------------------------------------------------------------ actions

    def deposit(self, who: Person, amount: int, note: str = "") -> Entry:
        return self.write(who, msg.Deposit(amount, note))

    def propose(
        self,
        who: Person,
        amount: int | None,
        title: str = "a proposal",
        *,
        payee: str = "",
        category: str = "",
        closes_ms: int | None = None,
        add_member: Person | bytes | None = None,
    ) -> Entry:
        added = add_member.identity.public if isinstance(add_member, Person) else add_member
        if added is not None:
            amount = None  # an admission carries no amount
        return self.write(who, msg.Proposal(title, amount, payee, category, closes_ms, added))

    def vote(self, who: Person, proposal: Ref, choice: str, comment: str = "") -> Entry:
        return self.write(who, msg.Vote(ref(proposal), choice, comment))

    def close(
        self,
        who: Person,
        proposal: Ref,
        cut: Mapping[Person | bytes, int] | Iterable[tuple[bytes, int]] | None = None,
    ) -> Entry:
        """Close on the heads ``who`` has seen, or on ``cut`` (feed -> sequence); each
        head is named with its entry id, as a cut does."""
        if cut is None:
            heads = dict(who.seen)
        elif isinstance(cut, Mapping):
            heads = {(k.feed.public if isinstance(k, Person) else k): s for k, s in cut.items()}
        else:
            heads = dict(cut)
        return self.write(who, msg.Close(ref(proposal), tuple(sorted(
            (feed, seq, self.id_at(feed, seq)) for feed, seq in heads.items() if seq > 0))))

    def id_at(self, feed: bytes, seq: int) -> bytes:
        """The id of the entry at ``seq`` of a feed (a made-up id beyond its head)."""
        for p in self.people:
            if p.feed.public == feed and 0 < seq <= p.head:
                return p.entries[seq - 1].id
        return hashlib.sha256(b"no such entry" + feed + seq.to_bytes(8, "big")).digest()

    def spend(
        self, who: Person, proposal: Ref, amount: int, payee: str = "", note: str = ""
    ) -> Entry:
        return self.write(who, msg.Spend(ref(proposal), amount, payee, note))

    def withdraw(self, who: Person, proposal: Ref) -> Entry:
        return self.write(who, msg.Withdraw(ref(proposal)))

    def reverse(self, who: Person, target: Ref, note: str = "") -> Entry:
        return self.write(who, msg.Reverse(ref(target), note))

    # ---------------------------------------------------------------- knowledge

    def sync(self, a: Person, b: Person) -> None:
        """``a`` and ``b`` share every head either has seen."""
        merged = dict(a.seen)
        for feed, seq in b.seen.items():
            merged[feed] = max(seq, merged.get(feed, 0))
        a.seen = dict(merged)
        b.seen = dict(merged)

    def sync_all(self) -> None:
        for p in self.people:
            p.seen = {q.feed.public: q.head for q in self.people if q.head}

    # ------------------------------------------------------------------ folding

    @property
    def entries(self) -> list[Entry]:
        return [e for p in self.people for e in p.entries]

    def ledger(self, entries: Iterable[Entry] | None = None,
               forks: Iterable[tuple[bytes, int]] = ()) -> Ledger:
        led = Ledger(self.keys)
        led.add_all(self.entries if entries is None else entries)
        return led

    def view(self, entries: Iterable[Entry] | None = None,
             forks: Iterable[tuple[bytes, int]] = ()) -> dict[str, Any]:
        return self.ledger(entries, forks).view()


# ---------------------------------------------------------------- view helpers


def row(view: dict[str, Any], proposal: Ref) -> dict[str, Any]:
    """The proposal's row in the view (KeyError when it is not shown)."""
    wanted = eid(proposal)
    rows: list[dict[str, Any]] = view["proposals"]
    for item in rows:
        if item["id"] == wanted:
            return item
    raise KeyError(wanted)


def warnings_of(view: dict[str, Any], about: Ref | Person) -> set[str]:
    """The kinds of warning the view holds about one entry (or one person's feed)."""
    if isinstance(about, Person):
        target = ("feed", feed_id(about.feed.public))
    else:
        target = ("entry", eid(about))
    return {w["kind"] for w in view["warnings"] if w.get(target[0]) == target[1]}


def kinds(view: dict[str, Any]) -> set[str]:
    return {w["kind"] for w in view["warnings"]}


def incremental(w: World, entries: list[Entry]) -> dict[str, Any]:
    """The view after adding ``entries`` one at a time, looking at the view each time
    (as a home that takes them in by import or sync does)."""
    led = w.ledger([])
    for item in entries:
        led.add(item)
        led.view()
    return led.view()


def approved_then_spent(w: World) -> Entry:
    """In a three-member world: b deposits 500 and votes yes on a's proposal, which a
    closes approved; b spends 100 against it and 10,000 more (unapproved). Returns the
    proposal: a member with money records and a counted vote, for attacks to aim at."""
    a, b = w.people[0], w.people[1]
    w.deposit(b, 500)
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.sync_all()
    w.close(a, p)
    w.spend(b, p, 100)
    w.spend(b, p, 10_000, note="not approved")
    return p
