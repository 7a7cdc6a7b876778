"""Frames for append-only log files: ``length (u32 BE) | crc32 (u32 BE) | payload``.

The CRC is not a security check (entries carry their own hashes and signatures); it
tells a complete frame from one torn by a crash, or from zeroes a file system left at
the tail after a power cut. A reader stops at the first frame that is incomplete or
fails its CRC; only a writer holding the home's lock may cut the log there.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

HEADER = struct.Struct(">II")
HEADER_SIZE = HEADER.size
MAX_FRAME = 1 << 24
"""Far above any entry; a length beyond it is damage, not data."""

_crc32 = zlib.crc32
_pack = HEADER.pack
_unpack_from = HEADER.unpack_from


def header(payload: bytes) -> bytes:
    """The frame header for ``payload`` (write it, then the payload)."""
    return _pack(len(payload), _crc32(payload))


def frame(payload: bytes) -> bytes:
    return _pack(len(payload), _crc32(payload)) + payload


def scan(data: bytes | memoryview, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for each good frame from ``start``.

    Stops silently at the first incomplete or damaged frame; ``good_end`` tells where.
    """
    view = memoryview(data)
    end = len(view)
    pos = start
    while pos + HEADER_SIZE <= end:
        length, crc = _unpack_from(view, pos)
        body_start = pos + HEADER_SIZE
        body_end = body_start + length
        # No payload is ever empty, and an all-zero header (length 0, crc32(b"") == 0)
        # is exactly what a power cut leaves at the tail: damage, not a frame.
        if length == 0 or length > MAX_FRAME or body_end > end:
            return
        payload = bytes(view[body_start:body_end])
        if _crc32(payload) != crc:
            return
        yield pos, payload
        pos = body_end


def whole_frame_after(data: bytes | memoryview, start: int) -> int | None:
    """The offset of the first good frame that starts after ``start``, if any.

    Tells a torn tail (nothing whole follows: a crash cut the last write) from damage
    in the middle of a file (whole frames follow), which must never be cut away.
    """
    view = memoryview(data)
    end = len(view)
    for pos in range(start + 1, end - HEADER_SIZE + 1):
        length, crc = _unpack_from(view, pos)
        if 0 < length <= MAX_FRAME and pos + HEADER_SIZE + length <= end:
            if _crc32(view[pos + HEADER_SIZE : pos + HEADER_SIZE + length]) == crc:
                return pos
    return None


def good_end(data: bytes | memoryview, start: int = 0) -> int:
    """Offset just after the last good frame reachable from ``start``."""
    pos = start
    for offset, payload in scan(data, start):
        pos = offset + HEADER_SIZE + len(payload)
    return pos
