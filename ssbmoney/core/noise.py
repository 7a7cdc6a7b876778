"""The Noise Protocol Framework (revision 34) handshake: bytes in, bytes out.

Why our own: no maintained Python Noise library exists (``noiseprotocol`` is alpha and
unmaintained since 2020), and we need one suite, ``25519_ChaChaPoly_BLAKE2b``, and three
patterns: ``XXpsk0`` for the sync sessions (each side learns the other's static key; the
pre-shared key keeps strangers from even starting), and ``NNpsk0`` and ``KKpsk0``, whose
published cacophony vectors prove the psk and pre-message paths. On libsodium (PyNaCl)
that fits in one sitting's reading, checked byte for byte against ``feeds/noise/``.

Sans-IO, like the rest of ``ssbmoney.core``: the caller moves and frames the bytes. It
fails closed: a message that does not decrypt, a low-order public key, a wrong
pre-shared key or a message out of turn raises :class:`NoiseError`, and once reading a
message has failed the handshake is dead (the spec's "abort"); start a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

__all__ = ["MAX_MESSAGE", "CipherState", "HandshakeState", "NoiseError", "x25519_public"]

MAX_MESSAGE = 65535  # the spec's limit on any Noise message, handshake or transport
SUITE = "25519_ChaChaPoly_BLAKE2b"
DHLEN = 32
HASHLEN = 64
TAGLEN = 16
PSKLEN = 32
_MAX_NONCE = 2**64 - 1  # reserved by the spec (rekey uses it), so never a message nonce


class NoiseError(Exception):
    """Any handshake or transport failure: a bad MAC, a low-order point, a message out of
    turn or too long, a misused key. One type, so the session layer has one thing to
    catch and turn into the user-facing error it means; the message says what, never a
    secret."""


def x25519_public(private: bytes) -> bytes:
    """The X25519 public key of a 32-byte private key (libsodium clamps it)."""
    if len(private) != DHLEN:
        raise NoiseError(f"an X25519 private key is {DHLEN} bytes, not {len(private)}")
    return bytes(sodium.crypto_scalarmult_base(bytes(private)))


def _dh(private: bytes, public: bytes) -> bytes:
    """X25519, refusing an all-zero result: a low-order remote point would make the
    shared secret known to anyone, so the handshake must stop (libsodium already
    refuses it; the second check keeps that true whatever the library does)."""
    try:
        shared = bytes(sodium.crypto_scalarmult(private, public))
    except nacl.exceptions.CryptoError as exc:
        raise NoiseError("the remote public key is a low-order point") from exc
    if hmac.compare_digest(shared, bytes(DHLEN)):
        raise NoiseError("the remote public key is a low-order point")
    return shared


def _hash(data: bytes) -> bytes:
    return hashlib.blake2b(data).digest()


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2b).digest()  # BLOCKLEN 128, as the spec says


def _hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> tuple[bytes, ...]:
    """The spec's HKDF (section 4.3): two or three HASHLEN outputs."""
    temp_key = _hmac(chaining_key, ikm)
    out = [_hmac(temp_key, b"\x01")]
    for i in range(2, outputs + 1):
        out.append(_hmac(temp_key, out[-1] + bytes([i])))
    return tuple(out)


class CipherState:
    """A key and a counting nonce: ChaCha20-Poly1305 (IETF), nonce = 4 zero bytes and the
    counter little-endian. The counter is why a replayed or reordered transport message
    fails: it was sealed under another nonce than the receiver expects next."""

    def __init__(self, key: bytes | None = None, nonce: int = 0) -> None:
        if key is not None and len(key) != 32:
            raise NoiseError(f"a cipher key is 32 bytes, not {len(key)}")
        if not 0 <= nonce <= _MAX_NONCE:
            raise NoiseError("a nonce is a 64-bit counter")
        self._key = None if key is None else bytes(key)
        self.nonce = nonce

    def has_key(self) -> bool:
        return self._key is not None

    def _next(self) -> bytes:
        if self.nonce >= _MAX_NONCE:
            raise NoiseError("the nonce is exhausted; the session must end")
        return _nonce(self.nonce)

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """Seal under the next nonce; without a key (early in a handshake) the spec
        passes the plaintext through unchanged."""
        _limit(len(plaintext) + (TAGLEN if self._key is not None else 0))
        if self._key is None:
            return bytes(plaintext)
        sealed = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
            bytes(plaintext), bytes(ad), self._next(), self._key)
        self.nonce += 1
        return bytes(sealed)

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """Open under the next nonce; the nonce moves only on success, so a forged
        message cannot desynchronise the two sides."""
        _limit(len(ciphertext))
        if self._key is None:
            return bytes(ciphertext)
        if len(ciphertext) < TAGLEN:  # PyNaCl would raise a bare ValueError
            raise NoiseError("a sealed message is shorter than its tag")
        try:
            opened = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
                bytes(ciphertext), bytes(ad), self._next(), self._key)
        except nacl.exceptions.CryptoError as exc:
            raise NoiseError("a message failed authentication (altered, replayed, "
                             "reordered, or under another key)") from exc
        self.nonce += 1
        return bytes(opened)

    def rekey(self) -> None:
        """The spec's default REKEY: the new key is the old one sealing zeros under the
        reserved nonce, so a leaked new key does not open older messages."""
        if self._key is None:
            raise NoiseError("this cipher state has no key")
        self._key = bytes(sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
            bytes(32), b"", _nonce(_MAX_NONCE), self._key))[:32]


def _nonce(n: int) -> bytes:
    return bytes(4) + n.to_bytes(8, "little")


def _limit(length: int) -> None:
    if length > MAX_MESSAGE:
        raise NoiseError(f"a Noise message is at most {MAX_MESSAGE} bytes, not {length}")


class _SymmetricState:
    """The spec's SymmetricState (section 5.2): the chaining key ``ck``, the running
    transcript hash ``h``, and the cipher keyed from ``ck`` as the handshake goes."""

    def __init__(self, protocol_name: bytes) -> None:
        short = len(protocol_name) <= HASHLEN
        self.h = protocol_name.ljust(HASHLEN, b"\0") if short else _hash(protocol_name)
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = _hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        self.h = _hash(self.h + data)

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, temp_k = _hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cipher = CipherState(temp_k[:32])

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        temp_k1, temp_k2 = _hkdf(self.ck, b"", 2)
        return CipherState(temp_k1[:32]), CipherState(temp_k2[:32])


# The patterns we speak, as the spec writes them (section 7): pre-messages (initiator's,
# responder's), then the messages, alternating initiator -> responder -> initiator.
# A psk modifier adds its token to this table when the handshake is set up.
_Tokens = tuple[str, ...]
_PATTERNS: dict[str, tuple[tuple[_Tokens, _Tokens], tuple[_Tokens, ...]]] = {
    "NN": (((), ()), (("e",), ("e", "ee"))),
    "KK": ((("s",), ("s",)), (("e", "es", "ss"), ("e", "ee", "se"))),
    "XX": (((), ()), (("e",), ("e", "ee", "s", "es"), ("s", "se"))),
}
_NAME = re.compile(r"(?:Noise_)?(?P<base>[A-Z]{1,2})(?P<mods>psk[0-9](?:\+psk[0-9])*)?"
                   rf"(?P<suite>_{SUITE})?")


def _parse(pattern: str) -> tuple[str, tuple[_Tokens, _Tokens], list[list[str]]]:
    """``"XXpsk0"`` or ``"Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"`` -> (protocol name,
    pre-messages, messages with the psk tokens in place)."""
    match = _NAME.fullmatch(pattern)
    full = pattern.startswith("Noise_")
    if match is None or match["base"] not in _PATTERNS or full != bool(match["suite"]):
        raise NoiseError(f"unsupported Noise protocol {pattern!r} (we speak "
                         f"{'/'.join(_PATTERNS)} with psk modifiers, {SUITE})")
    pre, shape = _PATTERNS[match["base"]]
    messages = [list(tokens) for tokens in shape]
    mods = match["mods"].split("+") if match["mods"] else []
    for mod in mods:
        n = int(mod[3:])
        if n > len(messages) or mods.count(mod) > 1:
            raise NoiseError(f"{mod} is repeated, or {match['base']} has no message {n}")
        if n == 0:
            messages[0].insert(0, "psk")
        else:
            messages[n - 1].append("psk")
    name = f"Noise_{match['base']}{match['mods'] or ''}_{SUITE}"
    return name, pre, messages


def _key(value: bytes | None, what: str) -> bytes | None:
    if value is not None and len(value) != DHLEN:
        raise NoiseError(f"{what} is a {DHLEN}-byte X25519 key, not {len(value)} bytes")
    return None if value is None else bytes(value)


class HandshakeState:
    """One side of one handshake (section 5.3), driven by the caller: ``write_message``
    on our turn, ``read_message`` on theirs, ``split`` once ``complete``.

    ``e`` fixes the ephemeral key, for test vectors only: reusing an ephemeral key
    across handshakes gives away the session keys. ``handshake_hash`` (a channel binding
    both sides agree on) and ``split`` are there only once the handshake is complete.
    """

    def __init__(self, pattern: str, initiator: bool, *, prologue: bytes = b"",
                 s: bytes | None = None, e: bytes | None = None, rs: bytes | None = None,
                 psks: Sequence[bytes] = ()) -> None:
        name, pre, self._messages = _parse(pattern)
        self._initiator = initiator
        self._psk_mode = any("psk" in tokens for tokens in self._messages)
        if isinstance(psks, bytes | bytearray):  # one key, not a list: refuse, not split
            raise NoiseError("psks is a sequence of pre-shared keys")
        self._psks = [bytes(psk) for psk in psks]
        wanted = sum(tokens.count("psk") for tokens in self._messages)
        if len(self._psks) != wanted:
            raise NoiseError(f"{name} takes {wanted} pre-shared keys, not {len(self._psks)}")
        if any(len(psk) != PSKLEN for psk in self._psks):
            raise NoiseError(f"a pre-shared key is {PSKLEN} bytes")

        self._s, self._rs = _key(s, "s"), _key(rs, "rs")
        self._e = _key(e, "e") or bytes(nacl.utils.random(DHLEN))
        self._re: bytes | None = None
        self._s_public = None if self._s is None else x25519_public(self._s)
        ours = 0 if initiator else 1
        sends_s = "s" in pre[ours] or any("s" in tokens for tokens in self._messages[ours::2])
        if sends_s != (self._s is not None) or ("s" in pre[1 - ours]) != (rs is not None):
            raise NoiseError(f"{name} needs exactly the static keys it uses: "
                             f"s {'required' if sends_s else 'not taken'}, rs "
                             f"{'required' if 's' in pre[1 - ours] else 'not taken'}")
        self._sym = _SymmetricState(name.encode("ascii"))
        self._sym.mix_hash(bytes(prologue))
        for side, tokens in enumerate(pre):  # the initiator's pre-message first (7.1)
            for _s in tokens:  # only "s" occurs in our patterns' pre-messages
                key = self._s_public if side == ours else self._rs
                assert key is not None  # checked just above
                self._sym.mix_hash(key)
        self._index, self._failed, self._split = 0, False, False

    @property
    def complete(self) -> bool:
        return self._index == len(self._messages) and not self._failed

    @property
    def handshake_hash(self) -> bytes:
        """``h`` after the last message: the same on both sides of one handshake."""
        if not self.complete:
            raise NoiseError("the handshake hash exists once the handshake is complete")
        return self._sym.h

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static public key, once known (and authenticated as far as the
        messages so far go); None after a failure."""
        return None if self._failed else self._rs

    @property
    def local_static_public(self) -> bytes | None:
        return self._s_public

    def _turn(self, writing: bool) -> list[str]:
        if self._failed:
            raise NoiseError("this handshake failed; start a new one")
        if self._index == len(self._messages):
            raise NoiseError("the handshake is already complete")
        if writing != ((self._index % 2 == 0) == self._initiator):
            raise NoiseError(f"out of turn: it is our turn to {'read' if writing else 'write'}")
        return self._messages[self._index]

    @contextmanager
    def _fatal(self) -> Iterator[None]:
        """One message's worth of transcript: on success the turn passes; on any failure
        the transcript is half-moved, so the handshake is dead."""
        try:
            yield
        except BaseException:
            self._failed = True
            raise
        self._index += 1

    def _length(self, tokens: list[str], payload: int) -> int:
        """The length of the message we are about to write, so that a too-long payload
        is refused before any state moves."""
        keyed, n = self._sym.cipher.has_key(), 0
        for token in tokens:
            if token == "e":
                n, keyed = n + DHLEN, keyed or self._psk_mode
            elif token == "s":
                n += DHLEN + (TAGLEN if keyed else 0)
            else:
                keyed = True  # every DH token and psk mixes a key
        return n + payload + (TAGLEN if keyed else 0)

    def _mix_dh(self, token: str) -> None:
        """A DH token names the initiator's key, then the responder's (section 7)."""
        mine, theirs = (token[0], token[1]) if self._initiator else (token[1], token[0])
        private = self._e if mine == "e" else self._s
        public = self._re if theirs == "e" else self._rs
        if private is None or public is None:
            raise NoiseError(f"token {token} before its keys are known")
        self._sym.mix_key(_dh(private, public))

    def write_message(self, payload: bytes = b"") -> bytes:
        tokens = self._turn(writing=True)
        _limit(self._length(tokens, len(payload)))
        out = bytearray()
        with self._fatal():
            for token in tokens:
                if token == "e":
                    public = x25519_public(self._e)
                    out += public
                    self._sym.mix_hash(public)
                    if self._psk_mode:
                        self._sym.mix_key(public)
                elif token == "s":
                    assert self._s_public is not None  # checked in __init__
                    out += self._sym.encrypt_and_hash(self._s_public)
                elif token == "psk":
                    self._sym.mix_key_and_hash(self._psks.pop(0))
                else:
                    self._mix_dh(token)
            out += self._sym.encrypt_and_hash(bytes(payload))
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        tokens = self._turn(writing=False)
        rest = bytes(message)
        with self._fatal():
            _limit(len(rest))
            for token in tokens:
                if token == "e":
                    self._re, rest = _take(rest, DHLEN)
                    self._sym.mix_hash(self._re)
                    if self._psk_mode:
                        self._sym.mix_key(self._re)
                elif token == "s":
                    sealed, rest = _take(rest, DHLEN + (TAGLEN if self._sym.cipher.has_key()
                                                        else 0))
                    self._rs = self._sym.decrypt_and_hash(sealed)
                elif token == "psk":
                    self._sym.mix_key_and_hash(self._psks.pop(0))
                else:
                    self._mix_dh(token)
            payload = self._sym.decrypt_and_hash(rest)
        return payload

    def split(self) -> tuple[CipherState, CipherState]:
        """(for sending, for receiving), from this side's point of view. Once only: a
        second pair would start at nonce 0 again and reuse nonces under the same keys."""
        if not self.complete:
            raise NoiseError("split needs a complete handshake")
        if self._split:
            raise NoiseError("split was already called for this handshake")
        self._split = True
        c1, c2 = self._sym.split()
        self._e, self._sym.ck = b"", b""  # nothing below needs them again
        return (c1, c2) if self._initiator else (c2, c1)


def _take(data: bytes, n: int) -> tuple[bytes, bytes]:
    if len(data) < n:
        raise NoiseError("a handshake message is too short")
    return data[:n], data[n:]
