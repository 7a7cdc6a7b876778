"""The file of fork proofs, ``forks.log``: reading it, and appending to it durably.

Why it is a module of its own: the proofs are a second log beside the entries, with
its own magic and record (framed msgpack ``[first entry | nil, second entry]``, at
most one per feed and sequence), its own torn-tail cut and its own fsync; the store
decides when proofs are kept and what they mark, and this module only keeps the file.
Every writer here must hold the group's write lock (``Store.locked``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgpack

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import BadForkProof, StoreError, ValidationError
from ssbmoney.core.validate import ForkProof

FORKS_NAME = "forks.log"


def size(path: Path) -> int:
    """The file's size (0 when there is none), to tell whether it changed."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def read(path: Path) -> list[ForkProof]:
    """The fork proofs held: two entries each, at most one per feed and sequence."""
    if not path.exists():
        return []
    data = path.read_bytes()
    try:
        framing.check_magic(data, framing.FORKS_MAGIC, str(path))
    except framing.FormatMismatch as err:
        raise StoreError(err.message) from None
    proofs = []
    for _offset, payload in framing.scan(data, framing.MAGIC_SIZE):
        first_raw, second_raw = msgpack.unpackb(payload)
        second = entry_mod.decode(second_raw)
        first = entry_mod.decode(first_raw) if first_raw is not None else None
        first_id = first.id if first is not None else b""
        proofs.append(ForkProof(second.author, second.seq, first, first_id, second))
    return proofs


def unproven(proven: Iterable[tuple[bytes, int]], forks: Iterable[ForkProof]) -> list[ForkProof]:
    """The proofs of forks at a (feed, sequence) not in ``proven``, one for each."""
    fresh: list[ForkProof] = []
    seen = set(proven)
    for proof in forks:
        if (proof.author, proof.seq) not in seen:
            seen.add((proof.author, proof.seq))
            fresh.append(proof)
    return fresh


def check_pairs(
    group: bytes, pairs: Iterable[tuple[Entry, Entry]]
) -> tuple[list[ForkProof], list[ValidationError]]:
    """The proofs made of pairs learnt from elsewhere, each two different entries of
    one feed of ``group`` at one sequence, both validly signed; and the errors of the
    pairs refused."""
    found: list[ForkProof] = []
    errors: list[ValidationError] = []
    for first, second in pairs:
        if not (first.author == second.author and first.seq == second.seq
                and first.id != second.id and first.group == second.group == group
                and first.signature_ok() and second.signature_ok()):
            errors.append(BadForkProof(
                "a fork proof must be two different, validly signed entries of"
                " one feed of this group at one sequence",
                feed=second.author, seq=second.seq, entry=second.id))
            continue
        found.append(ForkProof(first.author, first.seq, first, first.id, second))
    return found, errors


def append(path: Path, forks: Sequence[ForkProof]) -> None:
    """Under the lock: append proofs and ``fsync``; start the file with its magic (or
    finish one a crash left half-started), refuse one of another format."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
        try:
            framing.check_magic(data, framing.FORKS_MAGIC, str(path))
        except framing.FormatMismatch as err:
            raise StoreError(err.message) from None
        if size < framing.MAGIC_SIZE:
            os.ftruncate(fd, 0)
            os.write(fd, framing.FORKS_MAGIC)
        else:
            # Under the lock: cut a proof torn by a crash (never acknowledged), or
            # every proof appended after it would be unreadable.
            good = framing.good_end(data, framing.MAGIC_SIZE)
            if good < size:
                os.ftruncate(fd, good)
        out = b"".join(
            framing.frame(
                msgpack.packb([p.first.raw if p.first else None, p.second.raw])
            )
            for p in forks
        )
        os.write(fd, out)
        os.fsync(fd)
    finally:
        os.close(fd)
