"""Properties of the fold against hostile input, in CI's time (see ``ledger_builder``):

a. any msgpack value at all, sealed by a member or a stranger, is at worst
   ``bad_content``: the parser raises only ``BadContent``, the fold and the TUI's
   wording nothing;
b. strangers' entries that no member's entry names change no figure, no outcome, no
   membership, not even the entry count;
c. nothing written later changes a close's own decision;
d. arrival order (at once, one by one looking at the view after each) never changes
   the state hash.

Scenarios come from a seeded random (a failure names its seed): hypothesis' own draws
crowd at the edges, where proposals stay undecided.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_builder import STAMP, Person, World

from ssbmoney.core import content as msg
from ssbmoney.core import entry as entry_mod
from ssbmoney.core.entry import Entry
from ssbmoney.core.group import seal
from ssbmoney.core.keys import keypair
from ssbmoney.core.ledger import Ledger, state_hash
from ssbmoney.tui import words

CHOICES = ("yes", "yes", "yes", "no", "abstain", "block")
TYPES = ("join", "found", "deposit", "proposal", "vote", "close", "spend", "withdraw",
         "reverse")


def quick(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def detached(w: World, who: Person, sealed: bytes) -> Entry:
    """A validly signed next entry of ``who``'s feed, not appended (``w`` unchanged)."""
    return entry_mod.create(who.feed.secret, who.feed.public, w.group, who.head + 1,
                            who.entries[-1].id if who.entries else None, STAMP, sealed)


def tui_words(view: dict[str, Any]) -> None:
    for proposal in view["proposals"]:
        words.status(proposal)
        words.tally(proposal)
        words.voters(view, proposal)
        words.turnout(view, proposal)
        words.claimed(proposal["claimed_ms"])
    for warning in view["warnings"]:
        words.warning(view, warning)
    words.money(view["balance"], view["currency"])


def without_noise(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("warnings", "state_hash")}


# ------------------------------------------------------------- a: any content


_BASE: dict[str, Any] = {}


def base_world() -> tuple[World, list[Entry], bytes]:
    """One small group with a decided and an open proposal, and a stranger (built
    once: examples only add detached entries to it)."""
    if not _BASE:
        w = World(3)
        a, b, c = w.people
        w.newcomer("zed")
        w.deposit(a, 1000)
        p = w.propose(a, 100, "decided")
        for who in (a, b, c):
            w.vote(who, p, "yes")
        w.sync_all()
        w.close(b, p)
        open_one = w.propose(b, 5, "open")
        w.vote(c, open_one, "no")
        _BASE.update(world=w, entries=list(w.entries), pid=open_one.id)
    return _BASE["world"], _BASE["entries"], _BASE["pid"]


_KEY = st.one_of(st.binary(min_size=32, max_size=32), st.just(b"\x07" * 32))
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.integers(-3, 2**53 + 3), st.floats(), st.text(max_size=30), st.binary(max_size=70),
    _KEY, st.sampled_from(TYPES),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=12)),
    st.builds(msgpack.Timestamp, st.integers(0, 2**34 - 1), st.integers(0, 999_999_999)),
)
_MAP_KEYS = st.one_of(st.text(max_size=8), st.binary(max_size=8), st.integers(-9, 9),
                      st.booleans(), st.none(), st.floats(allow_nan=False))
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(_MAP_KEYS, inner, max_size=4)),
    max_leaves=24,
)
BODIES = st.one_of(
    VALUES,
    # A message's shape: a type (known, or anything at all), then any fields.
    st.builds(lambda kind, rest: [kind, *rest],
              st.one_of(st.sampled_from(TYPES), VALUES), st.lists(VALUES, max_size=8)),
)


@quick(500)
@given(BODIES, st.booleans())
def test_any_msgpack_content_is_at_worst_bad_content(body: Any, raw: bool) -> None:
    w, entries, pid = base_world()
    data = msgpack.packb(body) if not raw else msgpack.packb(body)[:-1]  # cut short too
    try:
        msg.parse(data)
    except msg.BadContent:
        pass
    member, stranger = w.people[1], w.people[3]
    led = Ledger(w.keys)
    led.add_all(entries)
    before = led.view()
    for who in (member, stranger):
        led.add(detached(w, who, seal(w.keys.content_key, who.feed_key, data)))
        view = led.view()
        assert view["state_hash"] == state_hash(view)
        tui_words(view)
    whole = Ledger(w.keys)
    whole.add_all([*entries, *(detached(w, who, seal(w.keys.content_key, who.feed_key, data))
                               for who in (member, stranger))])
    assert whole.view() == view
    # The stranger's entry changes no figure; a member's may (it might be well formed).
    assert before["members"] == view["members"] and pid


# ---------------------------------------------------------- b: strangers


def members_world(rng: random.Random) -> World:
    """A group whose members deposit, propose, vote, admit a newcomer and close."""
    w = World(rng.randint(2, 4))
    members = list(w.people)
    new = w.newcomer("new")
    proposals = []
    for _ in range(rng.randint(3, 16)):
        who = rng.choice(members)
        roll = rng.random()
        if roll < 0.1:
            w.deposit(who, rng.randint(1, 5000))
        elif roll < 0.25 or not proposals:
            admit = rng.random() < 0.25
            proposals.append(w.propose(who, rng.randint(1, 900),
                                       add_member=new if admit else None))
        elif roll < 0.45:  # a burst: most members vote on the newest proposal
            for voter in rng.sample(members, rng.randint(1, len(members))):
                w.vote(voter, proposals[-1], rng.choice(CHOICES))
        elif roll < 0.65:
            w.vote(who, rng.choice(proposals), rng.choice(CHOICES))
        elif roll < 0.75:
            w.sync(who, rng.choice(members))
        elif roll < 0.9:
            w.sync_all()
            w.close(who, rng.choice(proposals))
        else:
            w.spend(who, rng.choice(proposals), rng.randint(1, 500))
    return w


STRANGER_ACTIONS = ("vote", "close", "propose", "admit_self", "admit_other", "deposit",
                    "spend", "reverse", "withdraw", "garbage", "unreadable", "fork",
                    "second_feed")


def random_cut(w: World, rng: random.Random) -> tuple[tuple[bytes, int, bytes], ...]:
    """Heads of some feeds: real, inflated, at the wrong place or made up."""
    heads = []
    for p in rng.sample(w.people, rng.randint(0, len(w.people))):
        if not p.head:
            continue
        roll = rng.random()
        if roll < 0.4:
            seq = rng.randint(1, p.head)
            heads.append((p.feed_key, seq, p.entries[seq - 1].id))
        elif roll < 0.6:
            heads.append((p.feed_key, rng.choice([10**6, 10**9, p.head + 1]),
                          rng.randbytes(32)))
        elif roll < 0.8:  # an id held, named at another place
            other = rng.choice(w.entries)
            heads.append((p.feed_key, rng.randint(1, p.head + 3), other.id))
        else:
            heads.append((p.feed_key, rng.randint(1, 2**53 - 1), rng.randbytes(32)))
    return tuple(sorted(set(heads)))


def stranger_acts(w: World, strangers: list[Person], steps: list[tuple[str, int]],
                  ) -> list[Entry]:
    """Strangers write; returns every entry they made (branches included)."""
    made: list[Entry] = []
    proposals = [e.id for e in w.entries if isinstance(_message(w, e), msg.Proposal)]
    proposals.append(b"\x03" * 32)
    for action, seed in steps:
        rng = random.Random(seed)
        x = rng.choice(strangers)
        pid = rng.choice(proposals)
        if action == "vote":
            made.append(w.vote(x, pid, rng.choice(msg.CHOICES)))
        elif action == "close":
            made.append(w.write(x, msg.Close(pid, random_cut(w, rng))))
        elif action == "propose":
            made.append(w.propose(x, rng.randint(1, 10**6)))
        elif action in ("admit_self", "admit_other"):
            target = x if action == "admit_self" else rng.choice(w.people)
            made.append(w.propose(x, None, add_member=target))
        elif action == "deposit":
            made.append(w.deposit(x, rng.randint(1, 2**53 - 1)))
        elif action == "spend":
            made.append(w.spend(x, pid, rng.randint(1, 2**53 - 1)))
        elif action == "reverse":
            made.append(w.reverse(x, rng.choice(w.entries)))
        elif action == "withdraw":
            made.append(w.withdraw(x, pid))
        elif action == "garbage":
            made.append(w.write_sealed(x, seal(w.keys.content_key, x.feed_key,
                                               rng.randbytes(rng.randint(0, 60)))))
        elif action == "unreadable":
            made.append(w.unreadable(x, msg.Deposit(5, "")))
        elif action == "fork" and x.head >= 2:
            seq = rng.randint(2, x.head)
            made.extend(w.branch(x, seq, [msg.Vote(pid, "yes", ""), msg.Close(pid, ())]))
        elif action == "second_feed":
            other = another_feed(w, x, f"{x.name}-{seed}")
            made.extend(other.entries)
            made.append(w.vote(other, pid, "block"))
        if made and isinstance(_message(w, made[-1]), msg.Proposal):
            proposals.append(made[-1].id)
    return made


def _message(w: World, item: Entry) -> msg.Message | None:
    led = Ledger(w.keys)
    led.add(item)
    return led.items[item.id].message


def another_feed(w: World, of: Person, name: str) -> Person:
    """A second feed of ``of``'s identity, validly joined and appended to the world."""
    feed = keypair(hashlib.sha256(f"another feed {name}".encode()).digest())
    other = Person(name, of.identity, feed)
    w.people.append(other)
    signature = msg.sign_join(of.identity.secret, w.group, feed.public)
    w.write(other, msg.Join(of.identity.public, name, signature))
    return other


@quick(300)
@given(st.integers(0, 2**32 - 1),
       st.lists(st.tuples(st.sampled_from(STRANGER_ACTIONS), st.integers(0, 2**32 - 1)),
                min_size=1, max_size=10))
def test_strangers_entries_change_no_figure_and_no_outcome(
    seed: int, steps: list[tuple[str, int]]
) -> None:
    w = members_world(random.Random(seed))
    members_only = list(w.entries)
    strangers = [w.newcomer("xavier"), w.newcomer("yolanda")]
    theirs = [e for s in strangers for e in s.entries]
    theirs += stranger_acts(w, strangers, steps)
    alone = w.view(members_only)
    both = w.view([*members_only, *theirs])
    assert without_noise(both) == without_noise(alone)
    assert both["entries"] == alone["entries"]


# ---------------------------------------------------------- c: decisions stay


def later_acts(w: World, rng: random.Random, steps: int) -> list[Entry]:
    """Anyone writes more: votes, closes (honest, crafted, by strangers), a fork branch
    of a member, a second feed of a member, strangers' entries. Returns entries not in
    ``w.entries`` (fork branches)."""
    extra: list[Entry] = []
    members = [p for p in w.people if p.name != "new"]
    stranger = w.newcomer(f"s{rng.randrange(10**6)}")
    proposals = [e.id for e in w.entries if isinstance(_message(w, e), msg.Proposal)]
    for _ in range(steps):
        roll = rng.random()
        who = rng.choice(w.people)
        if not proposals:
            proposals.append(w.propose(who, 10).id)
        pid = rng.choice(proposals)
        if roll < 0.35:
            w.vote(who, pid, rng.choice(msg.CHOICES))
        elif roll < 0.5:
            w.sync(who, rng.choice(w.people))
            w.close(who, pid)
        elif roll < 0.62:
            w.write(who, msg.Close(pid, random_cut(w, rng)))
        elif roll < 0.7:
            w.sync_all()
        elif roll < 0.78:
            victim = rng.choice(members)
            if victim.head >= 2:
                seq = rng.randint(2, victim.head)
                extra.extend(w.branch(victim, seq, [
                    msg.Vote(pid, rng.choice(msg.CHOICES), ""),
                    msg.Close(pid, random_cut(w, rng)),
                ]))
        elif roll < 0.84:
            victim = rng.choice(members)
            other = another_feed(w, victim, f"{victim.name}-{rng.randrange(10**6)}")
            w.vote(other, pid, rng.choice(msg.CHOICES))
            w.sync_all()
            w.close(other, pid)
        elif roll < 0.92:
            w.write(stranger, msg.Close(pid, random_cut(w, rng)))
        else:
            proposals.append(w.propose(who, None, add_member=rng.choice(w.people)).id)
    return extra


@quick(300)
@given(st.integers(0, 2**32 - 1), st.integers(1, 14))
def test_nothing_written_later_changes_a_closes_decision(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    w = members_world(rng)
    before = w.ledger()
    before.view()
    assert before.deciding is not None
    decided = dict(before.deciding.decisions)
    states = dict(before.deciding.pasts.state)
    extra = later_acts(w, rng, steps)
    after = w.ledger([*w.entries, *extra])
    after.view()
    assert after.deciding is not None
    for close_id, decision in decided.items():
        assert after.deciding.decisions.get(close_id) == decision, close_id.hex()
    for close_id, state in states.items():
        if state != "pending":
            assert after.deciding.pasts.state.get(close_id) == state, close_id.hex()


# ---------------------------------------------------------- d: arrival order


@quick(300)
@given(st.integers(0, 2**32 - 1), st.integers(0, 10), st.randoms(use_true_random=False))
def test_arrival_order_never_changes_the_state_hash(
    seed: int, steps: int, shuffle: random.Random
) -> None:
    rng = random.Random(seed)
    w = members_world(rng)
    extra = later_acts(w, rng, steps)
    entries = [*w.entries, *extra]
    whole = w.view(entries)
    assert whole["state_hash"] == state_hash(whole)
    order = list(entries)
    shuffle.shuffle(order)
    order += [order[k] for k in range(0, len(order), 7)]  # some arrive twice
    assert w.view(order)["state_hash"] == whole["state_hash"]
    led = Ledger(w.keys)
    for item in order:
        led.add(item)
        led.view()
    assert led.view()["state_hash"] == whole["state_hash"]
    assert led.view() == whole
