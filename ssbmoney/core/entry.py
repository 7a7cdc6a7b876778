"""Entries: the one canonical encoding of a signed record in a feed.

Wire form (msgpack, the only accepted encoding)::

    entry    = [envelope: bin, signature: bin(64), content: bin]
    envelope = [version: 2, author: bin(32), group: bin(32), seq: uint >= 1,
                previous: bin(32) | nil, claimed_ms: uint, content_hash: bin(32),
                content_size: uint]

The ed25519 signature covers the envelope bytes exactly. The content is bound by its
SHA-256 in the envelope. Format 2 entries travel only with their content: an entry
whose content was pruned (sent as nil, as a relay that cannot read the group might) is
refused (``MissingContent``), so no home ever keeps a contentless copy. The entry id
is ``sha256(envelope || signature)``: one signed envelope, one id. Decoding re-encodes
what it read and refuses anything that is not byte-for-byte the canonical form, so no
entry has two encodings (and so two ids).

Records are NamedTuples: immutable, and cheap enough to build 100,000 a second.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, NamedTuple

import msgpack
import nacl.bindings as sodium
from nacl.exceptions import BadSignatureError

from ssbmoney.core.errors import (
    BadInput,
    ContentHashMismatch,
    ContentSizeMismatch,
    MalformedEntry,
    MissingContent,
    NonCanonical,
    Oversized,
    TruncatedEntry,
    UnsupportedVersion,
)

VERSION = 2
HASH_NAME = "sha256"
KEY_NAME = "ed25519"
MAX_ENTRY_BYTES = 65536
"""Hard limit on an entry's wire size: room for a close naming a few hundred heads."""

_sha256 = hashlib.sha256
_packb = msgpack.packb
_unpackb = msgpack.unpackb
_crypto_sign = sodium.crypto_sign
try:
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover - a PyNaCl without its cffi module
    _ffi = _lib = None


_ENVELOPE_MAX = 256
"""Above any envelope's size (eight fields, the largest 34 bytes)."""


class SignScratch:
    """A buffer for signing many envelopes in one thread (one batch of appends).

    libsodium signs without the GIL, so a buffer must never be shared by threads:
    whoever signs a batch makes one and passes it to ``create``.
    """

    def __init__(self) -> None:
        self.out = _ffi.new("unsigned char[]", _ENVELOPE_MAX + 64) if _lib is not None else None
        self.view: Any = _ffi.buffer(self.out) if self.out is not None else None


def _sign(message: bytes, secret: bytes, scratch: SignScratch | None = None) -> bytes:
    """The detached ed25519 signature of ``message``.

    Calls libsodium through PyNaCl's own cffi binding: appending is bound by signing,
    and the public wrapper's checks and copies cost a tenth of a signature.
    """
    if _lib is None or len(secret) != 64 or len(message) > _ENVELOPE_MAX:
        return bytes(_crypto_sign(message, secret)[:64])
    if scratch is None:
        scratch = SignScratch()
    if _lib.crypto_sign(scratch.out, _ffi.NULL, message, len(message), secret) != 0:
        raise ValueError("signing failed")
    signature: bytes = scratch.view[:64]
    return signature
_crypto_sign_open = sodium.crypto_sign_open
_new = tuple.__new__
"""Builds a NamedTuple without its Python-level ``__new__``, which costs as much as the
rest of a record: entries are made and decoded 100,000 times a second."""


class Entry(NamedTuple):
    """A decoded, canonically encoded entry. Not yet known to be authentic."""

    raw: bytes
    envelope: bytes
    signature: bytes
    content: bytes | None
    version: int
    author: bytes
    group: bytes
    seq: int
    previous: bytes | None
    claimed_ms: int
    content_hash: bytes
    content_size: int
    id: bytes

    def signature_ok(self) -> bool:
        """Does this entry's own signature verify against its author key?"""
        return verify_signature(self.envelope, self.signature, self.author)


def verify_signature(envelope: bytes, signature: bytes, author: bytes) -> bool:
    try:
        _crypto_sign_open(signature + envelope, author)
    except (BadSignatureError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------- ids


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def feed_id(author: bytes) -> str:
    """``@<base64 public key>.ed25519``"""
    return f"@{b64(author)}.{KEY_NAME}"


def entry_id(digest: bytes) -> str:
    """``%<base64 hash>.sha256``"""
    return f"%{b64(digest)}.{HASH_NAME}"


def _parse_sigil(text: str, sigil: str, suffix: str, what: str) -> bytes:
    if not (text.startswith(sigil) and text.endswith("." + suffix)):
        raise BadInput(f"not a {what}: {text!r} (expected {sigil}<base64>.{suffix})")
    body = text[1 : -len(suffix) - 1]
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"not a {what}: {text!r} (bad base64)") from None
    if len(raw) != 32:
        raise BadInput(f"not a {what}: {text!r} (must hold 32 bytes, not {len(raw)})")
    if b64(raw) != body:
        raise BadInput(f"not a {what}: {text!r} (not the canonical base64 of its bytes:"
                       " a character was changed?)")
    return raw


def parse_feed_id(text: str) -> bytes:
    return _parse_sigil(text, "@", KEY_NAME, "member or feed id")


def parse_entry_id(text: str) -> bytes:
    return _parse_sigil(text, "%", HASH_NAME, "entry id")


# ------------------------------------------------------------------------ encoding


def encode_envelope(
    author: bytes,
    group: bytes,
    seq: int,
    previous: bytes | None,
    claimed_ms: int,
    content_hash: bytes,
    content_size: int,
) -> bytes:
    return _packb(  # type: ignore[no-any-return]
        [VERSION, author, group, seq, previous, claimed_ms, content_hash, content_size]
    )


def create(
    secret: bytes,
    author: bytes,
    group: bytes,
    seq: int,
    previous: bytes | None,
    claimed_ms: int,
    content: bytes,
    scratch: SignScratch | None = None,
) -> Entry:
    """Sign a new entry. ``secret`` is the 64-byte libsodium ed25519 secret key;
    ``scratch``, when signing many, saves a buffer per entry."""
    content_hash = _sha256(content).digest()
    envelope = _packb(
        [VERSION, author, group, seq, previous, claimed_ms, content_hash, len(content)]
    )
    signature = _sign(envelope, secret, scratch)
    raw = _packb([envelope, signature, content])
    if len(raw) > MAX_ENTRY_BYTES:
        raise BadInput(f"entry would be {len(raw)} bytes; the limit is {MAX_ENTRY_BYTES}")
    hasher = _sha256(envelope)
    hasher.update(signature)
    digest = hasher.digest()
    return _new(Entry, (
        raw, envelope, signature, content, VERSION, author, group, seq, previous,
        claimed_ms, content_hash, len(content), digest,
    ))


def resign_raw(envelope: bytes, signature: bytes, content: bytes | None) -> bytes:
    """The canonical wire bytes for given parts (used to prune and by test vectors)."""
    return _packb([envelope, signature, content])  # type: ignore[no-any-return]


# ------------------------------------------------------------------------ decoding


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == 32


def _is_uint(value: object) -> bool:
    return type(value) is int and value >= 0


def _ends_early(raw: bytes) -> bool:
    """Do the bytes start a msgpack value that they do not finish? (error path only)"""
    unpacker = msgpack.Unpacker(max_buffer_size=2 * MAX_ENTRY_BYTES)
    unpacker.feed(raw)
    try:
        unpacker.unpack()
    except msgpack.OutOfData:
        return True
    except Exception:
        return False
    return False


def decode(raw: bytes) -> Entry:
    """Decode wire bytes into an Entry, refusing every non-canonical form.

    Checks everything that can be checked from the bytes alone: size, structure,
    canonical encoding, version, and the content against its hash and size. It does
    not check the signature (see ``ssbmoney.validate`` for when that is needed).
    """
    if len(raw) > MAX_ENTRY_BYTES:
        raise Oversized(f"entry is {len(raw)} bytes; the limit is {MAX_ENTRY_BYTES}")
    try:
        outer = _unpackb(raw)
    except msgpack.ExtraData:
        raise NonCanonical("trailing bytes after the entry") from None
    except Exception as err:  # msgpack raises several unrelated types on garbage
        if _ends_early(raw):
            raise TruncatedEntry("entry bytes end before the entry does") from None
        raise MalformedEntry(f"entry is not msgpack: {err}") from None
    if type(outer) is not list or len(outer) != 3:
        raise MalformedEntry("entry must be a 3-element array [envelope, signature, content]")
    envelope, signature, content = outer
    if type(envelope) is not bytes:
        raise MalformedEntry("envelope must be bytes")
    if type(signature) is not bytes or len(signature) != 64:
        raise MalformedEntry("signature must be 64 bytes")
    if content is not None and type(content) is not bytes:
        raise MalformedEntry("content must be bytes or nil")
    try:
        fields = _unpackb(envelope)
    except Exception as err:
        raise MalformedEntry(f"envelope is not msgpack: {err}") from None
    if type(fields) is not list or len(fields) != 8:
        raise MalformedEntry("envelope must be an 8-element array")
    version, author, group, seq, previous, claimed_ms, content_hash, content_size = fields
    if type(version) is not int:
        raise MalformedEntry("version must be an integer")
    if version != VERSION:
        if version == 1:
            raise UnsupportedVersion(
                "entry was written by an older ssbmoney (format 1); this one reads"
                f" format {VERSION}"
            )
        raise UnsupportedVersion(
            f"format version {version} is not supported (this ssbmoney reads format {VERSION})"
        )
    if not _is_hash(author):
        raise MalformedEntry("author must be a 32-byte ed25519 public key")
    if not _is_hash(group):
        raise MalformedEntry("group must be 32 bytes")
    if not _is_uint(seq) or seq < 1:
        raise MalformedEntry("sequence must be an integer >= 1")
    if previous is not None and not _is_hash(previous):
        raise MalformedEntry("previous must be a 32-byte hash or nil")
    if not _is_uint(claimed_ms):
        raise MalformedEntry("claimed timestamp must be a non-negative integer")
    if not _is_hash(content_hash):
        raise MalformedEntry("content hash must be 32 bytes")
    if not _is_uint(content_size):
        raise MalformedEntry("content size must be a non-negative integer")
    if _packb(fields) != envelope or _packb(outer) != raw:
        raise NonCanonical("entry is not in canonical msgpack form")
    if content is None:
        raise MissingContent(
            "entry came without its content (stripped, e.g. by a relay that cannot read"
            " the group); entries are taken only with their content"
        )
    if len(content) != content_size:
        raise ContentSizeMismatch(
            f"content is {len(content)} bytes but the envelope says {content_size}"
        )
    if _sha256(content).digest() != content_hash:
        raise ContentHashMismatch("content does not match the hash in the envelope")
    digest = _sha256(envelope + signature).digest()
    return _new(Entry, (
        raw, envelope, signature, content, version, author, group, seq, previous,
        claimed_ms, content_hash, content_size, digest,
    ))

