"""Validation of a feed's entries: a pure function over a frozen feed state.

Authenticity is defined by the chain, so every verifier reaches the same verdict:

    An entry is *authentic* when its own signature verifies, or when a later entry
    of the same feed whose signature verifies covers it through the hash links
    (its author vouched for it by signing a successor that names it).

Two paths reach the same verdicts:

* ``CHAIN`` (ingest): every structural rule and every hash link is checked, then
  only the signature of the last entry of the run; only if that fails does it walk
  back, one signature at a time, to the last entry whose signature verifies.
* ``FULL`` (audit): every signature is checked. It also reports, as *vouched*, any
  accepted entry whose own signature fails although a later one vouches for it.

Rules, cheap ones first: the entry decodes canonically (``ssbmoney.entry.decode``);
its author and group are the feed's; its sequence is the next one (a lower sequence
with the same id is a harmless duplicate); its previous is the id of the feed's last
entry (nil for sequence 1); then authenticity. A *fork* is a second, validly signed
entry at a sequence the feed already holds: fatal for the feed from there on, and the
two entries are kept together as the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import NamedTuple

from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import (
    BadSignature,
    Fork,
    ForkedFeed,
    SequenceGap,
    ValidationError,
    WrongAuthor,
    WrongGroup,
    WrongPrevious,
)


class Mode(Enum):
    CHAIN = "chain"
    FULL = "full"


class FeedState(NamedTuple):
    """What validation needs to know of a feed: its key, group, and where it ends."""

    author: bytes
    group: bytes
    seq: int = 0
    head: bytes | None = None
    forked: bool = False

    def advanced(self, entry: Entry) -> FeedState:
        return FeedState(self.author, self.group, entry.seq, entry.id, self.forked)


class ForkProof(NamedTuple):
    """Two different, validly signed entries by one author at one sequence."""

    author: bytes
    seq: int
    first: Entry | None  # the entry we hold (None if only its id is known)
    first_id: bytes
    second: Entry


class RunResult(NamedTuple):
    """Outcome of validating a run of entries against a feed state."""

    state: FeedState
    accepted: tuple[Entry, ...]
    duplicates: int
    error: ValidationError | None
    fork: ForkProof | None
    vouched: tuple[Entry, ...]  # FULL only: accepted, own signature fails, vouched for
    rejected: int  # entries not accepted (the erroneous one and those after it)


IdAt = Callable[[int], bytes | None]
"""Look up the id of the entry a feed already holds at a sequence (None if unknown)."""


def _no_lookup(seq: int) -> bytes | None:
    return None


def validate_run(
    state: FeedState,
    entries: Sequence[Entry],
    mode: Mode = Mode.CHAIN,
    id_at: IdAt = _no_lookup,
    entry_at: Callable[[int], Entry | None] | None = None,
) -> RunResult:
    """Validate ``entries`` (one feed, ascending sequence) on top of ``state``.

    Stops at the first invalid entry: what follows depends on it. The returned state
    is the feed state after the accepted entries (and ``forked`` after a fork).
    """
    author = state.author
    pending: list[Entry] = []
    in_run: dict[int, Entry] = {}
    duplicates = 0
    error: ValidationError | None = None
    fork: ForkProof | None = None
    cur = state
    stop_index = len(entries)
    for index, entry in enumerate(entries):
        if cur.forked:
            error = ForkedFeed(
                "feed is forked; no further entries are accepted from it",
                feed=author, seq=entry.seq, entry=entry.id,
            )
            stop_index = index
            break
        if entry.author != author:
            error = WrongAuthor(
                "entry is signed by another author than the feed's",
                feed=author, seq=entry.seq, entry=entry.id,
            )
            stop_index = index
            break
        if entry.group != state.group:
            error = WrongGroup(
                "entry belongs to another group", feed=author, seq=entry.seq, entry=entry.id
            )
            stop_index = index
            break
        seq = entry.seq
        if seq <= cur.seq:
            earlier = in_run.get(seq)
            if earlier is not None:
                known: bytes | None = earlier.id
            else:
                known = cur.head if seq == cur.seq else id_at(seq)
            if known is None or known == entry.id:
                duplicates += 1
                continue
            # A different entry at a sequence we hold: a fork if, and only if, the
            # author really signed it. A forgery proves nothing and is just refused.
            if not entry.signature_ok():
                error = BadSignature(
                    "signature does not verify (a different entry at a sequence already held)",
                    feed=author, seq=seq, entry=entry.id,
                )
            else:
                first = earlier
                if first is None and entry_at is not None:
                    first = entry_at(seq)
                fork = ForkProof(author, seq, first, known, entry)
                error = Fork(
                    f"fork: two different signed entries at sequence {seq}",
                    feed=author, seq=seq, entry=entry.id,
                )
            stop_index = index
            break
        if seq != cur.seq + 1:
            error = SequenceGap(
                f"sequence {seq} does not follow {cur.seq}", feed=author, seq=seq, entry=entry.id
            )
            stop_index = index
            break
        if entry.previous != cur.head:
            expected = "nil" if cur.head is None else "the id of the entry before"
            error = WrongPrevious(
                f"previous does not match: expected {expected}",
                feed=author, seq=seq, entry=entry.id,
            )
            stop_index = index
            break
        pending.append(entry)
        in_run[seq] = entry
        cur = cur.advanced(entry)

    accepted, sig_error, vouched = _authenticate(pending, mode)
    if sig_error is not None:
        error, fork = sig_error, None
        stop_index = len(accepted)  # everything from the bad entry on is rejected
        rejected = len(entries) - duplicates - len(accepted)
    else:
        rejected = len(entries) - stop_index if error is not None else 0
    new_state = state
    if accepted:
        new_state = state._replace(seq=accepted[-1].seq, head=accepted[-1].id)
    if fork is not None:
        new_state = new_state._replace(forked=True)
    return RunResult(new_state, tuple(accepted), duplicates, error, fork, vouched, rejected)


def _authenticate(
    run: list[Entry], mode: Mode
) -> tuple[list[Entry], ValidationError | None, tuple[Entry, ...]]:
    """Split a hash-linked run into its authentic prefix and the first bad entry."""
    if not run:
        return run, None, ()
    if mode is Mode.CHAIN:
        last_ok = len(run) - 1
        while last_ok >= 0 and not run[last_ok].signature_ok():
            last_ok -= 1
        vouched: tuple[Entry, ...] = ()
    else:
        oks = [entry.signature_ok() for entry in run]
        last_ok = len(run) - 1
        while last_ok >= 0 and not oks[last_ok]:
            last_ok -= 1
        vouched = tuple(run[i] for i in range(last_ok) if not oks[i])
    if last_ok == len(run) - 1:
        return run, None, vouched
    bad = run[last_ok + 1]
    error = BadSignature(
        "signature does not verify, and no later entry with a good signature vouches for it",
        feed=bad.author, seq=bad.seq, entry=bad.id,
    )
    return run[: last_ok + 1], error, vouched
