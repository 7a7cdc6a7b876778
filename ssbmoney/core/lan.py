"""Tokens a home announces on the LAN (``serve --lan``), and the UDP beacon carrying one.

An announcement must let members of a group find each other's homes without telling
anyone else anything: not the group, not the member, and nothing that links two
announcements (of one group over time, or of two groups from one home). So the name
announced is a *token*: a fresh random nonce and a MAC over (nonce, ten-minute epoch)
under a key derived from the group's sync capability. Whoever lacks the capability
sees random bytes; a member recomputes the MAC under each of its groups' keys.

The epoch makes a captured token go stale (it is recognised for at most the epochs
around the one it was made in, to absorb clock differences); the nonce makes every
token fresh, so rotating at each epoch change leaves nothing to link the old token to
the new one. A token says nothing else, so it cannot replace the sync handshake: a
replayed token can point a member at the wrong address for a while, and only the
handshake tells a member from a stranger.

Pure: no sockets, no clocks (callers pass ``now_ms``), no randomness (callers pass
the nonce).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Mapping

from ssbmoney.core.keys import derive

EPOCH_MS = 600_000
"""Ten minutes: how long one epoch lasts; tokens are recognised one epoch either side."""
NONCE_LEN = 10
MAC_LEN = 16
KEY_LEN = 32
TOKEN_CHARS = 42
"""Base32 of NONCE_LEN + MAC_LEN = 26 bytes, unpadded: a DNS label (at most 63)."""
_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")
_PERSON = b"ssbm-lan-token"

UDP_MAGIC = b"ssbm-lan\x01"
"""Leads a UDP beacon. It says "ssbmoney", as the mDNS service type does anyway."""
_PORT = struct.Struct(">H")
BEACON_LEN = len(UDP_MAGIC) + TOKEN_CHARS + _PORT.size


def lan_key(sync_cap: bytes) -> bytes:
    """The key a group's tokens are made with: derived, so the capability itself never
    keys anything a stranger can observe, and no other derived key can stand in for it."""
    return derive(sync_cap, b"ssbm-lan")


def _epoch_bytes(epoch: int) -> bytes:
    # Any int encodes (wrapping at 2**64, far past any clock), so recognise never raises.
    return (epoch % (1 << 64)).to_bytes(8, "big")


def _mac(key: bytes, nonce: bytes, epoch: int, port: int) -> bytes:
    h = hashlib.blake2b(nonce + _epoch_bytes(epoch) + (port % 65536).to_bytes(2, "big"),
                        digest_size=MAC_LEN, key=key, person=_PERSON)
    return h.digest()


def make_token(key: bytes, now_ms: int, nonce: bytes, port: int = 0) -> str:
    """The instance name to announce for the group keyed ``key`` at ``now_ms``:
    lowercase unpadded base32 of nonce + MAC, a valid DNS label.

    ``nonce`` must be NONCE_LEN fresh random bytes for each token: a repeated nonce in
    one epoch repeats the token, which links the announcements. The MAC covers the
    port announced with it, so a token replayed with another port is not recognised."""
    if len(key) != KEY_LEN:
        raise ValueError(f"a LAN key is {KEY_LEN} bytes")
    if len(nonce) != NONCE_LEN:
        raise ValueError(f"a token nonce is {NONCE_LEN} bytes")
    return _spell(nonce + _mac(key, nonce, now_ms // EPOCH_MS, port))


def _spell(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def _token_bytes(token: object) -> bytes | None:
    """The nonce + MAC a well-formed token holds, else None (never raises)."""
    if not isinstance(token, str) or len(token) != TOKEN_CHARS:
        return None
    if not _ALPHABET.issuperset(token):
        return None
    try:
        raw = base64.b32decode(token.upper() + "=" * 6)
    except (binascii.Error, ValueError):
        return None
    # Base32 of 26 bytes leaves 2 spare bits in the last character: demand zeroes, so
    # one token has exactly one spelling.
    if len(raw) != NONCE_LEN + MAC_LEN or _spell(raw) != token:
        return None
    return raw


def is_token(token: object) -> bool:
    """Whether ``token`` is spelt as make_token spells one (says nothing of its MAC)."""
    return _token_bytes(token) is not None


def recognise(keys: Mapping[bytes, bytes], token: str, now_ms: int,
              port: int = 0) -> bytes | None:
    """The group id whose LAN key made ``token``, announced with ``port``, in the epoch
    of ``now_ms`` or the one before or after it, else None.

    ``keys`` maps group id to LAN key. Every candidate MAC is computed and compared in
    constant time, whatever matches, so the time taken says nothing about which group
    (if any) a token belongs to. Never raises, whatever ``token`` is."""
    raw = _token_bytes(token)
    if raw is None:
        return None
    nonce, mac = raw[:NONCE_LEN], raw[NONCE_LEN:]
    epoch = now_ms // EPOCH_MS
    found: bytes | None = None
    for group, key in keys.items():
        if len(key) != KEY_LEN:
            continue
        for e in (epoch - 1, epoch, epoch + 1):
            if hmac.compare_digest(_mac(key, nonce, e, port), mac) and found is None:
                found = group
    return found


def txt_record(port: int) -> dict[str, str]:
    """An announcement's TXT record: the port and nothing else."""
    return {"p": str(port)}


def txt_port(properties: Mapping[bytes, bytes | None]) -> int | None:
    """The port in a TXT record, or None for anything else (never raises)."""
    value = properties.get(b"p")
    if not isinstance(value, bytes) or not 0 < len(value) <= 5 or not value.isdigit():
        return None
    port = int(value)
    return port if 0 < port < 65536 else None


def encode_beacon(token: str, port: int) -> bytes:
    """A UDP beacon: magic, token, TCP port (u16 BE). Fixed length, nothing else."""
    if not is_token(token):
        raise ValueError("not a LAN token")
    if not 0 < port < 65536:
        raise ValueError("a port is 1..65535")
    return UDP_MAGIC + token.encode("ascii") + _PORT.pack(port)


def decode_beacon(data: bytes) -> tuple[str, int] | None:
    """(token, port) from a beacon, or None for anything else (never raises)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    data = bytes(data)
    if len(data) != BEACON_LEN or not data.startswith(UDP_MAGIC):
        return None
    body = data[len(UDP_MAGIC):]
    try:
        token = body[:TOKEN_CHARS].decode("ascii")
    except UnicodeDecodeError:
        return None
    (port,) = _PORT.unpack(body[TOKEN_CHARS:])
    if port == 0 or not is_token(token):
        return None
    return token, port
