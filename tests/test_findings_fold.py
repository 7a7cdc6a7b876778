"""Regressions for the fold's findings: one test per finding, each failing on the old
fold (concurrent closes merged their cuts; a non-member's self-proposed admission made
their closes order decisions; a second feed with a lower key took an identity over; a
fork dropped everything after the fork point; a list as a message's type raised
``TypeError``) and passing now. Built in memory with ``ledger_builder``."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import msgpack
import pytest
from ledger_builder import Person, World, eid, kinds, row, warnings_of

from ssbmoney.core import content as msg
from ssbmoney.core import decide as decide_mod
from ssbmoney.core.entry import Entry, feed_id
from ssbmoney.core.group import seal
from ssbmoney.core.keys import keypair
from ssbmoney.core.ledger import MAX_JSON_INT, Ledger, honest_cut, state_hash
from ssbmoney.tui import words

# ------------------------------------------------------------------------ helpers


def sealed(w: World, who: Person, value: Any) -> bytes:
    """Any msgpack value, sealed with the group's key as ``who`` would seal it."""
    return seal(w.keys.content_key, who.feed_key, msgpack.packb(value))


def same_views(w: World, entries: list[Entry]) -> dict[str, Any]:
    """The one view of ``entries`` whatever the order, from scratch or one at a time
    (looking at the view after each)."""
    first = w.view(entries)
    assert first["state_hash"] == state_hash(first)
    rng = random.Random(99)
    orders = [list(entries), list(reversed(entries))]
    for _ in range(3):
        shuffled = list(entries)
        rng.shuffle(shuffled)
        orders.append(shuffled)
    for order in orders:
        assert w.view(order) == first
        led = w.ledger([])
        for item in order:
            led.add(item)
            led.view()
        assert led.view() == first
    return first


def check(w: World) -> dict[str, Any]:
    return same_views(w, w.entries)


def tui_words(view: dict[str, Any]) -> None:
    """Every row and warning through the TUI's wording: nothing may raise."""
    for proposal in view["proposals"]:
        assert isinstance(words.status(proposal), str)
        assert isinstance(words.tally(proposal), str)
        assert isinstance(words.voters(view, proposal), str)
        assert isinstance(words.turnout(view, proposal), str)
        assert isinstance(words.claimed(proposal["claimed_ms"]), str)
    for warning in view["warnings"]:
        assert isinstance(words.warning(view, warning), str)
    assert isinstance(words.money(view["balance"], view["currency"]), str)


def without_noise(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("warnings", "state_hash")}


def ints(value: Any) -> list[int]:
    """Every integer (not bool) anywhere in a JSON-like value."""
    if type(value) is int:
        return [value]
    if isinstance(value, dict):
        return [i for v in value.values() for i in ints(v)]
    if isinstance(value, list):
        return [i for v in value for i in ints(v)]
    return []


def second_feed(w: World, of: Person, name: str, lower: bool) -> Person:
    """Another feed of ``of``'s identity, joined validly (its key below or above the
    first feed's, as asked): appended to the world's people."""
    for n in range(1000):
        feed = keypair(hashlib.sha256(f"second feed {name} {n}".encode()).digest())
        if (feed.public < of.feed_key) == lower:
            break
    other = Person(name, of.identity, feed)
    w.people.append(other)
    signature = msg.sign_join(of.identity.secret, w.group, feed.public)
    w.write(other, msg.Join(of.identity.public, name, signature))
    return other


def heads(w: World, *people: Person) -> list[tuple[bytes, int, bytes]]:
    return [(p.feed_key, p.head, p.entries[-1].id) for p in people if p.head]


# --------------------------------------------------------------------- finding 01


@pytest.mark.parametrize("kind", [[1], {"a": 1}, [["vote"]], {b"k": [1, 2]}, 7, None, b"vote"])
def test_finding_01_a_message_type_that_is_not_text_is_bad_content(kind: Any) -> None:
    w = World(3)
    a, b, _c = w.people
    stranger = w.newcomer("zed")
    p = w.propose(a, 100, "lunch")
    w.vote(a, p, "yes")
    odd = [
        w.write_sealed(stranger, sealed(w, stranger, [kind, p.id, 0, ""])),
        w.write_sealed(b, sealed(w, b, [kind, p.id, 0, ""])),  # a member's too
        w.write_sealed(b, sealed(w, b, [kind])),
    ]
    for body in ([kind, p.id, 0, ""], [kind]):
        with pytest.raises(msg.BadContent):
            msg.parse(msgpack.packb(body))
    w.deposit(a, 50)
    view = check(w)
    assert all(warnings_of(view, x) == {"bad_content"} for x in odd)
    assert view["deposited"] == 50 and row(view, p)["yes"] == 1
    tui_words(view)
    # Through the Ledger itself, one entry at a time.
    led = Ledger(w.keys)
    for item in w.entries:
        led.add(item)
        tui_words(led.view())
    assert led.view() == view


# --------------------------------------------------------------------- finding 03


def test_finding_03_a_strangers_self_admission_and_inflated_close_change_nothing() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 1000)
    p = w.propose(a, 100, "tickets")
    for who in (a, b, c):
        w.vote(who, p, "yes")
    members_only = list(w.entries)
    x = w.newcomer("xavier")
    self_admit = w.propose(x, None, "let me in", add_member=x)
    w.vote(x, self_admit, "yes")
    w.vote(x, p, "block")
    inflated = {x: 10**6, a: 10**6, b: 10**6, c: 10**6}
    w.close(x, self_admit, cut=inflated)
    w.close(x, p, cut=inflated)           # closes first, naming made-up heads
    w.deposit(x, 10**6)
    w.spend(x, p, 99)
    strangers = [e for e in w.entries if e.author == x.feed_key]
    w.sync_all()
    close = w.close(b, p)                  # b saw x's close: still the first close
    view = same_views(w, [*members_only, *strangers, close])
    alone = same_views(w, [*members_only, close])
    assert without_noise(view) == without_noise(alone)
    assert x.id not in view["members"] and view["members"] == alone["members"]
    got = row(view, p)
    assert got["status"] == "approved" and got["block"] == 0 and got["yes"] == 3
    assert warnings_of(view, close) == set()
    assert not {"contested_close", "duplicate_close", "close_pending"} & kinds(view)
    with pytest.raises(KeyError):
        row(view, self_admit)
    flagged = {w["kind"] for w in view["warnings"] if w.get("entry") in
               {eid(e) for e in strangers if e.seq > 1}}
    assert flagged <= {"non_member", "admission_request"} and "non_member" in flagged


# --------------------------------------------------------------------- finding 04


def test_finding_04_a_second_close_leaving_out_a_seen_close_changes_nothing() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    q = w.propose(a, 10, "another")
    for who in (a, b, c):
        w.vote(who, p, "yes")
    w.sync_all()
    first = w.close(a, p)
    w.sync(a, b)
    w.close(b, q)                          # b's past now holds a's close of p
    w.vote(b, p, "no")
    w.vote(c, p, "no")
    # b's close of p names only b's own feed: a crafted cut leaving out a's close.
    crafted = w.write(b, msg.Close(p.id, tuple(heads(w, b))))
    again = w.write(a, msg.Close(p.id, ()))  # a closes p again, naming nothing
    view = check(w)
    got = row(view, p)
    assert got["status"] == "approved" and got["yes"] == 3 and got["no"] == 0
    assert warnings_of(view, crafted) == {"duplicate_close"}
    assert warnings_of(view, again) == {"duplicate_close"}
    assert warnings_of(view, first) == set()
    # c never saw a's close: its close on a crafted cut is a first close that
    # disagrees, so the proposal is rejected and both closes are named, never silent.
    named = sorted([*heads(w, c), (a.feed_key, p.seq, p.id)])  # the proposal, not a's vote
    late = w.write(c, msg.Close(p.id, tuple(named)))
    view = check(w)
    assert row(view, p)["status"] == "rejected"
    contested = [x for x in view["warnings"] if x["kind"] == "contested_close"]
    assert len(contested) == 1
    assert set(contested[0]["entries"]) == {eid(first), eid(late)}
    assert set(contested[0]["members"]) == {a.id, c.id}


def test_finding_04_a_cut_naming_a_made_up_head_is_pending_and_counts_nothing() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.sync_all()
    pending = w.close(a, p, cut={a: a.head, b: 10**9, c: c.head})
    w.vote(b, p, "yes")                    # later votes: the pending close counts none
    w.vote(c, p, "yes")
    w.vote(a, p, "no")                     # after a's pending close: no honest cut names it
    view = check(w)
    assert row(view, p)["status"] == "open"
    assert warnings_of(view, pending) == {"close_pending"}
    led = w.ledger()
    led.view()
    assert led.deciding is not None and pending.id not in led.deciding.decisions
    # Everyone else's honest cut stops before the pending close: theirs decide.
    cut = honest_cut(led, p.id, c.feed_key)
    assert all(h[0] != a.feed_key or h[1] < pending.seq for h in cut)
    decided = w.write(c, msg.Close(p.id, cut))
    view = check(w)
    assert row(view, p)["status"] == "approved" and row(view, p)["yes"] == 3
    assert row(view, p)["votes"][a.id] == "yes"
    assert warnings_of(view, pending) == {"close_pending"}
    assert warnings_of(view, decided) == set()


def test_finding_04_a_decided_close_stays_decided() -> None:
    w = World(4)
    a, b, c, d = w.people
    p = w.propose(a, 100)
    for who in (a, b, c):
        w.vote(who, p, "yes")
    w.sync_all()
    close = w.close(a, p)
    before = w.ledger()
    view = before.view()
    assert before.deciding is not None
    decision = before.deciding.decisions[close.id]
    assert row(view, p)["status"] == "approved"
    # Later: changed votes, closes that saw it, a crafted one that did not, a fork of a
    # voter and a second feed of another.
    for who in (a, b, c, d):
        w.vote(who, p, "no")
    w.sync_all()
    w.close(d, p)
    w.close(b, p, cut={b: b.head})
    other = w.branch(c, c.head, [msg.Vote(p.id, "block", "")])
    extra = second_feed(w, d, "dee", lower=True)
    w.vote(extra, p, "block")
    after = w.ledger([*w.entries, *other])
    view = after.view()
    assert after.deciding is not None
    assert after.deciding.decisions[close.id] == decision
    assert row(view, p)["status"] == "approved" and row(view, p)["yes"] == 3
    assert row(view, p)["votes"][a.id] == "yes"
    assert warnings_of(view, close) == set()


# --------------------------------------------------------------------- finding 05


def test_finding_05_strangers_feeds_grow_no_cut_and_trigger_no_redecision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 500)
    p = w.propose(a, 100)
    for who in (a, b, c):
        w.vote(who, p, "yes")
    strangers = [w.newcomer(f"stranger{k}") for k in range(2000)]
    w.sync_all()
    led = w.ledger()
    view = led.view()
    cut = honest_cut(led, p.id, a.feed_key)
    member_feeds = {b.feed_key, c.feed_key}
    assert {h[0] for h in cut} == member_feeds
    close = w.write(a, msg.Close(p.id, cut))
    assert len(close.raw) < 4096  # far under an entry's 64 KiB
    member_entries = sum(len(x.entries) for x in (a, b, c))
    assert view["entries"] == member_entries - 1  # the close came after this view
    assert w.view()["entries"] == member_entries
    # A stranger's entries never make the fold decide everything again.
    calls = [0]
    original = decide_mod.Deciding.__init__

    def counted(self: decide_mod.Deciding, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(decide_mod.Deciding, "__init__", counted)
    led.add(close)
    led.view()
    assert calls[0] == 1  # a member's close: decided again, once
    z = strangers[7]
    admit = w.propose(z, None, "me", add_member=z)
    written = [
        w.deposit(z, 10), admit, w.vote(z, p, "block"), w.vote(z, admit, "yes"),
        w.close(z, admit, cut={z: 10**6, a: 10**6}), w.close(z, p, cut={a: a.head}),
        w.write_sealed(z, sealed(w, z, [[1], "junk"])),
        w.write_sealed(strangers[8], sealed(w, strangers[8], ["deposit", 5, ""])),
    ]
    for item in written:
        led.add(item)
        assert led._causal is False
        view = led.view()
    assert calls[0] == 1
    assert view["entries"] == member_entries and row(view, p)["block"] == 0
    theirs = [x for x in w.entries if x.author in {a.feed_key, b.feed_key, c.feed_key}]
    assert without_noise(view) == without_noise(w.view(theirs))


# --------------------------------------------------------------------- finding 06


def test_finding_06_sealed_sizes_tell_nothing() -> None:
    w = World(3)
    a = w.founder
    key, feed, pid = w.keys.content_key, a.feed_key, b"\x01" * 32

    def size(message: msg.Message) -> int:
        return len(seal(key, feed, msg.encode(message)))

    votes = {size(msg.Vote(pid, choice, "")) for choice in msg.CHOICES}
    assert len(votes) == 1
    signature = msg.sign_join(a.identity.secret, w.group, feed)
    short = {
        "vote": size(msg.Vote(pid, "block", "")),
        "withdraw": size(msg.Withdraw(pid)),
        "deposit": size(msg.Deposit(MAX_JSON_INT, "rent for May")),
        "small deposit": size(msg.Deposit(1, "")),
        "spend": size(msg.Spend(pid, 12_345, "the shop", "receipt 42")),
        "reverse": size(msg.Reverse(pid, "typo")),
        "join": size(msg.Join(a.identity.public, "ann", signature)),
    }
    assert len(set(short.values())) == 1, short


# --------------------------------------------------------------------- finding 07


@pytest.mark.parametrize("lower", [True, False], ids=["lower-key", "higher-key"])
def test_finding_07_a_second_feed_keeps_its_money_and_mutes_only_where_seen(
    lower: bool,
) -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(b, 100)
    p = w.propose(a, 50)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.sync_all()
    approved_without = w.close(a, p, cut={a: a.head, b: b.head})  # saw one feed of b
    extra = second_feed(w, b, "bob-too", lower)
    w.deposit(extra, 1000)
    w.spend(extra, p, 30)
    w.spend(b, p, 20)
    view = check(w)
    assert view["deposited"] == 1100 and view["spent"] == 50
    assert b.id in view["members"]
    assert {"kind": "second_feed", "feed": feed_id(extra.feed_key), "member": b.id} \
        in view["warnings"]
    assert {"kind": "second_feed", "feed": feed_id(b.feed_key), "member": b.id} \
        in view["warnings"]
    got = row(view, p)
    assert got["status"] == "approved" and b.id in got["votes"]  # decided without it
    assert warnings_of(view, approved_without) == set()
    # A close whose cut names both feeds mutes b's votes in it.
    q = w.propose(a, 10)
    w.vote(a, q, "yes")
    w.vote(b, q, "yes")
    w.vote(c, q, "yes")
    w.sync_all()
    w.close(c, q)
    view = check(w)
    assert b.id not in row(view, q)["votes"] and row(view, q)["yes"] == 2


def test_finding_07_a_fork_keeps_both_branches_money_and_names_the_member() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(b, 100)
    fork_seq = b.head + 1
    w.deposit(b, 200)
    p = w.propose(a, 40)
    for who in (a, b, c):
        w.vote(who, p, "yes")
    w.sync_all()
    w.close(a, p)
    w.spend(b, p, 40)
    other = w.branch(b, fork_seq, [msg.Deposit(7, "other"), msg.Spend(p.id, 3, "", ""),
                                   msg.Deposit(9, "after the fork")])
    view = same_views(w, [*w.entries, *other])
    assert view["deposited"] == 100 + 200 + 7 + 9 and view["spent"] == 43
    assert row(view, p)["status"] == "approved" and row(view, p)["spent"] == 43
    fork = [x for x in view["warnings"] if x["kind"] == "fork"]
    assert fork == [{"kind": "fork", "feed": feed_id(b.feed_key), "member": b.id,
                     "seq": fork_seq}]
    assert all("member" in x for x in view["warnings"]
               if x["kind"] in ("fork", "second_feed", "duplicate_close",
                                "close_pending", "invalid_close"))


# --------------------------------------------------------------------- finding 13


def test_finding_13_totals_past_2_53_are_flagged_and_clamped() -> None:
    w = World(3)
    a, b, c = w.people
    top = MAX_JSON_INT
    w.deposit(a, top)
    w.deposit(b, top)
    w.deposit(c, top)
    p = w.propose(a, top)
    q = w.propose(b, top)
    for prop in (p, q):
        for who in (a, b, c):
            w.vote(who, prop, "yes")
    w.sync_all()
    w.close(a, p)
    w.close(a, q)
    w.spend(c, p, 5)
    for _ in range(3):
        w.spend(c, b"\x09" * 32, top)      # unapproved: counted and flagged
    view = check(w)
    assert all(-top <= i <= top for i in ints(view))
    overflow = {x["figure"] for x in view["warnings"] if x["kind"] == "total_overflow"}
    assert {"deposited", "spent", "committed"} <= overflow
    assert view["deposited"] == top and view["spent"] == top
    assert view["committed"] == top
    for x in view["warnings"]:
        if x["kind"] == "total_overflow":
            assert x["feed"].startswith("@")


def test_an_invite_holder_asking_many_times_asks_once() -> None:
    """A stranger who writes many requests to be admitted shows as one request (the
    TUI lists requests among the open proposals: no flood of them)."""
    w = World(3)
    zed = w.newcomer("zed")
    asks = [w.propose(zed, None, f"admit me {n}", add_member=zed) for n in range(20)]
    view = w.view()
    requests = [x for x in view["warnings"] if x["kind"] == "admission_request"]
    assert len(requests) == 1 and requests[0]["member"] == zed.id
    assert requests[0]["entry"] == min(eid(a) for a in asks)
