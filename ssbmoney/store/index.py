"""The SQLite index of a group's log: where each entry is, and each feed's head.

Why it is a module of its own: the index is a cache, with its own format, schema and
rules (it may be lost, damaged or behind, and is then rebuilt from the logs), while
``group_store`` holds the truth and decides when the cache is caught up. Here are the
schema, opening and dropping the file, reading where it stands, writing the rows of a
batch of appends in one transaction, and the queries; nothing here reads the logs.
Every function takes the open connection; ``sqlite3.DatabaseError`` is left to the
caller, which rebuilds the index from the logs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from ssbmoney.core import framing
from ssbmoney.core.validate import FeedState

INDEX_NAME = "index.sqlite"
INDEX_FORMAT = 2

# One row per entry: (id, feed, seq, offset, length) of its frame in the log.
Row = tuple[bytes, bytes, int, int, int]

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


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # The log is the truth; a lost index write is caught up from the log.
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(_SCHEMA)
    return db


def remove(path: Path) -> None:
    """Delete the index file and its WAL companions (the caller closed it)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def indexed_end(db: sqlite3.Connection, log_size: int) -> int:
    """The log offset up to which the index is current; ``sqlite3.DatabaseError`` when
    it is of another format or ahead of a log of ``log_size`` bytes."""
    row = db.execute("SELECT value FROM meta WHERE key='log_end'").fetchone()
    fmt = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    end = int(row[0]) if row else framing.MAGIC_SIZE
    if row is not None and (fmt is None or int(fmt[0]) != INDEX_FORMAT):
        raise sqlite3.DatabaseError("index of another format")
    if end > log_size:
        raise sqlite3.DatabaseError("index is ahead of the log")
    return max(end, framing.MAGIC_SIZE)


def load_heads(db: sqlite3.Connection, group: bytes) -> dict[bytes, FeedState]:
    """Each indexed feed's state (not yet marked forked: that comes from forks.log)."""
    return {
        bytes(feed): FeedState(bytes(feed), group, seq, bytes(head))
        for feed, seq, head in db.execute("SELECT feed, seq, head FROM feeds")
    }


def write_rows(
    db: sqlite3.Connection, rows: Sequence[Row], states: Mapping[bytes, FeedState], end: int
) -> None:
    """Write ``rows``, the heads of the feeds they touch and the new log end, in one
    transaction (rolled back on any failure)."""
    db.execute("BEGIN")
    try:
        db.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", rows)
        touched = {row[1] for row in rows}
        db.executemany(
            "INSERT INTO feeds VALUES (?, ?, ?) ON CONFLICT(feed) DO UPDATE SET"
            " seq=excluded.seq, head=excluded.head WHERE excluded.seq > feeds.seq"
            " OR (excluded.seq = feeds.seq AND excluded.head < feeds.head)",
            [(f, states[f].seq, states[f].head) for f in touched],
        )
        db.execute(
            "INSERT INTO meta VALUES ('log_end', ?) ON CONFLICT(key) DO UPDATE SET"
            " value=max(value, excluded.value)",
            (end,),
        )
        db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (INDEX_FORMAT,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


# ------------------------------------------------------------------------ queries
# Each returns what the index says; reading the entries from the log is the caller's.

Location = tuple[int, int]  # (offset, length) of an entry's frame in the log


def ids_at(db: sqlite3.Connection, author: bytes, seq: int) -> set[bytes]:
    rows = db.execute("SELECT id FROM entries WHERE feed=? AND seq=?", (author, seq))
    return {bytes(row[0]) for row in rows.fetchall()}


def locations_at(db: sqlite3.Connection, author: bytes, seq: int) -> list[Location]:
    """Where ``author``'s entries at ``seq`` are, by id."""
    return db.execute(
        "SELECT offset, length FROM entries WHERE feed=? AND seq=? ORDER BY id",
        (author, seq),
    ).fetchall()


def locations_from(db: sqlite3.Connection, author: bytes, from_seq: int) -> list[Location]:
    """Where ``author``'s entries from ``from_seq`` on are, by sequence then id."""
    return db.execute(
        "SELECT offset, length FROM entries WHERE feed=? AND seq>=? ORDER BY seq, id",
        (author, from_seq),
    ).fetchall()


def location(db: sqlite3.Connection, digest: bytes) -> Location | None:
    rows = db.execute("SELECT offset, length FROM entries WHERE id=?", (digest,)).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def has(db: sqlite3.Connection, digest: bytes) -> bool:
    return bool(db.execute("SELECT 1 FROM entries WHERE id=?", (digest,)).fetchall())


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM entries").fetchall()[0][0])
