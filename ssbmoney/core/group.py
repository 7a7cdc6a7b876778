"""A group's keys, its invite and pub codes, and content encryption.

Everything derives from the group *secret* (32 random bytes) and the founder's feed
key, with a separate BLAKE2b personalisation per purpose:

* the group id, which commits to the founder's feed key (so only the founder's feed
  can found the group);
* the content key: entries' content is sealed with XSalsa20-Poly1305 (SecretBox);
* the sync capability: lets a pub host the group's feeds without reading them.

The nonce of each sealed content is a keyed hash of the author and the plaintext
(a synthetic IV): generated feeds are reproducible from fixed seeds, and two sealed
contents share a nonce only when they are the same plaintext by the same author,
which then reveals only that they are equal.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, NamedTuple

import msgpack
import nacl.bindings as sodium
from nacl.exceptions import CryptoError

from ssbmoney.core.entry import MAX_ENTRY_BYTES
from ssbmoney.core.errors import BadInput
from ssbmoney.core.keys import derive

try:
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover - a PyNaCl without its cffi module
    _ffi = _lib = None

INVITE_PREFIX = "ssbm-invite:"
PUB_CODE_PREFIX = "ssbm-pub:"
NONCE_SIZE = 24
_MAC_SIZE = 16
_MAX_SEALED = MAX_ENTRY_BYTES


class GroupKeys(NamedTuple):
    secret: bytes
    founder: bytes  # founder's feed public key in this group
    group_id: bytes
    content_key: bytes
    sync_cap: bytes


def group_keys(secret: bytes, founder: bytes) -> GroupKeys:
    if len(secret) != 32 or len(founder) != 32:
        raise BadInput("a group secret and founder key are 32 bytes each")
    return GroupKeys(
        secret,
        founder,
        derive(secret, b"ssbm-group-id", founder),
        derive(secret, b"ssbm-content"),
        derive(secret, b"ssbm-sync-cap", founder),
    )


# ------------------------------------------------------------------------ sealing


MIN_PADDED = 256
"""Every sealed message is at least this long: all the short messages (a vote,
whatever its choice, a withdrawal, a deposit, a spend, a join) look alike."""
_MAX_PADDED = MAX_ENTRY_BYTES - 512  # room for the envelope, signature and framing


def padded_size(size: int) -> int:
    """The size a plaintext of ``size`` bytes is padded to (with its end marker):
    the next power of two from ``MIN_PADDED``, then steps of 4 KiB near the limit."""
    need = size + 1
    bucket = MIN_PADDED
    while bucket < need:
        bucket *= 2
    if bucket > 32768:
        bucket = min(-(-need // 4096) * 4096, max(_MAX_PADDED, need))
    return bucket


def pad(plaintext: bytes) -> bytes:
    """ISO/IEC 7816-4 padding: a 0x80 byte, then zeroes up to the bucket size."""
    return plaintext + b"\x80" + bytes(padded_size(len(plaintext)) - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes | None:
    """The plaintext, or None when the padding is not ours."""
    end = padded.rfind(b"\x80")  # the marker is the last byte that is not zero
    if end < 0 or padded.count(b"\0", end + 1) != len(padded) - end - 1:
        return None
    return padded[:end]


def seal(content_key: bytes, author: bytes, plaintext: bytes) -> bytes:
    """Pad, then seal: a pub or an eavesdropper sees only the padded size."""
    padded = pad(plaintext)
    nonce = derive(content_key, b"ssbm-nonce", author + padded)[:NONCE_SIZE]
    return nonce + bytes(sodium.crypto_secretbox(padded, nonce, content_key))


def open_sealed(content_key: bytes, sealed: bytes) -> bytes | None:
    """The plaintext, or None when the content was not sealed with this key (or its
    padding is not ours).

    Calls libsodium's ``crypto_secretbox_open_easy`` through PyNaCl's own cffi
    binding: the fold opens 100,000 contents a second, and the public wrapper's
    argument checks cost more than the decryption itself.
    """
    size = len(sealed) - NONCE_SIZE - _MAC_SIZE
    if size < 0 or len(content_key) != 32:
        return None
    if _lib is None:
        try:
            return unpad(bytes(sodium.crypto_secretbox_open(
                sealed[NONCE_SIZE:], sealed[:NONCE_SIZE], content_key)))
        except CryptoError:
            return None
    out = _ffi.new("unsigned char[]", size or 1)
    view = _ffi.from_buffer(sealed)
    if _lib.crypto_secretbox_open_easy(out, view + NONCE_SIZE, size + _MAC_SIZE, view,
                                       content_key) != 0:
        return None
    plain: bytes = _ffi.buffer(out, size)[:]
    return unpad(plain)


class Opener:
    """Opens many sealed contents with one key, reusing one output buffer.

    For the fold, which opens 100,000 contents a second: an object per thread of use
    (a ``Ledger`` is one), since libsodium runs without the GIL and a shared buffer
    would be written by two threads at once.
    """

    def __init__(self, content_key: bytes) -> None:
        self.content_key = content_key
        self._out = _ffi.new("unsigned char[]", _MAX_SEALED) if _lib is not None else None
        self._view: Any = _ffi.buffer(self._out) if self._out is not None else None

    def open(self, sealed: bytes) -> bytes | None:
        size = len(sealed) - NONCE_SIZE - _MAC_SIZE
        if self._out is None or not 0 <= size < _MAX_SEALED:
            return open_sealed(self.content_key, sealed)
        if _lib.crypto_secretbox_open_easy(
            self._out, sealed[NONCE_SIZE:], size + _MAC_SIZE, sealed, self.content_key
        ) != 0:
            return None
        plain: bytes = self._view[:size]
        return unpad(plain)


# ------------------------------------------------------------------------ invites


Rules = tuple[int, int | None, bool]
"""A group's deciding rules as founded: threshold (percent), quorum (None: more than
half of the members), whether a block vetoes."""
DEFAULT_RULES: Rules = (50, None, True)
INVITE_VERSION = 2
INVITE_CONTEXT = b"ssbmoney-invite-v2"
SIGNATURE_SIZE = 64


class Invite(NamedTuple):
    """What a joiner needs: the group's keys and, signed by the founder's feed key (to
    which the group id commits), its name, currency and rules. URLs are hints, unsigned."""

    keys: GroupKeys
    name: str
    currency: str
    urls: tuple[str, ...]
    rules: Rules = DEFAULT_RULES
    signature: bytes = b""


def invite_statement(group_id: bytes, name: str, currency: str, rules: Rules) -> bytes:
    """The bytes the founder signs: what an invite says about the group."""
    threshold, quorum, block_vetoes = rules
    terms: bytes = msgpack.packb([name, currency, threshold, quorum, block_vetoes])
    return INVITE_CONTEXT + group_id + terms


def sign_invite(founder_secret: bytes, keys: GroupKeys, name: str, currency: str,
                rules: Rules) -> bytes:
    """The founder's detached ed25519 signature (64 bytes) over the group's terms;
    ``founder_secret`` is libsodium's 64-byte secret key of ``keys.founder``."""
    statement = invite_statement(keys.group_id, name, currency, rules)
    signed: bytes = sodium.crypto_sign(statement, founder_secret)
    return signed[:SIGNATURE_SIZE]


def invite_signed(invite: Invite) -> bool:
    """Whether the founder signed this invite's name, currency and rules."""
    if len(invite.signature) != SIGNATURE_SIZE:
        return False
    statement = invite_statement(invite.keys.group_id, invite.name, invite.currency,
                                 invite.rules)
    try:
        sodium.crypto_sign_open(invite.signature + statement, invite.keys.founder)
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_invite(invite: Invite) -> str:
    body = msgpack.packb(
        [INVITE_VERSION, invite.keys.group_id, invite.keys.secret, invite.keys.founder,
         invite.name, invite.currency, list(invite.rules), list(invite.urls),
         invite.signature]
    )
    return INVITE_PREFIX + _b64(body)


def _rules_ok(rules: Any) -> bool:
    if not isinstance(rules, list) or len(rules) != 3:
        return False
    threshold, quorum, block_vetoes = rules
    return (
        type(threshold) is int and 1 <= threshold <= 100
        and (quorum is None or (type(quorum) is int and quorum >= 1))
        and type(block_vetoes) is bool
    )


def decode_invite(code: str) -> Invite:
    """The invite a code carries, its founder's signature checked: a code whose name,
    currency or rules were changed after the founder signed them is refused."""
    code = code.strip()
    if not code.startswith(INVITE_PREFIX):
        raise BadInput(f"not an invite code (it should start with {INVITE_PREFIX!r})")
    version: Any = None
    try:
        fields = msgpack.unpackb(_unb64(code[len(INVITE_PREFIX):]))
        version = fields[0] if isinstance(fields, list) and fields else None
        (version, group_id, secret, founder, name, currency, rules, urls,
         signature) = fields
        ok = (
            version == INVITE_VERSION
            and all(type(x) is bytes and len(x) == 32 for x in (group_id, secret, founder))
            and isinstance(name, str) and isinstance(currency, str)
            and _rules_ok(rules)
            and isinstance(urls, list) and all(isinstance(u, str) for u in urls)
            and type(signature) is bytes
        )
    except (ValueError, TypeError, binascii.Error, msgpack.UnpackException):
        ok = False
    if version == 1:
        raise BadInput("this is an old invite code (version 1) whose group terms cannot be"
                       " checked; ask a member for a new one (`ssbmoney group invite`)")
    if not ok:
        raise BadInput("invite code is damaged or not an ssbmoney invite")
    keys = group_keys(secret, founder)
    if keys.group_id != group_id:
        raise BadInput("invite code is damaged: its key does not match its group id")
    invite = Invite(keys, name, currency, tuple(urls), (rules[0], rules[1], rules[2]),
                    signature)
    if not invite_signed(invite):
        raise BadInput("invite code has been altered: the group's name, currency or rules"
                       " are not what its founder signed")
    return invite


class PubCode(NamedTuple):
    group_id: bytes
    sync_cap: bytes
    founder: bytes


def _pub_check(group_id: bytes, sync_cap: bytes, founder: bytes) -> bytes:
    return derive(b"ssbm-pub-code".ljust(32, b"\0"), b"ssbm-pub-check",
                  group_id + sync_cap + founder)[:4]


def encode_pub_code(keys: GroupKeys) -> str:
    """Version 2 carries a 4-byte check: a code mistyped or cut short is refused
    (version 1 codes are still read)."""
    check = _pub_check(keys.group_id, keys.sync_cap, keys.founder)
    return PUB_CODE_PREFIX + _b64(
        msgpack.packb([2, keys.group_id, keys.sync_cap, keys.founder, check]))


def decode_pub_code(code: str) -> PubCode:
    code = code.strip()
    if code.startswith(INVITE_PREFIX):
        raise BadInput("this is an invite, not a pub code: a pub hosts a group with the code"
                       " `ssbmoney group pub-code` prints (it cannot read the group)")
    if not code.startswith(PUB_CODE_PREFIX):
        raise BadInput(f"not a pub code (it should start with {PUB_CODE_PREFIX!r})")
    ok = False
    try:
        fields = msgpack.unpackb(_unb64(code[len(PUB_CODE_PREFIX):]))
        version, group_id, sync_cap, founder, *rest = fields
        ok = all(type(x) is bytes and len(x) == 32 for x in (group_id, sync_cap, founder)) and (
            (version == 1 and not rest)
            or (version == 2 and rest == [_pub_check(group_id, sync_cap, founder)]))
    except (ValueError, TypeError, binascii.Error, msgpack.UnpackException):
        ok = False
    if not ok:
        raise BadInput("pub code is damaged (mistyped or cut short?) or not an ssbmoney pub"
                       " code; copy it again from `ssbmoney group pub-code`")
    return PubCode(group_id, sync_cap, founder)
