"""Frames for append-only files (format 2).

A file starts with an 8-byte magic naming what it holds and its format (``LOG_MAGIC``
for a group's ``entries.log`` and an export's ``.feed`` files, ``FORKS_MAGIC`` for
fork proofs), then frames::

    length (u32 BE) | crc32(payload) (u32 BE) | crc32(the 8 bytes before) (u32 BE) | payload

The CRCs are not a security check (entries carry their own hashes and signatures);
they tell a complete frame from one torn by a crash, or from zeroes a file system left
at the tail after a power cut. A reader stops at the first frame that is incomplete or
fails a CRC; only a writer holding the home's lock may cut the log there.

Reading on past damage is linear: a candidate offset must pass the header CRC (12
bytes, a constant cost) before its payload is CRC'd, and a candidate whose header
passes but whose payload fails is skipped whole, so no byte is CRC'd as payload more
than once. ``Work`` counts what was CRC'd, for tests and benchmarks.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

HEADER = struct.Struct(">III")
HEADER_SIZE = HEADER.size
MAX_FRAME = 2 * 65536 + 64
"""Just above the largest legitimate payload (a fork proof: two 64 KiB entries)."""

MAGIC_SIZE = 8
LOG_MAGIC = b"SSBMLOG\x02"
"""Leads ``entries.log`` and exported ``.feed`` files."""
FORKS_MAGIC = b"SSBMFRK\x02"
"""Leads ``forks.log`` and exported ``forks.proof`` files."""
FORMAT = 2

_crc32 = zlib.crc32
_pack = HEADER.pack
_unpack_from = HEADER.unpack_from
_pair = struct.Struct(">II")
_pack_pair = _pair.pack
_old_unpack = _pair.unpack_from


class Work:
    """What a reader CRC'd: payload bytes, and headers checked (12 bytes each)."""

    __slots__ = ("payload_bytes", "header_checks")

    def __init__(self) -> None:
        self.payload_bytes = 0
        self.header_checks = 0


WORK = Work()
"""The module-wide counter every reader adds to unless given its own."""


def header(payload: bytes) -> bytes:
    """The frame header for ``payload`` (write it, then the payload)."""
    first = _pack_pair(len(payload), _crc32(payload))
    return first + _crc32(first).to_bytes(4, "big")


def frame(payload: bytes) -> bytes:
    return header(payload) + payload


def _header_ok(view: memoryview, pos: int, end: int, work: Work) -> int:
    """The payload length claimed by a plausible header at ``pos`` whose frame fits
    before ``end`` and whose header CRC passes; -1 otherwise."""
    length, _crc, hcrc = _unpack_from(view, pos)
    if length == 0 or length > MAX_FRAME or pos + HEADER_SIZE + length > end:
        return -1
    work.header_checks += 1
    if _crc32(view[pos : pos + 8]) != hcrc:
        return -1
    return int(length)


def scan(
    data: bytes | memoryview, start: int = 0, work: Work | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for each good frame from ``start`` (past the magic).

    Stops silently at the first incomplete or damaged frame; ``good_end`` tells where.
    """
    view = memoryview(data)
    end = len(view)
    pos = start
    counter = WORK if work is None else work
    while pos + HEADER_SIZE <= end:
        length, crc, hcrc = _unpack_from(view, pos)
        body_start = pos + HEADER_SIZE
        body_end = body_start + length
        # No payload is ever empty, and zeroes (what a power cut leaves at the tail)
        # fail the header CRC: damage, not a frame.
        if length == 0 or length > MAX_FRAME or body_end > end:
            return
        if _crc32(view[pos : pos + 8]) != hcrc:
            return
        payload = bytes(view[body_start:body_end])
        counter.payload_bytes += length
        if _crc32(payload) != crc:
            return
        yield pos, payload
        pos = body_end


def next_frame(data: bytes | memoryview, pos: int, work: Work | None = None) -> int | None:
    """The offset of the first good frame after the bad one at ``pos``, if any.

    Tells a torn tail (nothing whole follows: a crash cut the last write) from damage
    in the middle of a file (whole frames follow), which must never be cut away. A
    candidate whose header passes but whose payload fails is skipped whole (the frame
    at ``pos`` too, when its header is intact): every byte is CRC'd at most once.
    """
    view = memoryview(data)
    end = len(view)
    counter = WORK if work is None else work
    cand = pos
    if cand + HEADER_SIZE <= end:
        length = _header_ok(view, cand, end, counter)
        cand = cand + HEADER_SIZE + length if length > 0 else cand + 1
    else:
        return None
    while cand + HEADER_SIZE <= end:
        length = _header_ok(view, cand, end, counter)
        if length < 0:
            cand += 1
            continue
        body_start = cand + HEADER_SIZE
        crc = _unpack_from(view, cand)[1]
        counter.payload_bytes += length
        if _crc32(view[body_start : body_start + length]) == crc:
            return cand
        cand = body_start + length
    return None


def whole_frame_after(data: bytes | memoryview, start: int) -> int | None:
    """Compatibility name for ``next_frame``."""
    return next_frame(data, start)


def good_end(data: bytes | memoryview, start: int = 0, work: Work | None = None) -> int:
    """Offset just after the last good frame reachable from ``start``."""
    pos = start
    for offset, payload in scan(data, start, work):
        pos = offset + HEADER_SIZE + len(payload)
    return pos


def read_all(
    data: bytes | memoryview, start: int = 0, work: Work | None = None
) -> tuple[list[tuple[int, bytes]], list[tuple[int, int | None]]]:
    """Every good frame from ``start``, reading on past damage, in linear time.

    Returns the frames ``(offset, payload)`` and the damaged stretches ``(offset,
    resumed_at)`` (``resumed_at`` None: nothing whole follows, to the end of the data).
    """
    frames: list[tuple[int, bytes]] = []
    damage: list[tuple[int, int | None]] = []
    end = len(data)
    pos = start
    while True:
        for offset, payload in scan(data, pos, work):
            frames.append((offset, payload))
            pos = offset + HEADER_SIZE + len(payload)
        if pos >= end:
            return frames, damage
        resume = next_frame(data, pos, work)
        damage.append((pos, resume))
        if resume is None:
            return frames, damage
        pos = resume


# ------------------------------------------------------------------------- magic


class FormatMismatch(Exception):
    """A file that does not start with the magic expected: ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_magic(data: bytes, magic: bytes, what: str) -> None:
    """Refuse a file that is not a format-2 ``what`` (``data``: its first bytes at
    least). An empty file, or a prefix of the magic (torn at creation), passes."""
    head = bytes(data[:MAGIC_SIZE])
    if head == magic or magic.startswith(head):
        return
    if _looks_old(data):
        raise FormatMismatch(
            f"{what} was written by an older ssbmoney (format 1) and cannot be read by"
            f" this version (format {FORMAT}); nothing in it was changed"
        )
    if head[:4] == magic[:4] and head[:7] == magic[:7]:
        raise FormatMismatch(
            f"{what} is in format {head[7]}, which this version (format {FORMAT}) cannot"
            " read; nothing in it was changed"
        )
    raise FormatMismatch(
        f"{what} is not an ssbmoney format {FORMAT} file (its first bytes are not"
        f" {magic!r}); nothing in it was changed"
    )


def _looks_old(data: bytes) -> bool:
    """Does ``data`` start with a format-1 frame (``length u32 | crc32 u32 | payload``)?"""
    if len(data) < 8:
        return False
    length, crc = _old_unpack(data, 0)
    if not (0 < length <= 1 << 24 and 8 + length <= len(data)):
        return False
    return _crc32(data[8 : 8 + length]) == int(crc)
