"""The fold's rules, one scenario each, built in memory (see ``ledger_builder``)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from ledger_builder import Person, World, eid, kinds, row, warnings_of

from ssbmoney.core import content as msg
from ssbmoney.core.entry import Entry, feed_id
from ssbmoney.core.ledger import state_hash


def decide(
    w: World, proposal: Entry, votes: dict[Person, str], closer: Person | None = None
) -> dict[str, Any]:
    """Everybody votes, everybody syncs, one member closes: the proposal's row."""
    for who, choice in votes.items():
        w.vote(who, proposal, choice)
    w.sync_all()
    w.close(closer or w.founder, proposal)
    return row(check(w), proposal)


def ballot(people: list[Person], *choices: str) -> dict[Person, str]:
    return dict(zip(people, choices, strict=False))


def same_views(w: World, entries: list[Entry], forks: list[tuple[bytes, int]] = ()) -> dict:
    """Fold ``entries`` in several orders, from scratch and one at a time (looking at
    the view after each): all must give the one view. Returns it."""
    first = w.view(entries, forks)
    assert first["state_hash"] == state_hash(first)
    rng = random.Random(1234)
    written = {x.id: k for k, x in enumerate(w.log)}
    orders = [
        sorted(entries, key=lambda x: written.get(x.id, len(written))),  # as written
        list(reversed(entries)),
    ]
    for _ in range(4):
        shuffled = list(entries)
        rng.shuffle(shuffled)
        orders.append(shuffled)
    for order in orders:
        assert w.view(order, forks) == first
        led = w.ledger([], forks)
        for item in order:
            led.add(item)
            led.view()
        assert led.view() == first
    return first


def check(w: World) -> dict:
    """The view of everything ``w`` wrote, the same whatever the order of arrival."""
    return same_views(w, w.entries)


# --------------------------------------------------------------------- threshold


@pytest.mark.parametrize(
    ("threshold", "choices", "status"),
    [
        (60, ("yes", "yes", "yes", "no", "no"), "approved"),   # 300 >= 60 * 5
        (60, ("yes", "yes", "no", "no"), "rejected"),          # 200 < 60 * 4
        (50, ("yes", "yes", "no", "no"), "approved"),          # 200 >= 50 * 4
        (61, ("yes", "yes", "yes", "no", "no"), "rejected"),   # 300 < 61 * 5
        (100, ("yes", "yes", "yes", "yes", "no"), "rejected"),
        (100, ("yes", "yes", "yes"), "approved"),
        (1, ("yes", "no", "no", "no", "no"), "approved"),
    ],
)
def test_threshold(threshold: int, choices: tuple[str, ...], status: str) -> None:
    w = World(5, threshold=threshold)
    p = w.propose(w.people[1], 1000)
    got = decide(w, p, ballot(w.people, *choices))
    assert got["status"] == status
    assert got["yes"] == choices.count("yes") and got["no"] == choices.count("no")


# ------------------------------------------------------------------------ quorum


@pytest.mark.parametrize(
    ("members", "quorum", "voters", "status"),
    [
        (5, None, 2, "rejected"),   # default quorum: more than half of 5 is 3
        (5, None, 3, "approved"),
        (4, None, 2, "rejected"),   # more than half of 4 is 3
        (4, None, 3, "approved"),
        (2, None, 1, "rejected"),   # more than half of 2 is 2
        (2, None, 2, "approved"),
        (5, 2, 2, "approved"),      # explicit quorum
        (5, 2, 1, "rejected"),
        (5, 5, 4, "rejected"),
        (5, 5, 5, "approved"),
    ],
)
def test_quorum(members: int, quorum: int | None, voters: int, status: str) -> None:
    w = World(members, quorum=quorum)
    p = w.propose(w.founder, 500)
    got = decide(w, p, ballot(w.people[:voters], *["yes"] * voters))
    assert got["status"] == status
    assert check(w)["rules"]["quorum"] == quorum


def test_abstentions_count_toward_quorum_not_threshold() -> None:
    w = World(5, threshold=60)
    a, b, c, d, _e = w.people
    # 1 yes + 2 abstain: quorum 3 met; yes is 100% of yes + no.
    p1 = w.propose(a, 100, "abstainers make the quorum")
    assert decide(w, p1, {a: "yes", b: "abstain", c: "abstain"})["status"] == "approved"
    # Without the abstentions there is no quorum.
    p2 = w.propose(a, 100, "too few")
    assert decide(w, p2, {a: "yes"})["status"] == "rejected"
    # 1 yes, 1 no, 1 abstain: 100 < 60 * 2 (abstain is not in the denominator).
    p3 = w.propose(a, 100, "split")
    got = decide(w, p3, {a: "yes", b: "no", d: "abstain"})
    assert got["status"] == "rejected"
    assert (got["yes"], got["no"], got["abstain"]) == (1, 1, 1)


def test_abstain_only_split_passes_at_half() -> None:
    w = World(5, threshold=50)
    a, b, c, _d, _e = w.people
    p = w.propose(a, 100)
    assert decide(w, p, {a: "yes", b: "no", c: "abstain"})["status"] == "approved"


def test_at_least_one_yes_is_needed() -> None:
    w = World(3)
    p = w.propose(w.founder, 100)
    got = decide(w, p, ballot(w.people, "abstain", "abstain", "abstain"))
    assert got["status"] == "rejected"
    assert got["abstain"] == 3 and got["yes"] == 0


# ------------------------------------------------------------------------- block


@pytest.mark.parametrize(("vetoes", "status"), [(True, "rejected"), (False, "approved")])
def test_block(vetoes: bool, status: str) -> None:
    w = World(5, block_vetoes=vetoes)
    p = w.propose(w.founder, 100)
    got = decide(w, p, ballot(w.people, "yes", "yes", "yes", "yes", "block"))
    assert got["status"] == status
    assert got["block"] == 1 and got["yes"] == 4
    assert check(w)["rules"]["block_vetoes"] is vetoes


def test_block_counts_toward_quorum_when_it_does_not_veto() -> None:
    w = World(5, block_vetoes=False)
    p = w.propose(w.founder, 100)
    # 1 yes + 2 block: 3 voters, quorum met, yes is 100% of yes + no.
    assert decide(w, p, ballot(w.people, "yes", "block", "block"))["status"] == "approved"


# ------------------------------------------------------------------ votes & cuts


def test_late_vote_outside_the_cut_does_not_count() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "no")
    w.sync_all()
    close = w.close(a, p)
    late = w.vote(c, p, "no")          # after the close: outside its cut
    view = check(w)
    got = row(view, p)
    assert got["status"] == "approved"
    assert (got["yes"], got["no"]) == (1, 1)
    assert c.id not in got["votes"]
    assert warnings_of(view, late) == {"late_vote"}
    assert "late_vote" not in warnings_of(view, close)


def test_vote_the_closer_had_not_seen_is_late() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.sync(a, b)
    w.vote(b, p, "yes")
    unseen = w.vote(c, p, "block")      # written before the close, but a never saw it
    w.sync(a, b)
    w.close(a, p)
    view = check(w)
    assert row(view, p)["status"] == "approved"
    assert row(view, p)["block"] == 0
    assert warnings_of(view, unseen) == {"late_vote"}


def test_changed_vote_latest_inside_the_cut_counts() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.vote(b, p, "no")                 # b changes their mind: "no" replaces "yes"
    w.vote(c, p, "no")
    w.sync_all()
    w.close(a, p)
    got = row(check(w), p)
    assert (got["yes"], got["no"]) == (1, 2)
    assert got["votes"][b.id] == "no"
    assert got["status"] == "rejected"


def test_changed_vote_after_the_cut_does_not_count() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.sync_all()
    w.close(c, p)
    change = w.vote(b, p, "block")
    view = check(w)
    got = row(view, p)
    assert got["status"] == "approved" and got["votes"][b.id] == "yes"
    assert warnings_of(view, change) == {"late_vote"}


def test_open_proposal_shows_latest_votes() -> None:
    w = World(3)
    a, b, _c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "no")
    w.vote(a, p, "yes")
    w.vote(b, p, "abstain")
    got = row(check(w), p)
    assert got["status"] == "open"
    assert (got["yes"], got["no"], got["abstain"]) == (1, 0, 1)


# ----------------------------------------------------------------------- closes


def test_concurrent_first_closes_that_agree_stand_whatever_the_order() -> None:
    w = World(5)
    a, b, c, d, e = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.vote(c, p, "no")
    w.sync(a, b)                        # a sees a, b: two yes, no quorum (3)
    w.sync(c, d)                        # c sees c, d: one no
    close_a = w.close(a, p)
    close_c = w.close(c, p)
    assert c.seen.get(a.feed_key, 0) < close_a.seq and a.seen.get(c.feed_key, 0) < close_c.seq
    view = same_views(w, w.entries)
    got = row(view, p)
    assert got["status"] == "rejected"
    assert "contested_close" not in kinds(view) and "duplicate_close" not in kinds(view)


def test_concurrent_first_closes_that_disagree_reject_and_are_flagged() -> None:
    """Two members closed offline, neither seeing the other's close, and they disagree:
    the proposal is rejected and both closes and closers are named. A late closer can
    delay spending, never approve it."""
    w = World(3, quorum=1)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "no")
    close_a = w.close(a, p)             # a saw only its own yes: approved
    w.sync(b, c)
    close_b = w.close(b, p, {a: p.seq, b: b.head})  # saw the proposal, not a's vote
    view = same_views(w, w.entries)
    assert row(view, p)["status"] == "rejected"
    contested = [x for x in view["warnings"] if x["kind"] == "contested_close"]
    assert len(contested) == 1
    assert contested[0]["entries"] == sorted([eid(close_a), eid(close_b)])
    assert contested[0]["members"] == sorted([a.id, b.id])
    # Each close alone decided on its own past: a's approves, b's rejects.
    assert row(w.view([x for x in w.entries if x != close_b]), p)["status"] == "approved"
    assert row(w.view([x for x in w.entries if x != close_a]), p)["status"] == "rejected"


def test_close_that_saw_an_earlier_close_changes_nothing() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.sync(a, b)
    w.close(a, p)                      # only a's yes: no quorum -> rejected
    w.vote(b, p, "yes")
    w.vote(c, p, "yes")
    w.sync_all()
    before = w.view(w.entries)
    second = w.close(b, p)              # saw the first close: a duplicate
    view = same_views(w, w.entries)
    assert row(view, p)["status"] == "rejected"
    assert row(view, p)["yes"] == 1
    assert warnings_of(view, second) == {"duplicate_close"}
    strip = {"entries", "state_hash", "warnings"}
    assert {k: v for k, v in view.items() if k not in strip} == {
        k: v for k, v in before.items() if k not in strip
    }


def test_close_by_a_non_member_decides_nothing() -> None:
    w = World(3)
    a, b, _c = w.people
    stranger = w.newcomer("zed")
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.sync_all()
    close = w.close(stranger, p)
    view = check(w)
    assert row(view, p)["status"] == "open"
    assert "non_member" in warnings_of(view, close)


def test_non_member_close_does_not_block_members_close() -> None:
    w = World(3)
    a, b, _c = w.people
    stranger = w.newcomer("zed")
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.sync_all()
    w.close(stranger, p)               # not counted: a stranger's close
    w.sync_all()                       # a relays what it holds, the stranger's close too
    w.close(a, p)                      # a member's close (its cut names the stranger's)
    assert row(check(w), p)["status"] == "approved"


@pytest.mark.parametrize("by", ["member", "stranger"])
@pytest.mark.parametrize("target", ["admission", "ordinary"])
def test_closes_with_impossible_cuts_do_not_crash_the_fold(by: str, target: str) -> None:
    w = World(3)
    a, b, _c = w.people
    dan = w.newcomer("dan")
    admit = w.propose(a, 1, "let dan in", add_member=dan)
    w.vote(a, admit, "yes")
    w.vote(b, admit, "yes")
    if target == "ordinary":
        w.sync_all()
        w.close(a, admit)               # an admission decided the ordinary way
        p = w.propose(a, 100)
        w.vote(a, p, "yes")
        w.vote(b, p, "yes")
    else:
        p = admit
    if by == "member":
        # Two closes by one member: the first claims heads of its own feed it cannot
        # have seen yet, so each close "saw" the other.
        w.close(b, p, {b: b.head + 10, a: a.head})
        w.close(b, p)
    else:
        # Anyone holding an invite can sign a close that claims to have seen far ahead
        # in b's feed; b relays it (peers store what they sync) and then closes.
        stranger = w.newcomer("zed")
        w.close(stranger, p, {b: 10**6, a: a.head})
        w.sync(b, stranger)
        w.close(b, p)
    check(w)                            # must not raise


def test_stranger_close_does_not_change_an_outcome() -> None:
    outcomes = []
    for stranger_closes in (False, True):
        w = World(3)
        a, b, c = w.people
        dan, zed = w.newcomer("dan"), w.newcomer("zed")
        p = w.propose(a, 100, "P")
        w.vote(a, p, "yes")
        w.vote(b, p, "yes")
        w.sync(a, b)
        w.close(a, p)                   # 2 of 3 members: quorum 2, approved
        admit = w.propose(c, 1, "let dan in", add_member=dan)
        for x in (a, b, c):
            w.vote(x, admit, "yes")
        w.sync_all()
        w.close(c, admit)               # decided after P: its cut is larger
        if stranger_closes:
            # Not counted, yet its cut (it never saw a's close) makes P's merged cut huge.
            w.close(zed, p, {zed: zed.head, b: 10**6})
        view = check(w)
        assert row(view, admit)["status"] == "approved"
        outcomes.append(row(view, p)["status"])
    assert outcomes == ["approved", "approved"]


def test_close_of_unknown_proposal_changes_nothing() -> None:
    w = World(3)
    w.deposit(w.founder, 10)
    before = check(w)
    w.close(w.founder, b"\x07" * 32)
    after = check(w)
    strip = {"entries", "state_hash", "warnings"}
    assert {k: v for k, v in after.items() if k not in strip} == {
        k: v for k, v in before.items() if k not in strip
    }


def test_second_found_is_order_independent() -> None:
    w = World(3)
    w.write(w.founder, msg.Found("Other", "USD", (), 100, None, False))
    entries = w.entries
    same_views(w, entries)


# ------------------------------------------------------------------- withdrawal


def test_withdrawn_before_close_is_rejected() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.vote(b, p, "yes")
    w.vote(c, p, "yes")
    w.withdraw(a, p)
    w.sync_all()
    w.close(b, p)
    got = row(check(w), p)
    assert got["status"] == "rejected" and got["withdrawn"] is True


def test_withdrawn_open_proposal_is_rejected() -> None:
    w = World(3)
    a, b, _c = w.people
    p = w.propose(a, 100)
    w.vote(b, p, "yes")
    w.withdraw(a, p)
    got = row(check(w), p)
    assert got["status"] == "rejected" and got["withdrawn"] is True
    assert check(w)["committed"] == 0


def test_only_the_author_can_withdraw() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.withdraw(b, p)
    assert row(check(w), p)["status"] == "open"
    assert row(check(w), p)["withdrawn"] is False
    got = decide(w, p, {a: "yes", b: "yes", c: "yes"})
    assert got["status"] == "approved" and got["withdrawn"] is False


# ------------------------------------------------------------------------ money


def test_non_member_entries_are_flagged_and_not_counted() -> None:
    w = World(3)
    a, b, c = w.people
    stranger = w.newcomer("zed")
    w.deposit(a, 1000)
    before = check(w)
    dep = w.deposit(stranger, 5000)
    theirs = w.propose(stranger, 100)
    p = w.propose(a, 100)
    vote = w.vote(stranger, p, "block")
    view = check(w)
    assert view["deposited"] == view["balance"] == 1000 == before["balance"]
    assert stranger.id not in view["members"]
    assert warnings_of(view, dep) == {"non_member"}
    assert warnings_of(view, theirs) == {"non_member"}
    assert warnings_of(view, vote) == {"non_member"}
    with pytest.raises(KeyError):
        row(view, theirs)
    got = decide(w, p, {a: "yes", b: "yes", c: "yes"})
    assert got["status"] == "approved" and got["block"] == 0


def test_unapproved_spend_is_flagged_but_counted() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 1000)
    p = w.propose(a, 300)
    on_open = w.spend(b, p, 100)
    view = check(w)
    assert view["balance"] == 900 and view["spent"] == 100
    assert warnings_of(view, on_open) == {"unapproved_spend"}
    assert decide(w, p, {a: "no", b: "no", c: "yes"})["status"] == "rejected"
    on_rejected = w.spend(a, p, 50)
    unknown = w.spend(c, b"\x05" * 32, 25)
    view = check(w)
    assert view["spent"] == 175 and view["balance"] == 825
    assert view["deposited"] - view["spent"] == view["balance"]
    assert warnings_of(view, on_rejected) == {"unapproved_spend"}
    assert warnings_of(view, unknown) == {"unapproved_spend"}
    assert view["committed"] == 0 and view["available"] == 825


def test_overspend_is_flagged_but_counted() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 1000)
    p = w.propose(a, 100)
    decide(w, p, {a: "yes", b: "yes", c: "yes"})
    s1 = w.spend(a, p, 60)
    view = check(w)
    assert view["committed"] == 40 and view["available"] == 1000 - 60 - 40
    assert warnings_of(view, s1) == set()
    s2 = w.spend(b, p, 60)
    view = check(w)
    assert view["spent"] == 120 and view["balance"] == 880
    assert view["committed"] == 0 and view["available"] == 880
    assert row(view, p)["spent"] == 120
    flagged = [s for s in (s1, s2) if "overspend" in warnings_of(view, s)]
    assert len(flagged) == 1
    assert kinds(view) == {"overspend"}


def test_spending_exactly_the_amount_is_no_overspend() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 1000)
    p = w.propose(a, 100)
    decide(w, p, {a: "yes", b: "yes", c: "yes"})
    spends = [w.spend(a, p, 40), w.spend(b, p, 60)]
    view = check(w)
    assert kinds(view) == set()
    assert row(view, p)["spent"] == 100 and view["committed"] == 0
    spends.append(w.spend(c, p, 1))
    view = check(w)
    assert kinds(view) == {"overspend"}
    assert sum("overspend" in warnings_of(view, s) for s in spends) == 1


def test_committed_and_available() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(a, 1000)
    w.deposit(b, 500)
    p1 = w.propose(a, 400)
    p2 = w.propose(b, 300)
    p3 = w.propose(c, 200)
    for p in (p1, p2):
        decide(w, p, {a: "yes", b: "yes", c: "yes"})
    decide(w, p3, {a: "no", b: "no"})
    w.spend(a, p1, 150)
    view = check(w)
    assert view["balance"] == 1350
    assert view["committed"] == 250 + 300
    assert view["available"] == 1350 - 550
    assert [row(view, p)["status"] for p in (p1, p2, p3)] == ["approved", "approved", "rejected"]


# --------------------------------------------------------------------- reversal


def test_reversal_of_a_deposit_and_a_spend() -> None:
    w = World(3)
    a, b, c = w.people
    dep = w.deposit(a, 1000)
    w.deposit(b, 200)
    p = w.propose(a, 100)
    decide(w, p, {a: "yes", b: "yes", c: "yes"})
    sp = w.spend(b, p, 80)
    assert check(w)["balance"] == 1120
    w.reverse(a, dep, "typo")
    view = check(w)
    assert view["deposited"] == 200 and view["balance"] == 120
    w.reverse(b, sp)
    view = check(w)
    assert view["spent"] == 0 and view["balance"] == 200
    assert row(view, p)["spent"] == 0 and view["committed"] == 100


def test_reversal_only_in_the_same_feed() -> None:
    w = World(3)
    a, b, _c = w.people
    dep = w.deposit(a, 1000)
    w.reverse(b, dep)
    assert check(w)["deposited"] == 1000


# ------------------------------------------------------------------- membership


def test_added_member_counts_after_approval() -> None:
    w = World(3)
    a, b, c = w.people
    dan = w.newcomer("dan")
    w.deposit(a, 100)
    p = w.propose(a, 1, "let dan in", add_member=dan)
    got = decide(w, p, {a: "yes", b: "yes", c: "yes"})
    assert got["status"] == "approved" and got["add_member"] == dan.id
    w.deposit(dan, 50)
    view = check(w)
    assert dan.id in view["members"] and view["member_names"][dan.id] == "dan"
    assert view["members"] == sorted(view["members"])
    assert view["deposited"] == 100 + 50
    assert "non_member" not in kinds(view)
    # dan now votes, and the quorum is more than half of 4: 3.
    q = w.propose(dan, 10, "dan's idea")
    assert decide(w, q, {dan: "yes", a: "yes"})["status"] == "rejected"
    r = w.propose(dan, 10, "again")
    got = decide(w, r, {dan: "yes", a: "yes", b: "no"})
    assert got["status"] == "approved" and got["votes"][dan.id] == "yes"


def test_rejected_add_member_adds_nobody() -> None:
    w = World(3)
    a, b, c = w.people
    dan = w.newcomer("dan")
    p = w.propose(a, 1, "let dan in", add_member=dan)
    decide(w, p, {a: "no", b: "no", c: "yes"})
    dep = w.deposit(dan, 50)
    view = check(w)
    assert dan.id not in view["members"] and view["deposited"] == 0
    assert warnings_of(view, dep) == {"non_member"}


def test_feed_without_a_valid_join_is_not_a_member() -> None:
    w = World(["ann", "bob", "cat", "dan"], joins={"cat": "forged", "dan": "none"})
    a, b, cat, dan = w.people
    w.deposit(a, 100)
    cat_dep = w.deposit(cat, 1000)
    dan_dep = w.deposit(dan, 2000)       # dan's first entry: a deposit, not a join
    p = w.propose(a, 10)
    w.vote(cat, p, "block")
    w.vote(dan, p, "block")
    view = check(w)
    assert view["deposited"] == 100
    assert warnings_of(view, cat) == {"bad_join"}
    assert warnings_of(view, dan) == {"bad_join"}
    assert warnings_of(view, cat_dep) == {"non_member"}
    assert dan_dep.seq == 1
    got = decide(w, p, {a: "yes", b: "yes", cat: "yes"})
    assert got["block"] == 0 and cat.id not in got["votes"]
    # Founding members whose feed never joined cannot make up the quorum (3 of 4).
    assert got["status"] == "rejected"


def test_newcomer_with_forged_join() -> None:
    w = World(3)
    eve = w.newcomer("eve", join="forged")
    dep = w.deposit(eve, 10)
    view = check(w)
    assert warnings_of(view, eve) == {"bad_join"}
    assert warnings_of(view, dep) == {"non_member"}
    assert eve.id not in view["members"] and view["deposited"] == 0


# ------------------------------------------------------------------------ forks


def test_fork_keeps_the_money_of_every_branch() -> None:
    w = World(3)
    a, b, c = w.people
    w.deposit(b, 100)
    fork_seq = b.head + 1
    w.deposit(b, 200)
    w.deposit(b, 400)
    other = w.branch(b, fork_seq, [msg.Deposit(10_000, "the other branch"),
                                   msg.Deposit(5, "and on")])
    w.deposit(a, 1)
    view = same_views(w, [*w.entries, *other])
    assert view["deposited"] == 100 + 200 + 400 + 10_000 + 5 + 1
    assert {"kind": "fork", "feed": feed_id(b.feed_key), "member": b.id,
            "seq": fork_seq} in view["warnings"]
    assert b.id in view["members"] and c.id in view["members"]


def test_homes_holding_different_branches_of_a_fork_agree_once_both_hold_both() -> None:
    w = World(3)
    a, b, _c = w.people
    w.deposit(a, 100)
    fork_seq = b.head + 1
    branch_one = [w.deposit(b, 200), w.deposit(b, 300)]
    other = w.branch(b, fork_seq, [msg.Deposit(9_999, "the other branch")])
    prefix = [x for x in w.entries if x not in branch_one]
    one = w.view([*prefix, *branch_one, *other])
    two = w.view([*other, *prefix, *branch_one])
    assert one == two and one["deposited"] == 100 + 200 + 300 + 9_999


def test_fork_mutes_votes_only_in_closes_that_saw_the_proof() -> None:
    w = World(3)
    a, b, c = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    fork_seq = b.head + 1
    w.vote(b, p, "yes")
    other = w.branch(b, fork_seq, [msg.Vote(p.id, "no", "other branch")])
    w.vote(c, p, "yes")
    w.sync_all()
    close = w.close(a, p)               # a saw only branch one: b's yes counts
    view = same_views(w, [*w.entries, *other])
    got = row(view, p)
    assert got["status"] == "approved" and b.id in got["votes"] and got["yes"] == 3
    assert warnings_of(view, b) == {"fork"}
    # A close whose cut names the fork proof mutes b from the fork point on.
    q = w.propose(a, 50)
    w.vote(a, q, "yes")
    w.vote(b, q, "yes")
    heads = sorted((f, s, w.id_at(f, s)) for f, s in a.seen.items())
    heads = [h for h in heads if h[0] != b.feed_key]
    proof = [(b.feed_key, fork_seq, b.entries[fork_seq - 1].id),
             (b.feed_key, fork_seq, other[0].id)]
    close_q = w.write(a, msg.Close(q.id, tuple(sorted([*heads, *proof]))))
    view = same_views(w, [*w.entries, *other])
    assert b.id not in row(view, q)["votes"]
    assert close.id != close_q.id


# ------------------------------------------------------------------ unreadable


def test_unreadable_content_is_warned_and_ignored() -> None:
    w = World(3)
    a, _b, _c = w.people
    w.deposit(a, 100)
    bad = w.unreadable(a, msg.Deposit(999, "sealed with another key"))
    w.deposit(a, 1)
    view = check(w)
    assert view["deposited"] == 101
    assert warnings_of(view, bad) == {"bad_content"}
    assert eid(bad) in {x.get("entry") for x in view["warnings"]}


def test_founding_rules_shown() -> None:
    w = World(4, threshold=67, quorum=3, block_vetoes=False, currency="JPY", name="Trip")
    view = check(w)
    assert view["rules"] == {"threshold": 67, "quorum": 3, "block_vetoes": False}
    assert view["currency"] == "JPY" and view["name"] == "Trip"
    assert view["members"] == sorted(p.id for p in w.people)
    assert view["warnings"] == []


def test_a_close_decided_before_its_author_forked_stands() -> None:
    """A home copied to a laptop closes a proposal before anyone knows of the fork:
    that close was decided without the proof, so it stands once the fork is seen."""
    w = World(2, quorum=1)
    a, b = w.people
    p = w.propose(a, 100)
    w.vote(a, p, "yes")
    w.sync_all()
    fork_seq = b.head + 1
    close = w.close(b, p)                    # branch one: the desktop closes
    other = w.branch(b, fork_seq, [msg.Deposit(5, "the laptop")])
    before = row(w.view(w.entries), p)["status"]
    view = same_views(w, [*w.entries, *other])
    assert before == "approved" and row(view, p)["status"] == "approved"
    assert warnings_of(view, close) == set()
