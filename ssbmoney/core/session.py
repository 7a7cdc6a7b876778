"""The authenticated, encrypted session two peers of one group open before syncing.

``Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b`` (``noise.py``), with a pre-shared key
derived from the group's sync capability:

* psk0 mixes the key into message 1, so a peer without it can neither read message 1
  nor produce a message 2 we accept, and learns nothing: not the server's key (sent
  encrypted in message 2), not which feeds exist (nothing is said before both sides
  are authenticated). A server holding several groups tries each group's key on
  message 1; the one whose key opens it is the group of the session.
* each side's static X25519 key is its ed25519 key converted (a member's feed key in
  the group, or a pub's own key), and its first transport message (``Hello``) carries
  that ed25519 key and a signature over the handshake hash: both ends know which key
  they spoke with, bound to this very session.
* ephemeral keys give forward secrecy; every later message is AEAD-sealed with a
  counting nonce, so a replayed, reordered, truncated or altered message fails.
* message 1 carries, encrypted, the sender's clock. The responder refuses a message 1
  whose time is more than ``CLOCK_TOLERANCE_MS`` off its own, or whose ephemeral key
  it has seen (``ReplayCache``), so a recorded message 1 replayed later cannot probe
  whether a server holds a group.

A refusal must not tell a stranger anything either: it is ``REFUSAL_SIZE`` bytes that
are random unless the responder holds the group, in which case they are sealed with a
key only holders of the psk and the initiator's ephemeral key can derive, and say why
(a clock off by how much, a replay). A stranger sees the same-looking bytes either way.

Before message 1, in the clear: ``MAGIC`` and the protocol version, so a peer speaking
another version is told so, naming both.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.bindings as sodium
from nacl.exceptions import CryptoError

from ssbmoney.core.errors import GroupNotShared, HandshakeFailed, PeerRefused, ProtocolError
from ssbmoney.core.keys import derive
from ssbmoney.core.noise import MAX_MESSAGE, CipherState, HandshakeState, NoiseError
from ssbmoney.core.wire import PROTOCOL_VERSION

MAGIC = b"SSBM"
PATTERN = "XXpsk0"
PROLOGUE = b"ssbmoney-sync-v" + bytes([PROTOCOL_VERSION])
CLOCK_TOLERANCE_MS = 15 * 60 * 1000
"""How far apart two peers' clocks may be (either way): 15 minutes."""
REPLAY_CACHE_MAX = 100_000
"""Message-1 keys remembered (only authenticated ones enter; each is forgotten once its
time is out of tolerance, so this bounds memory, not who may connect)."""
REFUSAL_SIZE = 49
"""MAGIC, b"R", then 44 bytes: a random nonce and a sealed reason, or all random."""
VERSION_REFUSAL_SIZE = 7  # MAGIC, b"V", server version, client version
_HEADER = len(MAGIC) + 1
_STAMP = struct.Struct(">Q")
_REASON = struct.Struct(">Bq7x")
REASON_CLOCK, REASON_REPLAY, REASON_BUSY = 1, 2, 3
_BIND_CONTEXT = b"ssbmoney-sync-binding-v1"
MAX_PLAINTEXT = MAX_MESSAGE - 16


def session_psk(sync_cap: bytes) -> bytes:
    return derive(sync_cap, b"ssbm-sync-psk")


def x25519_secret(ed25519_secret: bytes) -> bytes:
    """The X25519 private key of an ed25519 key (libsodium's 64-byte secret)."""
    return bytes(sodium.crypto_sign_ed25519_sk_to_curve25519(ed25519_secret))


def bind(ed25519_secret: bytes, handshake_hash: bytes) -> bytes:
    signed: bytes = sodium.crypto_sign(_BIND_CONTEXT + handshake_hash, ed25519_secret)
    return signed[:64]


def binding_ok(key: bytes, signature: bytes, handshake_hash: bytes,
               remote_static: bytes | None) -> bool:
    """The key signed this session's hash, and is the key the handshake spoke with."""
    try:
        sodium.crypto_sign_open(signature + _BIND_CONTEXT + handshake_hash, key)
        converted = bytes(sodium.crypto_sign_ed25519_pk_to_curve25519(key))
    except (CryptoError, ValueError, TypeError, RuntimeError):
        return False
    return remote_static is not None and converted == remote_static


def _refusal_key(psk: bytes, first: bytes) -> bytes:
    return derive(psk, b"ssbm-refusal", first[_HEADER:_HEADER + 32])


class ReplayCache:
    """Ephemeral keys of message 1s accepted recently, each until its time is out of
    tolerance (after which its clock check refuses it anyway)."""

    def __init__(self, limit: int = REPLAY_CACHE_MAX) -> None:
        self.limit = limit
        self._seen: dict[bytes, int] = {}  # key -> when to forget (ms)

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, key: bytes, now_ms: int) -> int | None:
        """None if the key is new (and is now remembered), else the refusal reason."""
        if len(self._seen) >= self.limit:
            self._seen = {k: t for k, t in self._seen.items() if t > now_ms}
        if key in self._seen:
            return REASON_REPLAY
        if len(self._seen) >= self.limit:
            return REASON_BUSY
        self._seen[key] = now_ms + 2 * CLOCK_TOLERANCE_MS
        return None


@dataclass
class Transport:
    """The session after the handshake: seals our stream, opens the peer's."""

    sender: CipherState
    receiver: CipherState
    handshake_hash: bytes
    remote_static: bytes | None

    def seal(self, data: bytes) -> list[bytes]:
        """Our stream bytes as Noise messages (each at most 65,535 bytes)."""
        return [self.sender.encrypt_with_ad(b"", data[i:i + MAX_PLAINTEXT])
                for i in range(0, len(data), MAX_PLAINTEXT)]

    def open(self, message: bytes) -> bytes:
        if len(message) > MAX_MESSAGE:
            raise ProtocolError(f"peer sent a {len(message)}-byte message; the limit is"
                                f" {MAX_MESSAGE}")
        try:
            return self.receiver.decrypt_with_ad(b"", message)
        except NoiseError:
            raise ProtocolError("a message failed authentication (altered, replayed,"
                                " reordered or cut)") from None


def _split(hs: HandshakeState) -> Transport:
    sender, receiver = hs.split()
    return Transport(sender, receiver, hs.handshake_hash, hs.remote_static)


class Initiator:
    """The side that connects: message 1, then reads 2 and writes 3."""

    def __init__(self, psk: bytes, ed25519_secret: bytes, now_ms: int,
                 ephemeral: bytes | None = None) -> None:
        self.psk = psk
        self._hs = HandshakeState(PATTERN, True, prologue=PROLOGUE,
                                  s=x25519_secret(ed25519_secret), e=ephemeral, psks=[psk])
        self._first = MAGIC + bytes([PROTOCOL_VERSION]) + self._hs.write_message(
            _STAMP.pack(now_ms))

    @property
    def first(self) -> bytes:
        return self._first

    def finish(self, second: bytes) -> tuple[bytes, Transport]:
        """Message 3 and the transport, from the responder's answer (or a typed refusal)."""
        if len(second) == VERSION_REFUSAL_SIZE and second[:_HEADER] == MAGIC + b"V":
            raise PeerRefused(f"the peer speaks sync protocol version {second[5]}; this"
                              f" ssbmoney speaks version {PROTOCOL_VERSION}")
        if len(second) == REFUSAL_SIZE and second[:_HEADER] == MAGIC + b"R":
            raise self._refusal(second[_HEADER:])
        try:
            self._hs.read_message(second)
            third = self._hs.write_message(b"")
        except NoiseError:
            raise HandshakeFailed("the peer's answer failed authentication: it does not"
                                  " hold this group's capability, or it was tampered with"
                                  ) from None
        return third, _split(self._hs)

    def _refusal(self, sealed: bytes) -> PeerRefused:
        try:
            plain = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
                sealed[12:], b"", sealed[:12], _refusal_key(self.psk, self._first))
            reason, skew = _REASON.unpack(plain)
        except (CryptoError, ValueError, struct.error):
            return GroupNotShared("the peer does not share this group (or holds a different"
                                  " capability for it)")
        if reason == REASON_CLOCK:
            minutes = abs(skew) / 60000
            way = "behind" if skew > 0 else "ahead of"
            return PeerRefused(
                f"this machine's clock is {minutes:.0f} minutes {way} the peer's; sessions"
                f" need clocks within {CLOCK_TOLERANCE_MS // 60000} minutes: fix the clock")
        if reason == REASON_BUSY:
            return PeerRefused("the peer is busy; try again in a few minutes")
        return PeerRefused("the peer refused a replayed handshake")


@dataclass
class Candidate:
    """A group a responder can speak for."""

    group: bytes
    psk: bytes
    ed25519_secret: bytes


@dataclass
class Accepted:
    candidate: Candidate
    second: bytes
    handshake: HandshakeState


def _refuse(candidate_psk: bytes | None, first: bytes, reason: int, skew: int) -> bytes:
    if candidate_psk is None:
        return MAGIC + b"R" + os.urandom(REFUSAL_SIZE - _HEADER)
    nonce = os.urandom(12)  # fresh each time: two refusals never repeat a byte pattern
    sealed: bytes = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
        _REASON.pack(reason, skew), b"", nonce, _refusal_key(candidate_psk, first))
    return MAGIC + b"R" + nonce + sealed


class ReplayCaches:
    """One ``ReplayCache`` per group: one group's capability holders cannot fill the
    cache that guards another group's sessions."""

    def __init__(self, limit: int = REPLAY_CACHE_MAX) -> None:
        self.limit = limit
        self._caches: dict[bytes, ReplayCache] = {}

    def __call__(self, group: bytes) -> ReplayCache:
        cache = self._caches.get(group)
        if cache is None:
            cache = self._caches[group] = ReplayCache(self.limit)
        return cache


def respond(first: bytes, candidates: Sequence[Candidate], now_ms: int,
            cache: ReplayCache | ReplayCaches) -> Accepted | bytes:
    """Answer a message 1: message 2 for the group whose key opens it, or the refusal
    to send (and then close)."""
    if first[:len(MAGIC)] != MAGIC or len(first) < _HEADER + 32 + 8 + 16:
        raise HandshakeFailed("not an ssbmoney sync handshake")
    if first[len(MAGIC)] != PROTOCOL_VERSION:
        return MAGIC + b"V" + bytes([PROTOCOL_VERSION, first[len(MAGIC)]])
    body = first[_HEADER:]
    for candidate in candidates:
        hs = HandshakeState(PATTERN, False, prologue=PROLOGUE,
                            s=x25519_secret(candidate.ed25519_secret), psks=[candidate.psk])
        try:
            payload = hs.read_message(body)
        except NoiseError:
            continue
        if len(payload) != _STAMP.size:
            return _refuse(None, first, 0, 0)
        (stamp,) = _STAMP.unpack(payload)
        skew = now_ms - stamp
        if abs(skew) > CLOCK_TOLERANCE_MS:
            return _refuse(candidate.psk, first, REASON_CLOCK, max(-2**62, min(skew, 2**62)))
        group_cache = cache(candidate.group) if isinstance(cache, ReplayCaches) else cache
        reason = group_cache.admit(body[:32], now_ms)
        if reason is not None:
            return _refuse(candidate.psk, first, reason, 0)
        try:
            second = hs.write_message(b"")
        except NoiseError:
            return _refuse(None, first, 0, 0)
        return Accepted(candidate, second, hs)
    return _refuse(None, first, 0, 0)


def finish_response(accepted: Accepted, third: bytes) -> Transport:
    """The transport, from the initiator's message 3."""
    try:
        accepted.handshake.read_message(third)
    except NoiseError:
        raise HandshakeFailed("the peer's third handshake message failed authentication"
                              ) from None
    return _split(accepted.handshake)
