"""The replication messages, and how they travel inside an encrypted session.

After the handshake, each WebSocket message is one Noise transport message (at most
65,535 bytes). Their plaintexts, in order, form one byte stream; in it each message is
``length (u32 BE) | msgpack body``, so a message larger than one Noise message (a
batch of entries, a 64 KiB entry) is simply cut across several. ``Reassembler`` puts
them back together and refuses a declared length past ``MAX_MESSAGE`` before buffering
a byte of it: one peer can make us hold at most that much.

Every message is a frozen record checked in ``decode`` (as h11 does with its events):
anything a peer sends that is not exactly one of these shapes is a ``ProtocolError``
and ends the session. Entries inside a batch are carried as raw bytes; they are
decoded and validated by the store, like entries from any other source.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import msgpack

from ssbmoney.core.errors import ProtocolError

PROTOCOL_VERSION = 1
"""The sync protocol spoken here. It travels in the clear before message 1 of the
handshake (so that a peer speaking another version can be told so, naming both) and
inside the prologue (so that it is authenticated)."""

MAX_MESSAGE = 2 * 1024 * 1024
"""The largest message in the stream: a batch of up to ``BATCH_BYTES`` of entries plus
one maximal entry and its proofs fits."""
BATCH_ENTRIES = 1000
BATCH_BYTES = 1024 * 1024
"""A batch closes at 1,000 entries or 1 MiB of them, whichever comes first."""
WINDOW = 4
"""Batches a sender may have in flight, unacknowledged: what a receiver may have queued
is bounded by WINDOW × (BATCH_BYTES + one entry)."""
MAX_FEEDS = 10_000
"""The most feeds one frontier message names (~80 bytes a feed): a larger frontier goes
in several messages."""
MAX_SESSION_FEEDS = 100_000
"""The most feeds a peer's frontier may name in all (what a session holds of it)."""
MAX_TIPS = 64
"""The most branch tips announced for one feed; a feed with more is sent whole."""
MAX_TEXT = 1000

_LEN = struct.Struct(">I")

HELLO, FRONTIER, BATCH, ACK, DONE, PING, BYE, ERROR, NEED = range(9)


@dataclass(frozen=True)
class Hello:
    """Sent by each side first: who it is (bound to the handshake hash) and the digest
    of its frontier. Equal digests end the session at once."""

    key: bytes  # ed25519 public key (a member's feed key, or a pub's own key)
    binding: bytes  # ed25519 signature over the handshake hash
    digest: bytes  # 32-byte digest of the frontier
    live: bool  # whether this side wants to stay connected after catching up


@dataclass(frozen=True)
class Frontier:
    """Feeds held and their branch tips ``(seq, id)``: one tip unless it forked. A
    frontier of more than ``MAX_FEEDS`` feeds comes in several, all but the last
    ``more``."""

    feeds: tuple[tuple[bytes, tuple[tuple[int, bytes], ...]], ...]
    more: bool = False


@dataclass(frozen=True)
class Need:
    """Feeds where the peer holds a branch we lack (its tip is not in our chain): send
    them whole. Sent once by each side, right after the frontiers."""

    feeds: tuple[bytes, ...]


@dataclass(frozen=True)
class Batch:
    number: int
    total: int  # entries the sender means to send in this catch-up (progress), 0 in live
    entries: tuple[bytes, ...]
    proofs: tuple[tuple[bytes, bytes], ...]  # fork proofs: two raw entries each


@dataclass(frozen=True)
class Ack:
    number: int
    stored: int  # entries of that batch newly stored
    refused: str  # what was refused and why (a pub's bound), "" when nothing


@dataclass(frozen=True)
class Done:
    """This side has sent everything the other lacked."""


@dataclass(frozen=True)
class Ping:
    """Keeps a live connection's idle timer from firing."""


@dataclass(frozen=True)
class Bye:
    """A clean goodbye: a session that ends without it was cut."""


@dataclass(frozen=True)
class Error:
    """Why this side ends the session (e.g. the first invalid entry it was sent)."""

    text: str


Message = Hello | Frontier | Need | Batch | Ack | Done | Ping | Bye | Error


def _packb(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return data


def encode(message: Message) -> bytes:
    """The message as it goes into the stream: length, then body."""
    match message:
        case Hello(key, binding, digest, live):
            body = [HELLO, key, binding, digest, live]
        case Frontier(feeds, more):
            body = [FRONTIER, [[feed, [list(t) for t in tips]] for feed, tips in feeds], more]
        case Need(feeds):
            body = [NEED, list(feeds)]
        case Batch(number, total, entries, proofs):
            body = [BATCH, number, total, list(entries), [list(p) for p in proofs]]
        case Ack(number, stored, refused):
            body = [ACK, number, stored, clean_text(refused)]
        case Done():
            body = [DONE]
        case Ping():
            body = [PING]
        case Bye():
            body = [BYE]
        case Error(text):
            body = [ERROR, clean_text(text)]
    data = _packb(body)
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes is over the {MAX_MESSAGE} limit")
    return _LEN.pack(len(data)) + data


def _bytes(value: Any, size: int | None = None) -> bytes:
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise ValueError("bytes of the wrong type or size")
    return value


def _uint(value: Any, limit: int = 2**53 - 1) -> int:
    if type(value) is not int or not 0 <= value <= limit:
        raise ValueError("not a small non-negative integer")
    return value


def clean_text(text: str) -> str:
    """A peer's words as they may reach a terminal or a file: control characters (an
    escape sequence could rewrite what the member's screen shows) become '?'."""
    return "".join("?" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)[:MAX_TEXT]


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > MAX_TEXT:
        raise ValueError("not a short text")
    return clean_text(value)


def _list(value: Any, limit: int) -> list[Any]:
    if type(value) is not list or len(value) > limit:
        raise ValueError("not a list, or too long")
    return value


def _tip(value: Any) -> tuple[int, bytes]:
    seq, digest = _list(value, 2)
    return _uint(seq), _bytes(digest, 32)


def decode(body: bytes) -> Message:
    """One message from its body; anything else is a ``ProtocolError``."""
    try:
        fields = msgpack.unpackb(body, raw=False, strict_map_key=True,
                                 max_bin_len=MAX_MESSAGE, max_str_len=MAX_TEXT * 4)
        kind, *rest = _list(fields, 6)
        if kind == HELLO:
            key, binding, digest, live = rest
            if type(live) is not bool:
                raise ValueError("live must be true or false")
            return Hello(_bytes(key, 32), _bytes(binding, 64), _bytes(digest, 32), live)
        if kind == FRONTIER:
            feeds, more = rest
            if type(more) is not bool:
                raise ValueError("more must be true or false")
            out = []
            for item in _list(feeds, MAX_FEEDS):
                feed, tips = _list(item, 2)
                out.append((_bytes(feed, 32),
                            tuple(_tip(t) for t in _list(tips, MAX_TIPS))))
            return Frontier(tuple(out), more)
        if kind == NEED:
            (feeds,) = rest
            return Need(tuple(_bytes(f, 32) for f in _list(feeds, MAX_FEEDS)))
        if kind == BATCH:
            number, total, entries, proofs = rest
            return Batch(
                _uint(number), _uint(total),
                tuple(_bytes(e) for e in _list(entries, BATCH_ENTRIES)),
                tuple((_bytes(a), _bytes(b))
                      for a, b in (_list(p, 2) for p in _list(proofs, BATCH_ENTRIES))),
            )
        if kind == ACK:
            number, stored, refused = rest
            return Ack(_uint(number), _uint(stored), _text(refused))
        if kind == ERROR:
            (text,) = rest
            return Error(_text(text))
        if kind == DONE and not rest:
            return Done()
        if kind == PING and not rest:
            return Ping()
        if kind == BYE and not rest:
            return Bye()
        raise ValueError(f"unknown message kind {kind!r}")
    except ProtocolError:
        raise
    except Exception as err:  # msgpack and unpacking raise many unrelated types
        raise ProtocolError(f"peer sent a malformed message: {err}") from None


class Reassembler:
    """Cuts the decrypted byte stream back into messages, holding at most one message
    (``MAX_MESSAGE`` bytes) plus one Noise message's worth of what follows."""

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        out: list[Message] = []
        while len(self._buffer) >= _LEN.size:
            (size,) = _LEN.unpack_from(self._buffer)
            if size > self.limit:
                raise ProtocolError(
                    f"peer announced a message of {size} bytes; the limit is {self.limit}")
            end = _LEN.size + size
            if len(self._buffer) < end:
                break
            out.append(decode(bytes(self._buffer[_LEN.size:end])))
            del self._buffer[:end]
        return out
