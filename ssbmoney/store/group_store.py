"""The durable store of one group's feeds: an append-only log plus a rebuildable index.

Layout of a group directory::

    entries.log    ``framing.LOG_MAGIC``, then every accepted entry of every branch
                   of every feed of the group, framed, in arrival order (the truth)
    forks.log      ``framing.FORKS_MAGIC``, then fork proofs: framed msgpack
                   [first entry | nil, second entry], at most one per feed and sequence
    index.sqlite   a cache of where each entry is, and each feed's head; rebuilt
                   from the logs whenever it is missing, damaged or behind
    lock           the lock file every writer takes (fcntl.flock, blocking)

Each file's own rules live in ``entry_log``, ``fork_log`` and ``index``; this module
keeps them in step, under the lock.

Why one log per group rather than one per feed: a sync batch touches many feeds, and
with one file it shares one fsync instead of one per feed; torn-tail recovery is one
check; and arrival order is kept for free. Groups never share a log, so nothing of
one group travels with another.

Concurrency: every write happens under an exclusive ``flock`` on ``lock``, so several
processes on one home (a command, the TUI, a server) are serialized and never
refused: they wait. A writer first catches up with whatever other processes
appended since it last looked (and only then may it cut a torn tail, which by the
lock no living writer can be in the middle of). An append is acknowledged only after
``fdatasync``.

The index trails the log: appends write and sync the log, and the rows describing
them are written to SQLite at the next read, ``flush_index`` or ``close``, in one
transaction. Any process can bring the index up to date from the log alone, which is
how crash recovery, catching up with other writers and a full rebuild all work.

A feed may hold several entries at one sequence (a fork: every branch is kept, so its
money counts on every branch); the index maps (feed, sequence) to all of them. A home
or log written by format 1 (no magic) is refused, and nothing in it is changed.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import MissingContent, StoreError, ValidationError
from ssbmoney.core.validate import FeedState, ForkProof, Mode, validate_run
from ssbmoney.store import entry_log, fork_log, index
from ssbmoney.store.entry_log import LOG_NAME
from ssbmoney.store.fork_log import FORKS_NAME
from ssbmoney.store.index import INDEX_NAME

__all__ = [
    "FORKS_NAME", "INDEX_NAME", "LOCK_NAME", "LOG_NAME", "IngestReport", "Store", "fsync_dir",
]

LOCK_NAME = "lock"

_T = TypeVar("_T")


class IngestReport(NamedTuple):
    accepted: tuple[Entry, ...]
    duplicates: int
    errors: tuple[ValidationError, ...]
    forks: tuple[ForkProof, ...]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """One group's entries on disk. Use as a context manager, or call ``close``."""

    def __init__(self, directory: Path, group: bytes) -> None:
        self.directory = Path(directory)
        self.group = group
        new_dir = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        if new_dir:
            fsync_dir(self.directory.parent)
        self._log_path = self.directory / LOG_NAME
        self._forks_path = self.directory / FORKS_NAME
        self._thread_lock = threading.RLock()
        self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        self._lock_depth = 0
        self._log_fd = -1
        self._states: dict[bytes, FeedState] = {}
        self._proven: set[tuple[bytes, int]] = set()  # (feed, seq) with a fork proof
        self._forks_seen = -1  # size of forks.log when last read
        self._end = framing.MAGIC_SIZE  # log offset up to which self._states is current
        self._pending: list[index.Row] = []
        self._db: sqlite3.Connection | None = None
        try:
            with self.locked():
                self._log_fd = os.open(
                    self._log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600
                )
                if new_dir:
                    fsync_dir(self.directory)
                entry_log.start(self._log_fd, self._log_path)
                self._open_index()
                self._catch_up()
        except BaseException:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._log_fd >= 0:
                os.close(self._log_fd)
                self._log_fd = -1
            os.close(self._lock_fd)
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._log_fd < 0:
            return
        try:
            self.flush_index()
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None
            os.close(self._log_fd)
            os.close(self._lock_fd)
            self._log_fd = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the home-wide write lock (re-entrant within this object)."""
        with self._thread_lock:
            if self._lock_depth == 0:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # ---------------------------------------------------------------------- index

    def _open_index(self) -> None:
        path = self.directory / INDEX_NAME
        try:
            self._db = index.connect(path)
            indexed_end = index.indexed_end(self._db, os.fstat(self._log_fd).st_size)
            self._load_index(indexed_end)
        except sqlite3.DatabaseError:
            self._rebuild_index_file(path)

    def _rebuild_index_file(self, path: Path) -> None:
        if self._db is not None:
            self._db.close()
        index.remove(path)
        self._db = index.connect(path)
        self._states = {}
        self._end = framing.MAGIC_SIZE
        self._pending = []
        self._forks_seen = -1  # states were dropped: mark the forked feeds again

    def _load_index(self, indexed_end: int) -> None:
        assert self._db is not None
        self._states = index.load_heads(self._db, self.group)
        self._end = indexed_end
        self._forks_seen = -1  # fresh states: mark the forked feeds again

    def rebuild_index(self) -> None:
        """Throw the index away and build it again from the logs."""
        with self.locked():
            self._rebuild_index_file(self.directory / INDEX_NAME)
            self._catch_up()
            self.flush_index()

    def flush_index(self) -> None:
        """Write the rows for entries appended since the last flush, in one transaction."""
        with self._thread_lock:
            if not self._pending or self._db is None:
                return
            index.write_rows(self._db, self._pending, self._states, self._end)
            self._pending = []

    # ---------------------------------------------------------------- catching up

    def _catch_up(self) -> None:
        """Read what is in the log beyond ``self._end``; cut a torn tail. Needs the lock."""
        size = os.fstat(self._log_fd).st_size
        if size != self._end:
            start = self._end
            data = os.pread(self._log_fd, size - start, start)
            pos = start
            for offset, payload in framing.scan(data):
                try:
                    entry = entry_mod.decode(payload)
                except ValidationError as err:
                    raise StoreError(
                        f"{self._log_path}: entry at offset {start + offset} is damaged"
                        f" ({err.message}); run `ssbmoney audit` on this home"
                    ) from None
                self._note(entry, start + offset, len(payload))
                pos = start + offset + framing.HEADER_SIZE + len(payload)
            if pos < size:
                self._end = pos
                entry_log.check_torn(self._log_path, data[pos - start :], pos)
                # A frame that was never completed (so never acknowledged): cut it.
                os.ftruncate(self._log_fd, pos)
                os.fsync(self._log_fd)
            self._end = pos
        self._load_forks()

    def _note(self, entry: Entry, offset: int, length: int) -> None:
        old = self._states.get(entry.author)
        if old is None:
            self._states[entry.author] = FeedState(entry.author, self.group, entry.seq, entry.id)
        elif entry.seq >= old.seq:
            self._states[entry.author] = old.advanced(entry)
        self._pending.append((entry.id, entry.author, entry.seq, offset, length))

    def _load_forks(self) -> None:
        """Take in the fork proofs, when the file changed since we last read it."""
        size = fork_log.size(self._forks_path)
        if size == self._forks_seen:
            return
        self._forks_seen = size
        for proof in self.forks():
            self._mark_forked(proof.author, proof.seq)

    def _mark_forked(self, author: bytes, seq: int) -> None:
        self._proven.add((author, seq))
        state = self._states.get(author) or FeedState(author, self.group)
        self._states[author] = state._replace(forked=True)

    # ------------------------------------------------------------------- writing

    def _write(self, payloads: Sequence[bytes]) -> list[int]:
        """Append framed payloads to the log and sync; returns each frame's offset."""
        offsets = []
        pos = self._end
        frames = []
        for payload in payloads:
            offsets.append(pos)
            framed = framing.frame(payload)
            frames.append(framed)
            pos += len(framed)
        self._write_frames(frames)
        return offsets

    def _write_frames(self, frames: list[bytes]) -> None:
        """Write whole frames at the end of the log and ``fdatasync`` them."""
        data = b"".join(frames)
        entry_log.write_all(self._log_fd, data)
        self._end += len(data)

    def append(
        self,
        secret: bytes,
        author: bytes,
        contents: Sequence[bytes],
        claimed_ms: int | Callable[[], int],
    ) -> list[Entry]:
        """Sign and durably append entries to our own feed, as one batch.

        ``claimed_ms`` is the timestamp to claim (or a clock to ask once per batch);
        it is shown to people and never decides anything. On a forked feed the new
        entries extend its head (the tip of its longest branch): never a second entry
        at a sequence held.
        """
        with self.locked():
            self._refresh()
            state = self._states.get(author) or FeedState(author, self.group)
            stamp = claimed_ms() if callable(claimed_ms) else claimed_ms
            create, header = entry_mod.create, framing.header
            scratch = entry_mod.SignScratch()
            group = self.group
            seq, head = state.seq, state.head
            made: list[Entry] = []
            frames: list[bytes] = []  # header, payload, header, payload, ...
            rows: list[index.Row] = []
            pos = self._end
            for content in contents:
                seq += 1
                made_entry = create(secret, author, group, seq, head, stamp, content, scratch)
                head = made_entry.id
                raw = made_entry.raw
                made.append(made_entry)
                frames.append(header(raw))
                frames.append(raw)
                rows.append((head, author, seq, pos, len(raw)))
                pos += framing.HEADER_SIZE + len(raw)
            if not made:
                return made
            self._write_frames(frames)
            self._pending.extend(rows)
            self._states[author] = FeedState(author, group, seq, head, state.forked)
            return made

    def ingest(self, entries: Iterable[Entry], mode: Mode = Mode.CHAIN) -> IngestReport:
        """Validate entries from elsewhere and durably keep the valid ones.

        Entries may come from many feeds in any order; each feed's run is sorted (by
        sequence, then id) and validated on top of what we hold. Invalid entries are
        refused with typed errors and change nothing; a validly signed second entry at
        a sequence held is kept as a branch, and the first proof of a fork at each
        sequence is kept in ``forks.log``.
        """
        by_feed: dict[bytes, list[Entry]] = {}
        errors: list[ValidationError] = []
        for item in entries:
            if item.content is None:  # decode refuses these; never store one
                errors.append(MissingContent(
                    "entry came without its content (stripped, e.g. by a relay); entries"
                    " are taken only with their content",
                    feed=item.author, seq=item.seq, entry=item.id))
                continue
            by_feed.setdefault(item.author, []).append(item)
        accepted: list[Entry] = []
        duplicates = 0
        forks: list[ForkProof] = []
        with self.locked():
            self._refresh()
            for author, run in by_feed.items():
                run.sort(key=_seq_then_id)
                state = self._states.get(author) or FeedState(author, self.group)
                result = validate_run(
                    state,
                    run,
                    mode,
                    ids_at=functools.partial(self.ids_at, author),
                    entry_of=self.get,
                )
                accepted.extend(result.accepted)
                duplicates += result.duplicates
                if result.error is not None:
                    errors.append(result.error)
                forks.extend(result.forks)
            if accepted:
                offsets = self._write([e.raw for e in accepted])
                for item, offset in zip(accepted, offsets, strict=True):
                    self._note(item, offset, len(item.raw))
            fresh = fork_log.unproven(self._proven, forks)
            if fresh:
                self._write_forks(fresh)
        return IngestReport(tuple(accepted), duplicates, tuple(errors), tuple(forks))

    def ingest_fork_proofs(
        self, pairs: Iterable[tuple[Entry, Entry]]
    ) -> tuple[int, list[ValidationError]]:
        """Keep fork proofs learnt from elsewhere (an export, a peer): each must be two
        different entries of one feed of this group at one sequence, both validly
        signed. Returns how many were new, and the errors of those refused. (The
        entries themselves are taken in by ``ingest``, like any other.)"""
        with self.locked():
            self._refresh()
            found, errors = fork_log.check_pairs(self.group, pairs)
            fresh = fork_log.unproven(self._proven, found)
            if fresh:
                self._write_forks(fresh)
        return len(fresh), errors

    def _write_forks(self, forks: Sequence[ForkProof]) -> None:
        fork_log.append(self._forks_path, forks)
        for proof in forks:
            self._mark_forked(proof.author, proof.seq)

    def _refresh(self) -> None:
        """Under the lock: take in what other processes appended since we last looked."""
        if (os.fstat(self._log_fd).st_size != self._end
                or fork_log.size(self._forks_path) != self._forks_seen):
            self._catch_up()

    # ------------------------------------------------------------------- reading

    def _read_at(self, offset: int, length: int) -> Entry:
        return entry_log.read_at(self._log_fd, offset, length)

    def _indexed(self) -> sqlite3.Connection:
        """The index, brought up to date with every writer's appends."""
        with self.locked():
            self._refresh()
            self.flush_index()
        assert self._db is not None
        return self._db

    def _query(self, ask: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a query on the up-to-date index; a damaged index is rebuilt from the
        logs and the query tried once more."""
        for attempt in (1, 2):
            try:
                return ask(self._indexed())
            except sqlite3.DatabaseError as err:
                if attempt == 2:
                    raise StoreError(f"the index cannot be rebuilt: {err}") from None
                self.rebuild_index()
        raise AssertionError("unreachable")

    def ids_at(self, author: bytes, seq: int) -> set[bytes]:
        """The ids of the entries ``author``'s feed holds at ``seq`` (several after a
        fork; none when it holds none)."""
        return self._query(lambda db: index.ids_at(db, author, seq))

    def entries_at(self, author: bytes, seq: int) -> list[Entry]:
        """The entries ``author``'s feed holds at ``seq``, by id."""
        rows = self._query(lambda db: index.locations_at(db, author, seq))
        return [self._read_at(offset, length) for offset, length in rows]

    def has(self, digest: bytes) -> bool:
        return self._query(lambda db: index.has(db, digest))

    def heads(self) -> dict[bytes, FeedState]:
        """Every feed's state (highest sequence, head id, forked), up to date. The head
        is the tip of the longest branch (highest sequence; ties: the lowest id)."""
        with self.locked():
            self._refresh()
            return dict(self._states)

    def feed_entries(self, author: bytes, from_seq: int = 1) -> list[Entry]:
        """The feed's entries from ``from_seq`` on, every branch, by sequence then id."""
        rows = self._query(lambda db: index.locations_from(db, author, from_seq))
        return [self._read_at(offset, length) for offset, length in rows]

    def feed_raw(self, author: bytes, from_seq: int = 1) -> list[bytes]:
        """``feed_entries`` as the stored bytes, undecoded: what a sync sends."""
        rows = self._query(lambda db: index.locations_from(db, author, from_seq))
        pread, size = os.pread, framing.HEADER_SIZE
        return [pread(self._log_fd, length, offset + size) for offset, length in rows]

    def get(self, digest: bytes) -> Entry | None:
        found = self._query(lambda db: index.location(db, digest))
        return self._read_at(*found) if found is not None else None

    def end(self) -> int:
        """Where the log ends now: ``read_from`` this later for what came since."""
        with self.locked():
            self._refresh()
            return self._end

    def count(self) -> int:
        return self._query(index.count)

    def read_from(self, offset: int) -> tuple[list[Entry], int]:
        """The entries appended to the log from ``offset`` on (0: from the start), in
        arrival order, and the offset to resume from next time."""
        with self.locked():
            self._refresh()
            end = self._end
        start = max(offset, framing.MAGIC_SIZE)
        if start > end:
            raise StoreError(
                f"{self._log_path}: offset {offset} is beyond the end of the log ({end})"
            )
        if start == end:
            return [], end
        data = os.pread(self._log_fd, end - start, start)
        decode = entry_mod.decode
        out: list[Entry] = []
        pos = 0
        for rel, payload in framing.scan(data):
            out.append(decode(payload))
            pos = rel + framing.HEADER_SIZE + len(payload)
        if pos != len(data):
            raise StoreError(
                f"{self._log_path}: offset {offset} is not where an entry starts"
            )
        return out, end

    def all_entries(self) -> Iterator[Entry]:
        """Every entry of every branch, in log (arrival) order, read from the log."""
        with self.locked():
            self._refresh()
            end = self._end
        data = os.pread(self._log_fd, end, 0)
        decode = entry_mod.decode
        pos = framing.MAGIC_SIZE
        for offset, payload in framing.scan(data, framing.MAGIC_SIZE):
            yield decode(payload)
            pos = offset + framing.HEADER_SIZE + len(payload)
        if pos < end:
            entry_log.check_torn(self._log_path, data[pos:], pos)
            raise StoreError(f"{self._log_path} is damaged at offset {pos}")

    def forks(self) -> list[ForkProof]:
        """The fork proofs held: two entries each, at most one per feed and sequence."""
        return fork_log.read(self._forks_path)


def _seq_then_id(item: Entry) -> tuple[int, bytes]:
    return item.seq, item.id
