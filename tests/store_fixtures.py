"""Shared helpers for the store tests: real keys, real signed entries, real files.

Imported by ``test_store.py`` and ``test_store_crash.py`` (``tests/`` is on
``sys.path`` under pytest's default import mode). Nothing here mocks anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.core.validate import FeedState, Mode, validate_run
from ssbmoney.store.group_store import FORKS_NAME, INDEX_NAME, LOG_NAME, Store

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
WRITER = TESTS_DIR / "store_writer.py"

GROUP = bytes(range(32))
OTHER_GROUP = bytes(range(100, 132))
STAMP = 1_700_000_000_000


def member(n: int) -> KeyPair:
    """A fixed key pair per member number."""
    return keypair(bytes([n]) * 32)


def make_feed(
    kp: KeyPair,
    count: int,
    *,
    group: bytes = GROUP,
    start: int = 1,
    previous: bytes | None = None,
    tag: bytes = b"",
) -> list[Entry]:
    """``count`` correctly chained, signed entries of ``kp``'s feed from ``start``."""
    out = []
    for seq in range(start, start + count):
        made = entry_mod.create(
            kp.secret, kp.public, group, seq, previous, STAMP + seq, tag + b"entry %d" % seq
        )
        previous = made.id
        out.append(made)
    return out


def index_paths(directory: Path) -> list[Path]:
    return [directory / (INDEX_NAME + suffix) for suffix in ("", "-wal", "-shm")]


def drop_index(directory: Path) -> None:
    for path in index_paths(directory):
        path.unlink(missing_ok=True)


def log_bytes(directory: Path) -> bytes:
    return (directory / LOG_NAME).read_bytes()


def forks_bytes(directory: Path) -> bytes:
    path = directory / FORKS_NAME
    return path.read_bytes() if path.exists() else b""


def frame_bounds(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every good frame in ``data`` (a log: past its magic)."""
    return [
        (offset, offset + framing.HEADER_SIZE + len(payload))
        for offset, payload in framing.scan(data, framing.MAGIC_SIZE)
    ]


def old_format_log(entries: Sequence[bytes]) -> bytes:
    """A format-1 log as an older ssbmoney wrote it: no magic, frames of
    ``len u32 | crc32 u32 | payload``."""
    import struct
    import zlib

    return b"".join(struct.pack(">II", len(p), zlib.crc32(p)) + p for p in entries)


class Snapshot(NamedTuple):
    heads: dict[bytes, FeedState]
    count: int
    log: tuple[bytes, ...]  # raw of every entry, in log order
    feeds: dict[bytes, tuple[bytes, ...]]  # raw of every entry per feed, by seq
    forks: tuple[tuple[bytes | None, bytes], ...]


def snapshot(store: Store) -> Snapshot:
    heads = store.heads()
    return Snapshot(
        heads,
        store.count(),
        tuple(e.raw for e in store.all_entries()),
        {author: tuple(e.raw for e in store.feed_entries(author)) for author in heads},
        tuple(
            (p.first.raw if p.first is not None else None, p.second.raw) for p in store.forks()
        ),
    )


def snapshot_dir(directory: Path, group: bytes = GROUP) -> Snapshot:
    with Store(directory, group) as store:
        return snapshot(store)


def copy_group(src: Path, dst: Path, *, index: bool = True) -> Path:
    """Copy a (closed) group dir; without its index files if ``index`` is false."""
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if not index and path.name.startswith(INDEX_NAME):
            continue
        shutil.copy2(path, dst / path.name)
    return dst


def check_store(directory: Path, group: bytes = GROUP) -> dict[bytes, FeedState]:
    """Open the store and prove it sound; returns its heads.

    The log starts with its magic; every frame of it is good and decodes; every feed
    holds every sequence 1..head (on one branch or several) and validates from
    sequence 1 in FULL mode (every signature) with no error, its forks matching the
    proofs; the index agrees with the log (count, get, feed_entries, heads).
    """
    with Store(directory, group) as store:
        heads = store.heads()
        data = log_bytes(directory)
        assert data[: framing.MAGIC_SIZE] == framing.LOG_MAGIC
        assert framing.good_end(data, framing.MAGIC_SIZE) == len(data), (
            "log has a bad frame or a torn tail")
        logged = list(store.all_entries())
        assert len(logged) == len(frame_bounds(data))
        assert len({e.id for e in logged}) == len(logged), "an entry is in the log twice"
        assert store.count() == len(logged)
        per_feed: dict[bytes, list[Entry]] = {}
        for item in logged:
            per_feed.setdefault(item.author, []).append(item)
        assert set(per_feed) == set(heads)
        total = 0
        for author, state in heads.items():
            chain = store.feed_entries(author)
            assert sorted({e.seq for e in chain}) == list(range(1, state.seq + 1))
            assert sorted(e.seq for e in per_feed[author]) == [e.seq for e in chain]
            result = validate_run(FeedState(author, group), chain, Mode.FULL)
            assert result.error is None, result.error
            assert not result.vouched
            assert bool(result.forks) == state.forked
            assert len(result.accepted) == len(chain)
            assert result.state.head == state.head
            assert store.get(state.head) in chain
            total += len(chain)
        assert total == len(logged)
        return heads


# ----------------------------------------------------------------- subprocesses


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def writer_args(directory: Path, kp: KeyPair, *args: str, group: bytes = GROUP) -> list[str]:
    return [
        sys.executable, str(WRITER), "append", str(directory), group.hex(), kp.seed.hex(), *args
    ]


def reader_args(directory: Path, stop_file: Path, group: bytes = GROUP) -> list[str]:
    return [sys.executable, str(WRITER), "read", str(directory), group.hex(), str(stop_file)]


class Child:
    """A subprocess whose stdout lines are collected by a thread as they come."""

    def __init__(self, args: Sequence[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # closed in wait()
        self.proc = subprocess.Popen(
            list(args), stdout=subprocess.PIPE, stderr=self._stderr, env=subprocess_env()
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # a line cut by the kill: not a complete report
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if line.startswith("ready"):
                self.ready.set()

    def kill(self) -> None:
        self.proc.kill()

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        self._thread.join(timeout=timeout)
        self._stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def acked(self) -> set[int]:
        """Every sequence this writer reported as acknowledged (``ack first last``)."""
        seqs: set[int] = set()
        for line in self.lines:
            if line.startswith("ack "):
                first, last = map(int, line.split()[1:3])
                seqs.update(range(first, last + 1))
        return seqs
