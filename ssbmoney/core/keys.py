"""Keys: identities, per-group feed keys, and what is derived from a group secret.

Pure functions of seeds, so tests and generated feeds use fixed seeds and get the
same bytes every time. Derivations use BLAKE2b with a distinct personalisation per
purpose, so no derived key can stand in for another.
"""

from __future__ import annotations

from typing import NamedTuple

from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.signing import SigningKey

from ssbmoney.core.entry import feed_id


class KeyPair(NamedTuple):
    """An ed25519 key pair: ``secret`` is libsodium's 64-byte form, for signing."""

    seed: bytes
    public: bytes
    secret: bytes

    @property
    def id(self) -> str:
        return feed_id(self.public)


def keypair(seed: bytes) -> KeyPair:
    if len(seed) != 32:
        raise ValueError("an ed25519 seed is 32 bytes")
    signing = SigningKey(seed)
    return KeyPair(seed, bytes(signing.verify_key), bytes(signing._signing_key))


def derive(secret: bytes, purpose: bytes, context: bytes = b"") -> bytes:
    """A 32-byte key for one purpose (<= 16 bytes) from a secret."""
    return bytes(
        blake2b(context, digest_size=32, key=secret, person=purpose.ljust(16, b"\0"),
                encoder=RawEncoder)
    )


def feed_keypair(identity_seed: bytes, group: bytes) -> KeyPair:
    """A member's own key for one group's feed: unlinkable to other groups' feeds
    without the identity seed, and recoverable from it."""
    return keypair(derive(identity_seed, b"ssbm-feed-key", group))
