"""Between the replication machine and a group's store: the frontier we announce, the
batches we send, and storing the batches we receive.

Blocking file and index work: the session runs these in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ssbmoney.core import entry as entry_mod
from ssbmoney.core.entry import Entry, entry_id, feed_id
from ssbmoney.core.errors import ValidationError
from ssbmoney.core.framing import HEADER_SIZE
from ssbmoney.core.replicate import Tips, Want
from ssbmoney.core.wire import BATCH_BYTES, BATCH_ENTRIES, Batch
from ssbmoney.store.group_store import FORKS_NAME, Store


def frontier(store: Store) -> dict[bytes, Tips]:
    """Every feed held, with its tip; a forked feed with every branch's tip."""
    out: dict[bytes, Tips] = {}
    for author, state in store.heads().items():
        if state.head is None:
            continue
        if not state.forked:
            out[author] = ((state.seq, state.head),)
            continue
        entries = store.feed_entries(author)
        linked = {e.previous for e in entries}
        out[author] = tuple(sorted((e.seq, e.id) for e in entries if e.id not in linked))
    return out


@dataclass(frozen=True)
class Bounds:
    """What a pub keeps of one group (0: no bound): sequences per feed, entries at one
    sequence of a feed (branches), and bytes in all (entries and fork proofs)."""

    feed_entries: int = 0
    group_bytes: int = 0
    branches: int = 0


Outgoing = tuple[tuple[bytes, ...], tuple[tuple[bytes, bytes], ...]]


def outgoing(store: Store, wants: tuple[Want, ...]) -> Iterator[Outgoing]:
    """The entries (raw) and fork proofs the wants ask for, in batches of at most
    ``BATCH_ENTRIES`` entries or ``BATCH_BYTES`` bytes (a single larger entry goes alone)."""
    proofs_by_feed: dict[bytes, list[tuple[bytes, bytes]]] = {}
    if any(w.proofs for w in wants):
        for proof in store.forks():
            if proof.first is not None:
                proofs_by_feed.setdefault(proof.author, []).append(
                    (proof.first.raw, proof.second.raw))
    batch: list[bytes] = []
    proofs: list[tuple[bytes, bytes]] = []
    size = 0

    def full(extra: int) -> bool:
        return bool(batch or proofs) and (
            len(batch) + 2 * len(proofs) >= BATCH_ENTRIES or size + extra > BATCH_BYTES)

    for want in wants:
        for raw in store.feed_raw(want.feed, want.from_seq):
            if full(len(raw)):
                yield tuple(batch), tuple(proofs)
                batch, proofs, size = [], [], 0
            batch.append(raw)
            size += len(raw)
        # After the feed's entries: a proof's entries need what comes before them.
        for pair in proofs_by_feed.get(want.feed, ()) if want.proofs else ():
            if full(len(pair[0]) + len(pair[1])):
                yield tuple(batch), tuple(proofs)
                batch, proofs, size = [], [], 0
            proofs.append(pair)
            size += len(pair[0]) + len(pair[1])
    if batch or proofs:
        yield tuple(batch), tuple(proofs)


def count(store: Store, wants: tuple[Want, ...], mine: dict[bytes, Tips]) -> int:
    """About how many entries the wants send (exact for feeds that never forked)."""
    total = 0
    for want in wants:
        top = max(seq for seq, _ in mine[want.feed])
        total += max(0, top - want.from_seq + 1)
    return total


@dataclass
class Stored:
    stored: int
    refused: str  # what a bound refused ("" when nothing)
    error: ValidationError | None  # the first invalid entry: the session ends
    accepted: tuple[Entry, ...]


def _bounded(store: Store, entries: list[Entry], bounds: Bounds) -> tuple[list[Entry], str]:
    if not (bounds.feed_entries or bounds.group_bytes or bounds.branches):
        return entries, ""
    kept: list[Entry] = []
    refused: dict[bytes, str] = {}
    heads = store.heads()
    used = 0
    if bounds.group_bytes:
        forks = store.directory / FORKS_NAME
        used = store.end() + (forks.stat().st_size if forks.exists() else 0)
    at: dict[tuple[bytes, int], set[bytes]] = {}  # ids at (feed, seq) held or kept here
    kept_ids: set[bytes] = set()
    for item in entries:
        state = heads.get(item.author)
        if item.previous is not None and not (
                item.previous in kept_ids or (state is not None and item.previous == state.head)
                or store.has(item.previous)):
            continue  # its parent was refused (here or before): so is it, quietly
        if bounds.feed_entries and item.seq > bounds.feed_entries:
            refused.setdefault(item.author, f"feed {feed_id(item.author)} is past this pub's"
                               f" bound of {bounds.feed_entries} entries")
            continue
        if bounds.branches:
            ids = at.get((item.author, item.seq))
            if ids is None:
                held = state is not None and item.seq <= state.seq
                ids = set(store.ids_at(item.author, item.seq)) if held else set()
                at[(item.author, item.seq)] = ids
            if item.id not in ids and len(ids) >= bounds.branches:
                refused.setdefault(item.author + b"b", f"feed {feed_id(item.author)} has more"
                                   f" than this pub's bound of {bounds.branches} branches")
                continue
            ids.add(item.id)
        size = len(item.raw) + HEADER_SIZE  # as the log holds it, framed
        if bounds.group_bytes and used + size > bounds.group_bytes:
            refused.setdefault(b"", f"the group is at this pub's bound of"
                               f" {bounds.group_bytes} bytes")
            continue
        used += size
        kept.append(item)
        kept_ids.add(item.id)
    return kept, "; ".join(refused.values())


def store_batch(store: Store, batch: Batch, bounds: Bounds = Bounds()) -> Stored:
    """Validate (chain mode) and durably store a batch: every entry up to the first that
    is malformed or invalid, and the fork proofs. One fsync for the batch."""
    decoded: list[Entry] = []
    error: ValidationError | None = None
    for raw in batch.entries:
        try:
            decoded.append(entry_mod.decode(raw))
        except ValidationError as err:
            error = err
            break
    pairs: list[tuple[Entry, Entry]] = []
    if error is None:
        for first, second in batch.proofs:
            try:
                pairs.append((entry_mod.decode(first), entry_mod.decode(second)))
            except ValidationError as err:
                error = err
                break
    proof_entries = [e for pair in pairs for e in pair]
    kept, refused = _bounded(store, [*decoded, *proof_entries], bounds)
    report = store.ingest(kept)
    if report.errors and error is None:
        error = report.errors[0]
    # A proof is kept only when both its entries are (a proof of a feed not held, or
    # past a bound, would be bytes no bound counts).
    held = [pair for pair in pairs if store.has(pair[0].id) and store.has(pair[1].id)]
    if held:
        _, bad = store.ingest_fork_proofs(held)
        if bad and error is None:
            error = bad[0]
    return Stored(len(report.accepted), refused, error, report.accepted)


def describe(err: ValidationError) -> str:
    where = ""
    if err.feed is not None:
        where += f" in feed {feed_id(err.feed)}"
    if err.seq is not None:
        where += f" at seq {err.seq}"
    if err.entry is not None:
        where += f" (entry {entry_id(err.entry)})"
    return f"{err.kind}{where}: {err.message}"
