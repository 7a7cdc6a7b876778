"""Feed validation: every rule, every error, and chain == full."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works uninstalled

from ssbmoney.core import errors
from ssbmoney.core.entry import Entry, create, decode, resign_raw
from ssbmoney.core.validate import FeedState, ForkProof, Mode, RunResult, validate_run


def key(name: str) -> tuple[bytes, bytes]:
    sk = nacl.signing.SigningKey(hashlib.sha256(f"test_validate {name}".encode()).digest())
    return sk._signing_key, bytes(sk.verify_key)


SECRET, AUTHOR = key("alice")
BOB_SECRET, BOB = key("bob")
GROUP = hashlib.sha256(b"test_validate group").digest()
OTHER_GROUP = hashlib.sha256(b"test_validate other group").digest()
EMPTY = FeedState(AUTHOR, GROUP)


def entry(
    seq: int,
    previous: bytes | None,
    content: bytes = b"",
    *,
    bad: bool = False,
    secret: bytes = SECRET,
    author: bytes = AUTHOR,
    group: bytes = GROUP,
) -> Entry:
    made = create(secret, author, group, seq, previous, 1000 * seq, content or b"%d" % seq)
    if not bad:
        return made
    signature = bytes([made.signature[0] ^ 1]) + made.signature[1:]
    return decode(resign_raw(made.envelope, signature, made.content))


def chain(n: int, bad: Sequence[int] = (), start: Sequence[Entry] = ()) -> list[Entry]:
    """Entries ``len(start)+1 .. len(start)+n`` of alice's feed; ``bad`` seqs are forged."""
    out = list(start)
    for seq in range(len(out) + 1, len(out) + n + 1):
        out.append(entry(seq, out[-1].id if out else None, bad=seq in bad))
    return out[len(start):]


def state_after(entries: Sequence[Entry], **kwargs: bool) -> FeedState:
    return FeedState(AUTHOR, GROUP, entries[-1].seq, entries[-1].id, **kwargs)


def run_both(
    state: FeedState, entries: Sequence[Entry], held: Sequence[Entry] = ()
) -> tuple[RunResult, RunResult]:
    """Run CHAIN and FULL; assert they agree on everything but ``vouched``."""
    by_id = {e.id: e for e in held}

    def ids_at(seq: int) -> set[bytes]:
        return {e.id for e in held if e.seq == seq}

    chain_r = validate_run(state, entries, Mode.CHAIN, ids_at=ids_at, entry_of=by_id.get)
    full_r = validate_run(state, entries, Mode.FULL, ids_at=ids_at, entry_of=by_id.get)
    assert chain_r.vouched == ()
    assert verdict(chain_r) == verdict(full_r)
    return chain_r, full_r


def verdict(r: RunResult) -> tuple[object, ...]:
    err = r.error
    where = None if err is None else (type(err), err.kind, err.feed, err.seq, err.entry)
    return (r.state, r.accepted, r.duplicates, where, r.forks, r.rejected)


# ------------------------------------------------------------------ the basics


def test_feed_state_defaults_and_advance() -> None:
    assert EMPTY == FeedState(AUTHOR, GROUP, 0, None, False)
    e1 = entry(1, None)
    assert EMPTY.advanced(e1) == FeedState(AUTHOR, GROUP, 1, e1.id, False)
    forked = EMPTY._replace(forked=True)
    assert forked.advanced(e1).forked


def test_empty_run() -> None:
    r, _ = run_both(EMPTY, [])
    assert r == RunResult(EMPTY, (), 0, None, (), (), 0)
    assert r.fork is None


def test_valid_chain_from_empty() -> None:
    run = chain(5)
    r, f = run_both(EMPTY, run)
    assert r.accepted == tuple(run) and r.error is None and r.rejected == 0
    assert r.state == state_after(run)
    assert f.vouched == ()


def test_valid_chain_on_top_of_state() -> None:
    held = chain(3)
    more = chain(2, start=held)
    r, _ = run_both(state_after(held), more)
    assert r.accepted == tuple(more) and r.state == state_after([*held, *more])


def test_pruned_entries_do_not_even_decode() -> None:
    for e in chain(3):
        with pytest.raises(errors.MissingContent) as caught:
            decode(resign_raw(e.envelope, e.signature, None))
        assert caught.value.kind == "missing_content"
        assert isinstance(caught.value, errors.ValidationError)


def test_default_mode_is_chain_and_default_lookup_knows_nothing() -> None:
    run = chain(3)
    r = validate_run(state_after(run), [run[0]])  # id unknown: counted as duplicate
    assert r.duplicates == 1 and r.error is None


# ------------------------------------------------------------------ duplicates


def test_duplicate_of_head() -> None:
    run = chain(2)
    r, _ = run_both(state_after(run), [run[1]], held=run)
    assert (r.accepted, r.duplicates, r.error, r.rejected) == ((), 1, None, 0)
    assert r.state == state_after(run)


def test_duplicates_then_new() -> None:
    run = chain(4)
    r, _ = run_both(state_after(run[:2]), run, held=run[:2])
    assert r.duplicates == 2 and r.accepted == tuple(run[2:])


def test_duplicate_within_run() -> None:
    e1 = entry(1, None)
    r, _ = run_both(EMPTY, [e1, e1])
    assert r.accepted == (e1,) and r.duplicates == 1


def test_duplicate_with_bad_signature_is_still_harmless() -> None:
    run = chain(2, bad=[2])
    state = state_after(run)  # held, e.g. vouched for earlier
    r, _ = run_both(state, [run[1]], held=run)
    assert r.duplicates == 1 and r.error is None


# ------------------------------------------------------------- feed rule errors


def test_wrong_author() -> None:
    e1 = entry(1, None)
    foreign = entry(2, e1.id, secret=BOB_SECRET, author=BOB)
    r, _ = run_both(EMPTY, [e1, foreign])
    assert isinstance(r.error, errors.WrongAuthor)
    assert (r.error.feed, r.error.seq, r.error.entry) == (AUTHOR, 2, foreign.id)
    assert r.accepted == (e1,) and r.rejected == 1


def test_wrong_group() -> None:
    e1 = entry(1, None, group=OTHER_GROUP)
    r, _ = run_both(EMPTY, [e1])
    assert isinstance(r.error, errors.WrongGroup) and r.error.kind == "wrong_group"
    assert r.accepted == () and r.state == EMPTY and r.rejected == 1


def test_sequence_gap() -> None:
    run = chain(2)
    e4 = entry(4, run[1].id)
    r, _ = run_both(EMPTY, [*run, e4, entry(5, e4.id)])
    assert isinstance(r.error, errors.SequenceGap)
    assert r.error.seq == 4 and r.accepted == tuple(run) and r.rejected == 2


def test_sequence_gap_from_empty() -> None:
    r, _ = run_both(EMPTY, [entry(2, None)])
    assert isinstance(r.error, errors.SequenceGap) and r.state == EMPTY


def test_first_entry_must_have_nil_previous() -> None:
    e1 = entry(1, bytes(32))
    r, _ = run_both(EMPTY, [e1])
    assert isinstance(r.error, errors.WrongPrevious) and r.error.seq == 1


def test_wrong_previous() -> None:
    run = chain(2)
    wrong = entry(3, run[0].id)
    r, _ = run_both(EMPTY, [*run, wrong])
    assert isinstance(r.error, errors.WrongPrevious) and r.error.entry == wrong.id
    assert r.accepted == tuple(run) and r.rejected == 1


def test_nil_previous_after_first() -> None:
    run = chain(1)
    r, _ = run_both(state_after(run), [entry(2, None)])
    assert isinstance(r.error, errors.WrongPrevious)


# ------------------------------------------------------------------ signatures


def test_bad_signature_single() -> None:
    run = chain(1, bad=[1])
    r, f = run_both(EMPTY, run)
    assert isinstance(r.error, errors.BadSignature) and r.error.seq == 1
    assert r.accepted == () and r.state == EMPTY and r.rejected == 1 and f.vouched == ()


def test_bad_signature_last() -> None:
    run = chain(3, bad=[3])
    r, _ = run_both(EMPTY, run)
    assert isinstance(r.error, errors.BadSignature) and r.error.seq == 3
    assert r.accepted == tuple(run[:2]) and r.state == state_after(run[:2])
    assert r.rejected == 1


def test_bad_signature_in_the_middle_is_vouched_for() -> None:
    run = chain(3, bad=[2])
    r, f = run_both(EMPTY, run)
    assert r.error is None and r.accepted == tuple(run)
    assert f.vouched == (run[1],) and r.vouched == ()


def test_bad_signatures_all() -> None:
    run = chain(3, bad=[1, 2, 3])
    r, _ = run_both(EMPTY, run)
    assert isinstance(r.error, errors.BadSignature) and r.error.seq == 1
    assert r.accepted == () and r.rejected == 3


def test_vouched_then_bad() -> None:
    run = chain(4, bad=[1, 2, 4])
    r, f = run_both(EMPTY, run)
    assert r.accepted == tuple(run[:3]) and r.error is not None and r.error.seq == 4
    assert f.vouched == (run[0], run[1])


def test_signature_error_wins_over_a_later_structural_error() -> None:
    run = chain(2, bad=[2])
    wrong = entry(3, run[0].id)
    r, _ = run_both(EMPTY, [*run, wrong])
    assert isinstance(r.error, errors.BadSignature) and r.error.seq == 2
    assert r.accepted == (run[0],) and r.rejected == 2


def test_structural_error_after_vouched_run() -> None:
    run = chain(3, bad=[2])
    r, f = run_both(EMPTY, [*run, entry(5, run[2].id)])
    assert isinstance(r.error, errors.SequenceGap)
    assert r.accepted == tuple(run) and f.vouched == (run[1],)


def test_rejected_counts_duplicates_apart() -> None:
    run = chain(4, bad=[4])
    r, _ = run_both(state_after(run[:1]), run, held=run[:1])
    assert (len(r.accepted), r.duplicates, r.rejected) == (2, 1, 1)


def test_chain_mode_checks_one_signature_when_the_last_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = Entry.signature_ok

    def counting(self: Entry) -> bool:
        calls.append(self.seq)
        return original(self)

    monkeypatch.setattr(Entry, "signature_ok", counting)
    run = chain(6)
    validate_run(EMPTY, run, Mode.CHAIN)
    assert calls == [6]
    calls.clear()
    validate_run(EMPTY, run, Mode.FULL)
    assert sorted(calls) == [1, 2, 3, 4, 5, 6]
    calls.clear()
    validate_run(EMPTY, chain(6, bad=[5, 6]), Mode.CHAIN)
    assert calls == [6, 5, 4]


# ----------------------------------------------------------------------- forks


def other_at(seq: int, held: Sequence[Entry], *, bad: bool = False) -> Entry:
    previous = held[seq - 2].id if seq > 1 else None
    return entry(seq, previous, b"the other branch", bad=bad)


def fork_state(held: Sequence[Entry]) -> FeedState:
    """The state of a feed holding ``held`` (several branches maybe), forked or not."""
    state = EMPTY
    for item in held:
        state = state.advanced(item)
    return state._replace(forked=len({e.seq for e in held}) < len(held))


def test_fork_at_head_is_kept_as_a_branch() -> None:
    held = chain(2)
    other = other_at(2, held)
    r, _ = run_both(state_after(held), [other], held=held)
    assert r.error is None and r.accepted == (other,) and r.rejected == 0
    assert r.forks == (ForkProof(AUTHOR, 2, held[1], held[1].id, other),)
    assert r.fork == r.forks[0]
    assert r.state == FeedState(AUTHOR, GROUP, 2, min(held[1].id, other.id), True)


def test_fork_at_older_sequence_and_the_branch_grows() -> None:
    held = chain(4)
    other = other_at(2, held)
    three = entry(3, other.id, b"branch 3")
    r, _ = run_both(state_after(held), [other, three], held=held)
    assert r.error is None and r.accepted == (other, three)
    assert [(p.seq, p.first, p.second) for p in r.forks] == [
        (2, held[1], other), (3, held[2], three)]
    assert r.state == state_after(held, forked=True)  # the longest branch stays the head


def test_fork_proof_without_entry_lookup() -> None:
    held = chain(2)
    other = other_at(2, held)
    r = validate_run(state_after(held), [other], Mode.FULL)
    assert r.fork == ForkProof(AUTHOR, 2, None, held[1].id, other)


def test_forged_fork_is_a_bad_signature() -> None:
    held = chain(3)
    for seq in (3, 2):
        forged = other_at(seq, held, bad=True)
        r, _ = run_both(state_after(held), [forged], held=held)
        assert isinstance(r.error, errors.BadSignature) and r.error.seq == seq
        assert r.fork is None and not r.state.forked and r.accepted == ()


def test_forged_fork_entry_is_not_vouched_for_by_its_successor() -> None:
    held = chain(3)
    forged = other_at(2, held, bad=True)
    r, _ = run_both(state_after(held), [forged, entry(3, forged.id, b"x")], held=held)
    assert isinstance(r.error, errors.BadSignature) and r.error.entry == forged.id
    assert r.accepted == () and r.rejected == 2


def test_fork_within_run() -> None:
    run = chain(2)
    other = other_at(2, run)
    r, _ = run_both(EMPTY, [*run, other])
    assert r.error is None and r.accepted == (*run, other)
    assert r.fork is not None and r.fork.first == run[1] and r.fork.first_id == run[1].id
    assert r.state == FeedState(AUTHOR, GROUP, 2, min(run[1].id, other.id), True)


def test_fork_against_unauthentic_entry_in_run_is_not_a_fork() -> None:
    run = chain(2, bad=[2])
    other = other_at(2, run)
    r, _ = run_both(EMPTY, [*run, other])
    assert isinstance(r.error, errors.BadSignature) and r.error.seq == 2
    assert r.fork is None and not r.state.forked and r.accepted == (run[0],)


def test_fork_at_sequence_accepted_earlier_in_the_run() -> None:
    run = chain(3)
    other = other_at(2, run)
    r, _ = run_both(EMPTY, [*run, other])
    assert r.error is None and r.fork is not None and r.accepted == (*run, other)


def test_previous_may_name_any_branch() -> None:
    main = chain(3)
    branch = [other_at(2, main)]
    branch.append(entry(3, branch[0].id, b"branch 3"))
    held = [*main, *branch]
    state = fork_state(held)
    assert state.forked and state.seq == 3
    on_branch = entry(4, branch[1].id, b"branch 4")
    on_main = entry(4, main[2].id, b"main 4")
    for run in ([on_branch], [on_main], sorted([on_main, on_branch], key=lambda e: e.id)):
        r, _ = run_both(state, run, held=held)
        assert r.error is None and r.accepted == tuple(run)
        assert len(r.forks) == len(run) - 1  # the second at sequence 4 forks the first
        assert r.state.seq == 4 and r.state.head == min(e.id for e in run)
    nowhere = entry(4, bytes(32), b"nowhere")
    r, _ = run_both(state, [nowhere], held=held)
    assert isinstance(r.error, errors.WrongPrevious)


def test_branches_in_one_run() -> None:
    e1 = entry(1, None)
    a2, b2 = entry(2, e1.id, b"a"), entry(2, e1.id, b"b")
    first2, second2 = sorted([a2, b2], key=lambda e: e.id)
    on_second = entry(3, second2.id, b"on the second")
    r, _ = run_both(EMPTY, [e1, first2, second2, on_second])
    assert r.error is None and len(r.accepted) == 4
    assert [p.seq for p in r.forks] == [2] and r.state.head == on_second.id


def test_forked_feed_takes_entries_on_every_branch() -> None:
    held = chain(2)
    state = state_after(held, forked=True)
    r, _ = run_both(state, [entry(3, held[1].id)], held=held)
    assert r.error is None and len(r.accepted) == 1 and r.state.forked
    r, _ = run_both(state, [held[1]], held=held)
    assert r.error is None and r.duplicates == 1 and r.state == state


def test_chain_mode_verifies_the_leaves_of_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    e1 = entry(1, None)
    a2, b2 = sorted([entry(2, e1.id, b"a"), entry(2, e1.id, b"b")], key=lambda e: e.id)
    a3 = entry(3, a2.id, b"a3")
    run = [e1, a2, b2, a3]
    calls: list[bytes] = []
    original = Entry.signature_ok

    def counting(self: Entry) -> bool:
        calls.append(self.id)
        return original(self)

    monkeypatch.setattr(Entry, "signature_ok", counting)
    r = validate_run(EMPTY, run, Mode.CHAIN)
    assert r.error is None and len(r.accepted) == 4
    # the fork entry for itself, then the one leaf: a3 covers a2, b2 covers e1
    assert calls == [b2.id, a3.id]


# --------------------------------------------------- chain == full (property)


@st.composite
def runs(draw: st.DrawFn) -> tuple[FeedState, list[Entry], list[Entry]]:
    """A feed state (with its held entries) and a run: mostly valid, some forged
    signatures, sometimes a duplicate prefix, a broken link, a gap, or a fork."""
    held_n = draw(st.integers(0, 3))
    n = draw(st.integers(1, 7))
    bad = draw(st.sets(st.integers(1, held_n + n), max_size=n))
    feed = chain(held_n + n, bad=bad)
    held, run = feed[:held_n], feed[held_n:]
    dups = draw(st.integers(0, held_n))
    run = [*held[held_n - dups:], *run]
    twist = draw(st.sampled_from(["none", "previous", "gap", "fork", "forged", "author"]))
    at = draw(st.integers(0, len(run)))
    last = run[at - 1] if at else (held[-1] if held else None)
    nxt = (last.seq if last else 0) + 1
    prev = last.id if last else None
    if twist == "previous":
        run.insert(at, entry(nxt, bytes(32)))
    elif twist == "gap":
        run.insert(at, entry(nxt + 1, prev))
    elif twist in ("fork", "forged") and last is not None:
        run.insert(at, entry(last.seq, last.previous, b"fork", bad=twist == "forged"))
    elif twist == "author":
        run.insert(at, entry(nxt, prev, secret=BOB_SECRET, author=BOB))
    run = run[: at + 3] if twist != "none" else run
    state = state_after(held) if held else EMPTY
    return state, held, run


@settings(max_examples=50, deadline=None, database=None)
@given(runs())
def test_chain_and_full_agree(case: tuple[FeedState, list[Entry], list[Entry]]) -> None:
    state, held, run = case
    r, f = run_both(state, run, held=held)
    # every accepted entry is authentic: own signature, or a later accepted good one
    good = [e.signature_ok() for e in f.accepted]
    assert f.vouched == tuple(e for e, ok in zip(f.accepted, good, strict=True) if not ok)
    # the state follows the accepted entries: the highest sequence, its lowest id
    top = max([state.seq, *(e.seq for e in f.accepted)])
    assert f.state.seq == top
    if f.accepted and top > state.seq:
        assert f.state.head == min(e.id for e in f.accepted if e.seq == top)
    assert len(f.accepted) + f.duplicates + f.rejected == len(run)
    assert (f.error is None) == (f.rejected == 0)
    assert bool(f.forks) == f.state.forked
    assert all(p.second in f.accepted for p in f.forks)


def test_helpers_make_what_they_say() -> None:
    run = chain(3, bad=[2])
    assert [e.signature_ok() for e in run] == [True, False, True]
    assert [e.previous for e in run] == [None, run[0].id, run[1].id]
