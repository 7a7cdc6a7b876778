"""Validation of a feed's entries: a pure function over a frozen feed state.

Authenticity is defined by the chain, so every verifier reaches the same verdict:

    An entry is *authentic* when its own signature verifies, or when a later entry
    of the same feed whose signature verifies covers it through the hash links
    (its author vouched for it by signing a successor that names it).

Two paths reach the same verdicts:

* ``CHAIN`` (ingest): every structural rule and every hash link is checked, then
  only the signatures of the run's leaves (entries no other entry of the run names
  as previous); only where one fails does it walk back, one signature at a time, to
  the entries a verifying signature covers.
* ``FULL`` (audit): every signature is checked. It also reports, as *vouched*, any
  accepted entry whose own signature fails although a later one vouches for it.

Rules, cheap ones first: the entry decodes canonically (``ssbmoney.entry.decode``);
its author and group are the feed's; an entry the feed holds already (same id) is a
harmless duplicate; its sequence is the next one; its previous is the id of an entry
the feed holds at the sequence before (on any branch; nil for sequence 1); then
authenticity. A *fork* is a second entry at a sequence the feed already holds: it is
kept as a new branch when its own signature verifies (it proves nothing otherwise),
whatever its previous, and the two entries make a fork proof. Every branch is kept,
so money counts on every branch; the feed is marked forked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from enum import Enum
from typing import NamedTuple

from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import (
    BadSignature,
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
    """What validation needs to know of a feed: its key, group, highest sequence held,
    the tip of its longest branch (highest sequence; ties: the lowest id) and whether
    it holds a fork."""

    author: bytes
    group: bytes
    seq: int = 0
    head: bytes | None = None
    forked: bool = False

    def advanced(self, entry: Entry) -> FeedState:
        """The state after also holding ``entry``."""
        if entry.seq > self.seq or (
            entry.seq == self.seq and (self.head is None or entry.id < self.head)
        ):
            return FeedState(self.author, self.group, entry.seq, entry.id, self.forked)
        return self


class ForkProof(NamedTuple):
    """Two different, validly signed entries by one author at one sequence."""

    author: bytes
    seq: int
    first: Entry | None  # an entry held before (None if only its id is known)
    first_id: bytes
    second: Entry


IdsAt = Callable[[int], Collection[bytes]]
"""The ids of the entries a feed holds at a sequence (empty when none or unknown)."""
EntryOf = Callable[[bytes], "Entry | None"]
"""A held entry by id (None when not at hand)."""


def _no_ids(seq: int) -> Collection[bytes]:
    return ()


def _no_entry(digest: bytes) -> Entry | None:
    return None


class RunResult(NamedTuple):
    """Outcome of validating a run of entries against a feed state."""

    state: FeedState
    accepted: tuple[Entry, ...]
    duplicates: int
    error: ValidationError | None
    forks: tuple[ForkProof, ...]  # one per accepted fork entry
    vouched: tuple[Entry, ...]  # FULL only: accepted, own signature fails, vouched for
    rejected: int  # entries not accepted (the erroneous one and those after it)

    @property
    def fork(self) -> ForkProof | None:
        """The first fork proof, if any."""
        return self.forks[0] if self.forks else None


def validate_run(
    state: FeedState,
    entries: Sequence[Entry],
    mode: Mode = Mode.CHAIN,
    *,
    ids_at: IdsAt = _no_ids,
    entry_of: EntryOf = _no_entry,
) -> RunResult:
    """Validate ``entries`` (one feed, ascending sequence) on top of ``state``.

    ``ids_at(seq)`` answers which entries the feed holds at a sequence; ``entry_of(id)``
    gives a held entry for a fork proof. Stops at the first invalid entry: what follows
    depends on it. The returned state is the feed state after the accepted entries.
    """
    author = state.author
    group = state.group
    pending: list[Entry] = []
    is_fork: list[bool] = []
    in_run: dict[int, list[bytes]] = {}  # seq -> ids taken earlier in this run
    proofs: list[tuple[int, ForkProof]] = []  # (index in pending, proof)
    duplicates = 0
    error: ValidationError | None = None
    top = state.seq  # highest sequence held or taken in the run
    stop_index = len(entries)

    def known_at(seq: int) -> list[bytes]:
        found = list(in_run.get(seq, ()))
        if seq <= state.seq:
            found.extend(ids_at(seq))
            if seq == state.seq and state.head is not None:
                found.append(state.head)
        return found

    def links(item: Entry) -> bool:
        """Does ``item``'s previous name an entry held or taken at the sequence before?"""
        previous, seq = item.previous, item.seq
        if seq == 1:
            return previous is None
        if previous is None:
            return False
        return previous in in_run.get(seq - 1, ()) or (
            seq - 1 == state.seq and previous == state.head
        ) or (seq - 1 <= state.seq and previous in ids_at(seq - 1))

    work = list(entries)
    index = -1
    while index + 1 < len(work):
        index += 1
        entry = work[index]
        seq = entry.seq
        if entry.author != author:
            error = WrongAuthor(
                "entry is signed by another author than the feed's",
                feed=author, seq=seq, entry=entry.id,
            )
            stop_index = index
            break
        if entry.group != group:
            error = WrongGroup(
                "entry belongs to another group", feed=author, seq=seq, entry=entry.id
            )
            stop_index = index
            break
        if seq <= top:
            if entry.id == state.head or entry.id in in_run.get(seq, ()):
                duplicates += 1
                continue
            known = known_at(seq)
            if not known or entry.id in known:
                duplicates += 1  # held, or nothing known to tell it from
                continue
            # A different entry at a sequence held: a fork if, and only if, the author
            # really signed it (then it is kept as a branch); a forgery proves nothing.
            if not entry.signature_ok():
                error = BadSignature(
                    "signature does not verify (a different entry at a sequence already held)",
                    feed=author, seq=seq, entry=entry.id,
                )
                stop_index = index
                break
            first_id = min(known)
            first = next((e for e in pending if e.id == first_id), None)
            if first is None:
                first = entry_of(first_id)
            proofs.append((len(pending), ForkProof(author, seq, first, first_id, entry)))
            pending.append(entry)
            is_fork.append(True)
            in_run.setdefault(seq, []).append(entry.id)
            continue
        if seq != top + 1:
            error = SequenceGap(
                f"sequence {seq} does not follow {top}", feed=author, seq=seq, entry=entry.id
            )
            stop_index = index
            break
        if not links(entry):
            # Entries at one new sequence may come in any order: one that links takes
            # the sequence, and the others are forks of it (kept if signed).
            other = index + 1
            while other < len(work) and work[other].seq == seq and not (
                work[other].author == author and work[other].group == group
                and links(work[other])
            ):
                other += 1
            if other < len(work) and work[other].seq == seq:
                work.insert(index, work.pop(other))
                index -= 1
                continue
            expected = "nil" if seq == 1 else "the id of an entry at the sequence before"
            error = WrongPrevious(
                f"previous does not match: expected {expected}",
                feed=author, seq=seq, entry=entry.id,
            )
            stop_index = index
            break
        pending.append(entry)
        is_fork.append(False)
        in_run.setdefault(seq, []).append(entry.id)
        top = seq

    bad_at, vouched = _authenticate(pending, is_fork, mode)
    if bad_at is not None:
        bad = pending[bad_at]
        error = BadSignature(
            "signature does not verify, and no later entry with a good signature vouches"
            " for it", feed=bad.author, seq=bad.seq, entry=bad.id,
        )
        accepted = pending[:bad_at]
        proofs = [(i, p) for i, p in proofs if i < bad_at]
        vouched = [i for i in vouched if i < bad_at]
        rejected = len(entries) - duplicates - len(accepted)
    else:
        accepted = pending
        rejected = len(entries) - stop_index if error is not None else 0
    new_state = state
    for item in accepted:
        new_state = new_state.advanced(item)
    if proofs:
        new_state = new_state._replace(forked=True)
    return RunResult(
        new_state, tuple(accepted), duplicates, error, tuple(p for _, p in proofs),
        tuple(pending[i] for i in vouched), rejected,
    )


def _authenticate(
    run: list[Entry], is_fork: list[bool], mode: Mode
) -> tuple[int | None, list[int]]:
    """The index of the first entry of ``run`` that is not authentic (None: all are),
    and, in FULL mode, the indices of entries authentic only by a later one's vouching.

    Fork entries were taken for their own signature. Others are authentic when their
    own signature verifies or an authentic entry of the run names them as previous:
    walking from the highest sequence down, an entry already covered needs no check
    (CHAIN), so only leaves, and the entries below a failing one, are verified.
    """
    if not run:
        return None, []
    covered: set[bytes] = set()
    authentic = [False] * len(run)
    vouched: list[int] = []
    full = mode is Mode.FULL
    for index in range(len(run) - 1, -1, -1):
        item = run[index]
        if is_fork[index]:
            ok = True
        elif full:
            own = item.signature_ok()
            ok = own or item.id in covered
            if ok and not own:
                vouched.append(index)
        else:
            ok = item.id in covered or item.signature_ok()
        if ok:
            authentic[index] = True
            if item.previous is not None:
                covered.add(item.previous)
    vouched.reverse()
    bad_at = next((i for i, ok in enumerate(authentic) if not ok), None)
    return bad_at, vouched
