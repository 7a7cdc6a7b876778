"""The durable store of one group's feeds: an append-only log plus a rebuildable index.

Layout of a group directory::

    entries.log    ``framing.LOG_MAGIC``, then every accepted entry of every branch
                   of every feed of the group, framed, in arrival order (the truth)
    forks.log      ``framing.FORKS_MAGIC``, then fork proofs: framed msgpack
                   [first entry | nil, second entry], at most one per feed and sequence
    index.sqlite   a cache of where each entry is, and each feed's head; rebuilt
                   from the logs whenever it is missing, damaged or behind
    lock           the lock file every writer takes (fcntl.flock, blocking)

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
from typing import Any, NamedTuple

import msgpack

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import BadForkProof, MissingContent, StoreError, ValidationError
from ssbmoney.core.validate import FeedState, ForkProof, Mode, validate_run

INDEX_FORMAT = 2

LOG_NAME = "entries.log"
FORKS_NAME = "forks.log"
INDEX_NAME = "index.sqlite"
LOCK_NAME = "lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id BLOB PRIMARY KEY, feed BLOB NOT NULL, seq INTEGER NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_feed ON entries (feed, seq);
CREATE TABLE IF NOT EXISTS feeds (
    feed BLOB PRIMARY KEY, seq INTEGER NOT NULL, head BLOB NOT NULL
) WITHOUT ROWID;
"""


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
        self._pending: list[tuple[bytes, bytes, int, int, int]] = []
        self._db: sqlite3.Connection | None = None
        try:
            with self.locked():
                self._log_fd = os.open(
                    self._log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600
                )
                if new_dir:
                    fsync_dir(self.directory)
                self._check_log_magic()
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

    def _check_log_magic(self) -> None:
        """Under the lock: start a new log with its magic (or finish one a crash left
        half-started); refuse a log of another format, changing nothing."""
        size = os.fstat(self._log_fd).st_size
        head = os.pread(self._log_fd, min(size, framing.MAX_FRAME + 16), 0)
        try:
            framing.check_magic(head, framing.LOG_MAGIC, str(self._log_path))
        except framing.FormatMismatch as err:
            raise StoreError(err.message) from None
        if size < framing.MAGIC_SIZE:
            if size:
                os.ftruncate(self._log_fd, 0)
            os.write(self._log_fd, framing.LOG_MAGIC)
            os.fsync(self._log_fd)

    # ---------------------------------------------------------------------- index

    def _open_index(self) -> None:
        path = self.directory / INDEX_NAME
        try:
            self._db = self._connect(path)
            row = self._db.execute("SELECT value FROM meta WHERE key='log_end'").fetchone()
            fmt = self._db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            indexed_end = int(row[0]) if row else framing.MAGIC_SIZE
            if row is not None and (fmt is None or int(fmt[0]) != INDEX_FORMAT):
                raise sqlite3.DatabaseError("index of another format")
            if indexed_end > os.fstat(self._log_fd).st_size:
                raise sqlite3.DatabaseError("index is ahead of the log")
            indexed_end = max(indexed_end, framing.MAGIC_SIZE)
            self._load_index(indexed_end)
        except sqlite3.DatabaseError:
            self._rebuild_index_file(path)

    def _connect(self, path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # The log is the truth; a lost index write is caught up from the log.
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
        return db

    def _rebuild_index_file(self, path: Path) -> None:
        if self._db is not None:
            self._db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        self._db = self._connect(path)
        self._states = {}
        self._end = framing.MAGIC_SIZE
        self._pending = []
        self._forks_seen = -1  # states were dropped: mark the forked feeds again

    def _load_index(self, indexed_end: int) -> None:
        assert self._db is not None
        self._states = {
            bytes(feed): FeedState(bytes(feed), self.group, seq, bytes(head))
            for feed, seq, head in self._db.execute("SELECT feed, seq, head FROM feeds")
        }
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
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", self._pending
                )
                touched = {row[1] for row in self._pending}
                db.executemany(
                    "INSERT INTO feeds VALUES (?, ?, ?) ON CONFLICT(feed) DO UPDATE SET"
                    " seq=excluded.seq, head=excluded.head WHERE excluded.seq > feeds.seq"
                    " OR (excluded.seq = feeds.seq AND excluded.head < feeds.head)",
                    [(f, self._states[f].seq, self._states[f].head) for f in touched],
                )
                db.execute(
                    "INSERT INTO meta VALUES ('log_end', ?) ON CONFLICT(key) DO UPDATE SET"
                    " value=max(value, excluded.value)",
                    (self._end,),
                )
                db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (INDEX_FORMAT,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
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
                self._check_torn(data[pos - start :], pos)
                # A frame that was never completed (so never acknowledged): cut it.
                os.ftruncate(self._log_fd, pos)
                os.fsync(self._log_fd)
            self._end = pos
        self._load_forks()

    def _check_torn(self, rest: bytes, offset: int) -> None:
        """Refuse to go on when what stops a scan at ``offset`` is not a torn tail:
        whole frames after it mean damage inside the log, and cutting there would
        throw away entries that were acknowledged."""
        found = framing.next_frame(rest, 0)
        if found is not None:
            raise StoreError(
                f"{self._log_path} is damaged at offset {offset}, with whole entries after"
                " it; nothing was changed. Run `ssbmoney audit` on this home, and restore"
                " the log from a backup or an export"
            )

    def _note(self, entry: Entry, offset: int, length: int) -> None:
        old = self._states.get(entry.author)
        if old is None:
            self._states[entry.author] = FeedState(entry.author, self.group, entry.seq, entry.id)
        elif entry.seq >= old.seq:
            self._states[entry.author] = old.advanced(entry)
        self._pending.append((entry.id, entry.author, entry.seq, offset, length))

    def _forks_size(self) -> int:
        try:
            return os.stat(self._forks_path).st_size
        except FileNotFoundError:
            return 0

    def _load_forks(self) -> None:
        """Take in the fork proofs, when the file changed since we last read it."""
        size = self._forks_size()
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
        written = os.write(self._log_fd, data)
        while written < len(data):
            written += os.write(self._log_fd, data[written:])
        os.fdatasync(self._log_fd)
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
            rows: list[tuple[bytes, bytes, int, int, int]] = []
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
            fresh = self._unproven(forks)
            if fresh:
                self._write_forks(fresh)
        return IngestReport(tuple(accepted), duplicates, tuple(errors), tuple(forks))

    def _unproven(self, forks: Iterable[ForkProof]) -> list[ForkProof]:
        """The proofs of forks at a (feed, sequence) not proven yet, one for each."""
        fresh: list[ForkProof] = []
        seen = set(self._proven)
        for proof in forks:
            if (proof.author, proof.seq) not in seen:
                seen.add((proof.author, proof.seq))
                fresh.append(proof)
        return fresh

    def ingest_fork_proofs(
        self, pairs: Iterable[tuple[Entry, Entry]]
    ) -> tuple[int, list[ValidationError]]:
        """Keep fork proofs learnt from elsewhere (an export, a peer): each must be two
        different entries of one feed of this group at one sequence, both validly
        signed. Returns how many were new, and the errors of those refused. (The
        entries themselves are taken in by ``ingest``, like any other.)"""
        found: list[ForkProof] = []
        errors: list[ValidationError] = []
        with self.locked():
            self._refresh()
            for first, second in pairs:
                if not (first.author == second.author and first.seq == second.seq
                        and first.id != second.id and first.group == second.group == self.group
                        and first.signature_ok() and second.signature_ok()):
                    errors.append(BadForkProof(
                        "a fork proof must be two different, validly signed entries of"
                        " one feed of this group at one sequence",
                        feed=second.author, seq=second.seq, entry=second.id))
                    continue
                found.append(ForkProof(first.author, first.seq, first, first.id, second))
            fresh = self._unproven(found)
            if fresh:
                self._write_forks(fresh)
        return len(fresh), errors

    def _write_forks(self, forks: Sequence[ForkProof]) -> None:
        fd = os.open(self._forks_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0)
            try:
                framing.check_magic(data, framing.FORKS_MAGIC, str(self._forks_path))
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
        for proof in forks:
            self._mark_forked(proof.author, proof.seq)

    def _refresh(self) -> None:
        """Under the lock: take in what other processes appended since we last looked."""
        if (os.fstat(self._log_fd).st_size != self._end
                or self._forks_size() != self._forks_seen):
            self._catch_up()

    # ------------------------------------------------------------------- reading

    def _read_at(self, offset: int, length: int) -> Entry:
        data = os.pread(self._log_fd, framing.HEADER_SIZE + length, offset)
        return entry_mod.decode(data[framing.HEADER_SIZE :])

    def _indexed(self) -> sqlite3.Connection:
        """The index, brought up to date with every writer's appends."""
        with self.locked():
            self._refresh()
            self.flush_index()
        assert self._db is not None
        return self._db

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run a query on the up-to-date index; a damaged index is rebuilt from the
        logs and the query tried once more."""
        for attempt in (1, 2):
            try:
                return self._indexed().execute(sql, params).fetchall()
            except sqlite3.DatabaseError as err:
                if attempt == 2:
                    raise StoreError(f"the index cannot be rebuilt: {err}") from None
                self.rebuild_index()
        raise AssertionError("unreachable")

    def ids_at(self, author: bytes, seq: int) -> set[bytes]:
        """The ids of the entries ``author``'s feed holds at ``seq`` (several after a
        fork; none when it holds none)."""
        rows = self._query("SELECT id FROM entries WHERE feed=? AND seq=?", (author, seq))
        return {bytes(row[0]) for row in rows}

    def entries_at(self, author: bytes, seq: int) -> list[Entry]:
        """The entries ``author``'s feed holds at ``seq``, by id."""
        rows = self._query(
            "SELECT offset, length FROM entries WHERE feed=? AND seq=? ORDER BY id",
            (author, seq),
        )
        return [self._read_at(offset, length) for offset, length in rows]

    def has(self, digest: bytes) -> bool:
        return bool(self._query("SELECT 1 FROM entries WHERE id=?", (digest,)))

    def heads(self) -> dict[bytes, FeedState]:
        """Every feed's state (highest sequence, head id, forked), up to date. The head
        is the tip of the longest branch (highest sequence; ties: the lowest id)."""
        with self.locked():
            self._refresh()
            return dict(self._states)

    def feed_entries(self, author: bytes, from_seq: int = 1) -> list[Entry]:
        """The feed's entries from ``from_seq`` on, every branch, by sequence then id."""
        rows = self._query(
            "SELECT offset, length FROM entries WHERE feed=? AND seq>=? ORDER BY seq, id",
            (author, from_seq),
        )
        return [self._read_at(offset, length) for offset, length in rows]

    def get(self, digest: bytes) -> Entry | None:
        rows = self._query("SELECT offset, length FROM entries WHERE id=?", (digest,))
        return self._read_at(rows[0][0], rows[0][1]) if rows else None

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM entries")[0][0])

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
            self._check_torn(data[pos:], pos)
            raise StoreError(f"{self._log_path} is damaged at offset {pos}")

    def forks(self) -> list[ForkProof]:
        """The fork proofs held: two entries each, at most one per feed and sequence."""
        if not self._forks_path.exists():
            return []
        data = self._forks_path.read_bytes()
        try:
            framing.check_magic(data, framing.FORKS_MAGIC, str(self._forks_path))
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


def _seq_then_id(item: Entry) -> tuple[int, bytes]:
    return item.seq, item.id
