"""The file of entries, ``entries.log``: its magic, whole-frame writes and reads.

Why it is a module of its own: these are the byte-level rules of the log that is the
truth of a group (start it with ``framing.LOG_MAGIC``, refuse another format, write
frames whole and ``fdatasync`` them, tell a torn tail from damage inside), kept apart
from ``group_store``, which decides what goes in the log and keeps the index and the
feeds' states in step with it. Every writer here must hold the group's write lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import StoreError

LOG_NAME = "entries.log"


def start(fd: int, path: Path) -> None:
    """Under the lock: start a new log with its magic (or finish one a crash left
    half-started); refuse a log of another format, changing nothing."""
    size = os.fstat(fd).st_size
    head = os.pread(fd, min(size, framing.MAX_FRAME + 16), 0)
    try:
        framing.check_magic(head, framing.LOG_MAGIC, str(path))
    except framing.FormatMismatch as err:
        raise StoreError(err.message) from None
    if size < framing.MAGIC_SIZE:
        if size:
            os.ftruncate(fd, 0)
        os.write(fd, framing.LOG_MAGIC)
        os.fsync(fd)


def check_torn(path: Path, rest: bytes, offset: int) -> None:
    """Refuse to go on when what stops a scan at ``offset`` is not a torn tail:
    whole frames after it mean damage inside the log, and cutting there would
    throw away entries that were acknowledged."""
    found = framing.next_frame(rest, 0)
    if found is not None:
        raise StoreError(
            f"{path} is damaged at offset {offset}, with whole entries after"
            " it; nothing was changed. Run `ssbmoney audit` on this home, and restore"
            " the log from a backup or an export"
        )


def write_all(fd: int, data: bytes) -> None:
    """Write whole frames at the end of the log and ``fdatasync`` them."""
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])
    os.fdatasync(fd)


def read_at(fd: int, offset: int, length: int) -> Entry:
    """The entry whose frame starts at ``offset``, its payload ``length`` bytes long."""
    data = os.pread(fd, framing.HEADER_SIZE + length, offset)
    return entry_mod.decode(data[framing.HEADER_SIZE :])
